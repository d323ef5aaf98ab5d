import { describe, expect, it } from 'vitest';
import { DEMO_STEPS, runSteps, StepFailed, type DemoContext, type DemoStep } from '../../src/cli/demo/index.ts';

/** Issue 34: `pds demo` is a list of named steps, run by one loop that names the one that fails. */

function fakeContext(json = false): { ctx: DemoContext; lines: string[] } {
  const lines: string[] = [];
  // the loop reads only these; the steps under test touch nothing else
  const ctx = {
    opts: { rows: 1, json },
    summary: { ok: false, dataDir: '/nowhere', elapsedMs: 0 },
    print: (line: string) => lines.push(line),
    flow: {},
  } as unknown as DemoContext;
  return { ctx, lines };
}

describe('the demo’s steps', () => {
  it('each has a Chinese name of its own', () => {
    const names = DEMO_STEPS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/[\u3400-\u9fff]/);
    expect(names).toEqual(expect.arrayContaining(['提交分析查询并等待结果', '校验审计链']));
  });

  it('runs the steps that apply under [i/n] with their time, and stops at the first that fails, naming it', async () => {
    const ran: string[] = [];
    const step = (name: string, run: () => void, when?: () => boolean): DemoStep => ({
      name,
      ...(when ? { when } : {}),
      run: async () => {
        ran.push(name);
        run();
      },
    });
    const { ctx, lines } = fakeContext();
    await runSteps(ctx, [
      step('准备', () => undefined),
      step(
        '跳过的步骤',
        () => undefined,
        () => false,
      ),
      step('提交查询', () => {
        throw new StepFailed('作业未发布');
      }),
      step('之后的步骤', () => undefined),
    ]);
    expect(ran).toEqual(['准备', '提交查询']);
    expect(lines[0]).toBe('[1/3] 准备…');
    expect(lines[1]).toMatch(/^ {8}用时 \d+\.\d 秒$/);
    expect(lines[2]).toBe('[2/3] 提交查询…');
    expect(lines[3]).toBe('✗ [2/3] 提交查询 失败：作业未发布');
    expect(ctx.summary).toMatchObject({ ok: false, failedStep: '提交查询：作业未发布' });
  });

  it('names the step of an unexpected error too, with its stack; --json prints no step lines', async () => {
    const { ctx, lines } = fakeContext(true);
    await runSteps(ctx, [
      {
        name: '启动服务器',
        run: () => Promise.reject(new Error('listen EADDRINUSE')),
      },
    ]);
    expect(lines).toEqual([]);
    expect(ctx.summary.failedStep).toMatch(/^启动服务器：Error: listen EADDRINUSE\n\s+at /);
  });

  it('passes only when every check the steps record came out right', async () => {
    const { ctx } = fakeContext(true);
    const record: DemoStep = {
      name: '记录结果',
      run: async (c) => {
        Object.assign(c.summary, {
          contractVerified: true,
          manifestVerified: true,
          escapeAttemptRefused: true,
          lifecycleChecked: true,
          auditVerified: true,
          reportVerified: false,
        });
      },
    };
    await runSteps(ctx, [record]);
    expect(ctx.summary.ok).toBe(false);
    ctx.summary.reportVerified = true;
    await runSteps(ctx, [{ name: '无事', run: async () => undefined }]);
    expect(ctx.summary.ok).toBe(true);
  });
});
