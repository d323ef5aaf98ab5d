import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildCli } from '../../src/cli/program.ts';
import { approvedContract, buildWorld, type TestWorld } from '../helpers.ts';

/** `pds templates` and `pds run-template` over a real HTTP server (issue 33 item 4). */
describe('pds run-template', () => {
  let world: TestWorld;
  let server: string;
  let token: string;
  let contractId: string;

  beforeAll(async () => {
    world = await buildWorld();
    await world.server.listen({ port: 0, host: '127.0.0.1' });
    const address = world.server.server.address();
    server = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    token = await world.token('operator', 'org-a');
    contractId = await approvedContract(world, 'org-a');
  }, 120_000);
  afterAll(() => world?.close());

  async function pds(...args: string[]): Promise<{ out: string; code: number }> {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    const before = process.exitCode;
    process.exitCode = undefined;
    try {
      await buildCli()
        .exitOverride()
        .parseAsync(['node', 'pds', ...args, '--server', server, '--token', token]);
      return { out: lines.join('\n'), code: Number(process.exitCode ?? 0) };
    } finally {
      log.mockRestore();
      process.exitCode = before;
    }
  }

  it('lists the templates a contract can run, with their parameters', async () => {
    const { out } = await pds('templates', '--contract', contractId);
    expect(out).toMatch(/^education-in-district {2}某区县各学历人数与平均收入（聚合统计 \(aggregate\)[、）]/m);
    expect(out).toContain('--param district=…  区县（代码）');
    expect(out).not.toContain('insured-by-month');
  });

  it('runs one with --param and --wait until it is released', async () => {
    const run = await pds(
      'run-template',
      contractId,
      'people-with-income-at-least',
      '--param',
      'min_income=50000',
      '--wait',
      '--json',
    );
    expect(run.code).toBe(0);
    const job = JSON.parse(run.out) as { status: string; outputId: string; name: string };
    expect(job).toMatchObject({ status: 'released', name: '模板：年收入不低于某值的居民数（按区县）' });
    expect(job.outputId).toMatch(/^out_/);
  });

  it('a parameter outside its type is refused with its code, naming the parameter', async () => {
    await expect(
      pds('run-template', contractId, 'education-in-district', '--param', "district=南明区' OR 1=1 --"),
    ).rejects.toMatchObject({ code: 'ERR_TEMPLATE_PARAMETER', detail: expect.stringContaining('parameter district') });
  });
});
