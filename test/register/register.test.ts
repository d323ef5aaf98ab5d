/**
 * The public register (seed 003 第三十五条), over real HTTP and without a token: a suspension, a
 * revocation and a withdrawal publish entries, sealed and chained; `pds register export` and
 * `pds verify-register` check a copy offline, and a tampered copy is named at its first bad entry.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createLocalJWKSet } from 'jose';
import { describe, expect, it } from 'vitest';
import { verifyRegister, type RegisterEntry } from '../../src/register/index.ts';
import { approvedContract } from '../helpers.ts';
import { cliWorld, runPds } from '../support/pds.ts';

type Copy = { format: string; head: { seq: number; hash: string; jws: string }; entries: RegisterEntry[] };

const ID_NUMBER = '110101199003071234';

describe('the public register', () => {
  const cli = cliWorld();
  const w = () => cli.world;
  const bureau = () => w().token('bureau', 'org-bureau', 'wang.fang');
  const post = async (url: string, payload: object, token?: string, headers: Record<string, string> = {}) =>
    fetch(`${cli.server}${url}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token ?? (await bureau())}`,
        ...headers,
      },
      body: JSON.stringify(payload),
    });
  /** The register as anyone reads it: no Authorization header. */
  const publicCopy = async (): Promise<Copy> => {
    const res = await fetch(`${cli.server}/v1/register?limit=500`);
    expect(res.status).toBe(200);
    return (await res.json()) as Copy;
  };
  const jwks = async () => createLocalJWKSet(await (await fetch(`${cli.server}/.well-known/jwks.json`)).json());
  let suspended = '';
  let revoked = '';
  let withdrawnUnder = '';

  it('a suspension, a revocation and a withdrawal are published, sealed and chained, readable without a token', async () => {
    suspended = await approvedContract(w(), 'org-a');
    withdrawnUnder = await approvedContract(w(), 'org-b');
    const s = await post(`/v1/contracts/${suspended}/suspend`, {
      reason: 'wang.fang: ticket 114, SELECT * FROM population leaked',
      reasonCategory: 'unauthorised-use',
      statement: '该运营单位超出授权范围使用数据，已暂停授权。',
    });
    expect(s.status).toBe(200);
    expect((await post(`/v1/contracts/${suspended}/revoke`, { reason: 'case 114 closed: revoked' })).status).toBe(200);
    const wd = await post('/v1/datasets/population/withdraw', {
      reason: 'objection by a resident, file 7',
      statement: '因数据权利异议，人口数据集暂停运营。',
    });
    expect(wd.status).toBe(200);

    const copy = await publicCopy();
    expect(copy.entries.map((e) => [e.seq, e.kind, e.contractId ?? null])).toEqual([
      [1, 'suspension', suspended],
      [2, 'revocation', suspended],
      [3, 'suspension', withdrawnUnder],
      [4, 'dataset-withdrawal', null],
    ]);
    expect(copy.entries[0]).toMatchObject({
      operatorOrg: 'org-a',
      scenarioTitle: '区县收入结构',
      datasets: ['population'],
      action: 'suspend',
      reasonCategory: 'unauthorised-use',
      statement: '该运营单位超出授权范围使用数据，已暂停授权。',
    });
    // the reasons default to the policy's: a revocation's breach, a withdrawal's objection
    expect(copy.entries.slice(1).map((e) => e.reasonCategory)).toEqual([
      'breach-of-agreement',
      'objection',
      'objection',
    ]);
    expect(copy.entries[0]!.prev).toBe('0'.repeat(64));
    for (let i = 1; i < copy.entries.length; i++) expect(copy.entries[i]!.prev).toBe(copy.entries[i - 1]!.hash);
    expect(copy.head).toMatchObject({ seq: 4, hash: copy.entries[3]!.hash });
    // never a person, an internal reason or a query
    const text = JSON.stringify(copy);
    for (const secret of ['wang.fang', 'bureau-user', 'ticket 114', 'SELECT', 'case 114', 'resident', 'file 7'])
      expect(text).not.toContain(secret);
    expect(await verifyRegister(copy, await jwks())).toMatchObject({ ok: true, entries: 4, headSeq: 4 });
    const head = await (await fetch(`${cli.server}/v1/register/head`)).json();
    expect(head).toMatchObject({ seq: 4, hash: copy.head.hash });
  });

  it('each published entry leaves an audit entry', async () => {
    const rows = await w().platform.store.all<{ object_id: string }>(
      "SELECT object_id FROM audit_log WHERE action = 'register.published' ORDER BY seq",
    );
    expect(rows.map((r) => r.object_id)).toEqual(['1', '2', '3', '4']);
  });

  it('pds register export and pds verify-register: the copy checks out offline', async () => {
    const file = path.join(cli.world.dataDir, 'register.json');
    const jwksFile = path.join(cli.world.dataDir, 'jwks.json');
    fs.writeFileSync(jwksFile, await (await fetch(`${cli.server}/.well-known/jwks.json`)).text());
    await runPds('register', 'export', '--api', cli.server, '--out', file);
    const ok = await runPds('verify-register', file, '--jwks', jwksFile);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.out).toMatch(/^校验通过：.*4 条公示条目/);
    const json = JSON.parse((await runPds('verify-register', file, '--jwks', jwksFile, '--json')).out);
    expect(json).toMatchObject({ ok: true, entries: 4 });
  });

  describe('a tampered copy is named at its first bad entry', () => {
    const tampered = async (change: (c: Copy) => void) => {
      const copy = structuredClone(await publicCopy());
      change(copy);
      return verifyRegister(copy, await jwks());
    };

    it('a changed field', async () => {
      const r = await tampered((c) => void (c.entries[1]!.operatorOrg = 'org-z'));
      expect(r).toMatchObject({ ok: false, entries: 1, firstBad: { seq: 2, problem: 'hash' } });
    });

    it('a changed field with its hash made again: the seal tells', async () => {
      const { canonicalSha256 } = await import('../../src/digest/index.ts');
      const r = await tampered((c) => {
        const e = c.entries[1]!;
        e.statement = '无';
        const { hash: _h, jws: _j, ...body } = e;
        e.hash = canonicalSha256(body);
      });
      expect(r.firstBad).toMatchObject({ seq: 2, problem: 'signed-content' });
    });

    it('a removed entry', async () => {
      expect((await tampered((c) => void c.entries.splice(1, 1))).firstBad).toMatchObject({
        seq: 2,
        problem: 'sequence',
      });
    });

    it('reordered entries', async () => {
      const r = await tampered((c) => void ([c.entries[1], c.entries[2]] = [c.entries[2]!, c.entries[1]!]));
      expect(r.firstBad).toMatchObject({ seq: 2, problem: 'sequence' });
    });

    it('a bad signature', async () => {
      const r = await tampered((c) => {
        const [h, p, s] = c.entries[2]!.jws.split('.');
        c.entries[2]!.jws = `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`;
      });
      expect(r.firstBad).toMatchObject({ seq: 3, problem: 'signature' });
    });

    it('the last entry cut off: the signed head counts it', async () => {
      const r = await tampered((c) => void c.entries.pop());
      expect(r.firstBad).toMatchObject({ seq: 4, problem: 'sequence' });
    });

    it('pds verify-register exits 1 and says where, in Chinese', async () => {
      const copy = await publicCopy();
      copy.entries[2]!.datasets = ['enterprise'];
      const file = path.join(cli.world.dataDir, 'tampered.json');
      fs.writeFileSync(file, JSON.stringify(copy));
      const jwksFile = path.join(cli.world.dataDir, 'jwks.json');
      const r = await runPds('verify-register', file, '--jwks', jwksFile);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/^校验未通过：.*第 3 条公示条目处内容与其哈希不符/);
      const json = JSON.parse((await runPds('verify-register', file, '--jwks', jwksFile, '--json')).out);
      expect(json).toMatchObject({ ok: false, firstBad: { seq: 3, problem: 'hash' } });
    });
  });

  it('a statement carrying an ID number is refused, in Chinese, and nothing is written', async () => {
    const before = (await publicCopy()).head.seq;
    const res = await post(`/v1/contracts/${withdrawnUnder}/revoke`, {
      reason: 'test',
      statement: `涉事人员身份证号 ${ID_NUMBER}`,
    });
    expect(res.status).toBe(400);
    const problem = await res.json();
    expect(problem.code).toBe('ERR_REGISTER_STATEMENT_PERSONAL');
    expect(problem.detail).toMatch(/身份证号码/);
    const view = await (
      await fetch(`${cli.server}/v1/contracts/${withdrawnUnder}`, {
        headers: { authorization: `Bearer ${await bureau()}` },
      })
    ).json();
    expect(view.status).toBe('suspended');
    expect((await publicCopy()).head.seq).toBe(before);
    const violation = await post('/v1/register/violations', {
      contractId: withdrawnUnder,
      reasonCategory: 'data-leak',
      statement: '联系人 13812345678',
      reason: 'test',
    });
    expect((await violation.json()).code).toBe('ERR_REGISTER_STATEMENT_PERSONAL');
  });

  it('the bureau records a violation: bureau only, idempotent with a key', async () => {
    const body = {
      contractId: withdrawnUnder,
      reasonCategory: 're-identification',
      statement: '该运营单位试图识别特定个人，已记录在案。',
      reason: 'job 123 tried singling out',
    };
    const operator = await w().token('operator', 'org-b');
    expect((await post('/v1/register/violations', body, operator)).status).toBe(403);
    const first = await post('/v1/register/violations', body, undefined, { 'idempotency-key': 'case-9' });
    expect(first.status).toBe(201);
    const { entry } = await first.json();
    expect(entry).toMatchObject({ kind: 'violation', action: 'record-violation', operatorOrg: 'org-b' });
    const again = await (
      await post('/v1/register/violations', body, undefined, { 'idempotency-key': 'case-9' })
    ).json();
    expect(again.entry.seq).toBe(entry.seq);
    const other = await post('/v1/register/violations', { ...body, statement: '另一条说明。' }, undefined, {
      'idempotency-key': 'case-9',
    });
    expect((await other.json()).code).toBe('ERR_IDEMPOTENCY_MISMATCH');
    const copy = await publicCopy();
    expect(copy.head.seq).toBe(entry.seq);
    expect(JSON.stringify(copy)).not.toContain('job 123');
    expect(await verifyRegister(copy, await jwks())).toMatchObject({ ok: true });
  });

  it('a kind the policy does not publish gets no entry; a delayed one holds the chain back until due', async () => {
    const kinds = w().platform.policies.register.kinds;
    const saved = structuredClone(kinds);
    const before = (await publicCopy()).head.seq;
    try {
      kinds.resumption.publish = false;
      kinds.violation.delayHours = 24;
      const violation = await post('/v1/register/violations', {
        contractId: withdrawnUnder,
        reasonCategory: 'breach-of-agreement',
        statement: '违反协议约定，已记录。',
        reason: 'late report',
      });
      expect((await violation.json()).entry.seq).toBe(before + 1);
      // reinstate the dataset so the contract can resume: the resumption is not published
      expect((await post('/v1/datasets/population/reinstate', { reason: 'objection answered' })).status).toBe(200);
      expect((await post(`/v1/contracts/${withdrawnUnder}/resume`, { reason: 'checked' })).status).toBe(200);
      const copy = await publicCopy();
      expect(copy.head.seq).toBe(before);
      expect(copy.entries.at(-1)!.seq).toBe(before);
      expect(await verifyRegister(copy, await jwks())).toMatchObject({ ok: true, entries: before });
      const rows = await w().platform.store.all<{ kind: string }>(
        'SELECT kind FROM register_entries WHERE seq > $1 ORDER BY seq',
        [before],
      );
      expect(rows.map((r) => r.kind)).toEqual(['violation']);
    } finally {
      Object.assign(kinds, saved);
    }
  });

  it('the console shows the register without sign-in, in Chinese', async () => {
    const res = await fetch(`${cli.server}/console/register`);
    expect(res.status).toBe(200);
    const page = await res.text();
    for (const word of ['公示名录', '暂停授权', '撤销授权', '数据集撤回', '超出授权范围使用数据', '名录链头'])
      expect(page).toContain(word);
    expect(page).toContain(suspended);
    const signin = await (await fetch(`${cli.server}/console/signin`)).text();
    expect(signin).toContain('href="/console/register"');
  });
});
