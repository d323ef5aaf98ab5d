import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainPath } from '../../src/domain/index.ts';
import type { SandboxLayer } from '../../src/sandbox/index.ts';
import { redTeam, type RedTeam } from './harness.ts';

/**
 * The OS layer on its own (docs/architecture.md §11): with the analysis and engine layers switched
 * off — SQL that skips the analysis, in a DuckDB with external access on — and the disclosure
 * checks off too (so nothing but the OS layer stands between a query and its answer), file,
 * process and network attacks find nothing. Each file attack is run once more with the OS layer
 * off as well, and there it does read its target: the test can fail, and the layer is what holds.
 */

const SECRET = 'pds-os-layer-canary-7f3a9c';
const ONLY_OS: SandboxLayer[] = ['analysis', 'engine', 'disclosure'];
const NOTHING: SandboxLayer[] = ['analysis', 'engine', 'disclosure', 'os'];

let rt: RedTeam;
let keyFile: string;
let otherSnapshot: string;

beforeAll(async () => {
  rt = await redTeam();
  // a key file and another contract's snapshot, both holding the canary
  fs.mkdirSync(path.join(rt.dataDir, 'keys'), { recursive: true, mode: 0o700 });
  keyFile = path.join(rt.dataDir, 'keys', 'issuer.json');
  fs.writeFileSync(keyFile, JSON.stringify({ d: SECRET }), { mode: 0o600 });
  otherSnapshot = path.join(path.dirname(rt.snapshotFile), 'ctr_other-contract.duckdb');
  const db = await DuckDBInstance.create(otherSnapshot);
  const conn = await db.connect();
  await conn.run(`CREATE TABLE secret AS SELECT '${SECRET}' AS s`);
  conn.closeSync();
  db.closeSync();
}, 120_000);
afterAll(() => rt.close());

/** What came back, as one string: rows, or the refusal and the layer that made it. */
async function answer(sql: string, off: SandboxLayer[]): Promise<{ text: string; layer?: string }> {
  const o = await rt.outcome({ mode: 'aggregate', sql, category: 'file' }, off);
  return { text: o.detail, layer: o.layer };
}

/** Each attack, and what in its answer would show it worked. */
const FILE_ATTACKS: [string, () => string, string][] = [
  ['reads a key file', () => `SELECT content FROM read_text('${keyFile}')`, SECRET],
  [
    'reads every file under DATA_DIR/keys',
    () => `SELECT content FROM read_text('${path.join(rt.dataDir, 'keys')}/*')`,
    SECRET,
  ],
  [
    'opens another contract’s snapshot',
    () => `ATTACH '${otherSnapshot}' AS o (READ_ONLY); SELECT s FROM o.secret`,
    SECRET,
  ],
  [
    'lists the snapshots folder',
    () => `SELECT file FROM glob('${path.dirname(rt.snapshotFile)}/*')`,
    '"/tmp/pds-redteam-',
  ],
];

describe('red team, the OS layer alone (analysis, engine and disclosure off)', () => {
  it.each(FILE_ATTACKS)(
    '%s: nothing inside the sandbox; with the OS layer off too, the attack works',
    async (_n, sql, leak) => {
      const confined = await answer(sql(), ONLY_OS);
      expect(confined.text).not.toContain(leak);
      const bare = await answer(sql(), NOTHING);
      expect(bare.text).toContain(leak);
    },
  );

  it('opening a file that is not there inside is refused by the OS layer, and says so', async () => {
    const o = await answer(
      `ATTACH '${domainPath(rt.dataDir)}' AS d (READ_ONLY); SELECT count(*) FROM d.population`,
      ONLY_OS,
    );
    expect(o.layer).toBe('os');
    expect(o.text).toMatch(/ERR_SANDBOX_DENIED: refused by the OS sandbox/);
    const bare = await answer(
      `ATTACH '${domainPath(rt.dataDir)}' AS d (READ_ONLY); SELECT count(*) FROM d.population`,
      NOTHING,
    );
    expect(bare.text).toMatch(/released 1 row/);
  });

  it("sees only its own processes: no other process's environment or command line", async () => {
    const o = await answer(`SELECT filename, content FROM read_text('/proc/*/cmdline')`, ONLY_OS);
    // bubblewrap's init and the runner itself
    const pids = [...o.text.matchAll(/\/proc\/(\d+)\/cmdline/g)].map((m) => Number(m[1]));
    expect(
      pids.every((p) => p <= 4),
      o.text,
    ).toBe(true);
    const environ = await answer(`SELECT content FROM read_text('/proc/${process.pid}/environ')`, ONLY_OS);
    expect(environ.text).toMatch(/released 0 row|ERR_SANDBOX_DENIED/);
    const bare = await answer(`SELECT content FROM read_text('/proc/${process.pid}/environ')`, NOTHING);
    expect(bare.text).toMatch(/released 1 row/);
  });

  it('writes nowhere but its own work directory, which is gone after the run', async () => {
    const target = path.join(rt.dataDir, 'planted.csv');
    const o = await answer(`COPY (SELECT 1) TO '${target}'`, ONLY_OS);
    expect(o.layer).toBe('os');
    expect(fs.existsSync(target)).toBe(false);
  });

  it('reaches no network: an extension install is refused inside', async () => {
    const o = await answer(
      `INSTALL httpfs; LOAD httpfs; SELECT content FROM read_text('http://127.0.0.1:1/')`,
      ONLY_OS,
    );
    expect(o.layer).toBe('os');
  });
});
