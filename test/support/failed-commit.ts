/**
 * A control-store commit that meets a full disk past the free-space check (another process filled
 * the disk meanwhile), in a process of its own: before issue 32 it aborted the process. Run by
 * test/platform/storage-full.test.ts. argv: DATA_DIR (on a small tmpfs), the file to fill it with.
 * Prints one JSON line of what it saw.
 */
import fs from 'node:fs';
import { SYSTEM_ACTOR } from '../../src/audit/index.ts';
import { transition } from '../../src/jobs/index.ts';
import { Store } from '../../src/store/index.ts';

const [dataDir, filler] = process.argv.slice(2) as [string, string];

/** Fills the disk to the last byte. */
function fill(): void {
  const fd = fs.openSync(filler, 'a');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (const size of [chunk.length, 512]) {
      try {
        for (;;) fs.writeSync(fd, chunk, 0, size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

const store = await Store.open(dataDir, { minFreeBytes: 0 });
const reopened: string[] = [];
store.onReopen((reason) => reopened.push(reason));
const at = () => new Date().toISOString();
const system = { actor: SYSTEM_ACTOR };
await store.write((tx) =>
  tx.run(
    `INSERT INTO jobs (id, contract_id, operator_org, submitted_by, sql, status, reasons, created_at)
     VALUES ('job_1', 'ctr_1', 'org-a', 'op@org-a', 'SELECT 1', 'queued', '[]', $1)`,
    [at()],
  ),
);
// an empty WAL: the commit below needs a page of its own
await store.all('CHECKPOINT');
const failOnce = () =>
  store
    .write(async (tx) => {
      await transition(tx, 'job_1', 'claim', { startedAt: at() }, system);
      fill();
    })
    .then(
      () => 'committed',
      (err: { code?: string; message: string }) => err.code ?? err.message,
    )
    .finally(() => fs.rmSync(filler));
const full = await failOnce();
// the same job's next transition: where the abort was
const moved = await store.write((tx) => transition(tx, 'job_1', 'fail', { finishedAt: at(), reasons: [] }, system));
const job = await store.one('SELECT status, attempts FROM jobs WHERE id = $1', ['job_1']);
const reopenedOnce = reopened.length;
// a store that cannot be opened again (its file gone) is failed, never served from or recreated empty
await store.write((tx) => tx.run("UPDATE jobs SET status = 'queued' WHERE id = 'job_1'"));
await store.all('CHECKPOINT');
fs.renameSync(store.file, `${store.file}.aside`);
const gone = await failOnce();
const read = await store.all('SELECT 1').then(
  () => 'read',
  (err: { code?: string }) => err.code,
);
console.log(
  JSON.stringify({
    full,
    reopened: reopenedOnce,
    moved,
    job,
    gone,
    failure: store.failure?.replace(/ after .*/, '') ?? null,
    read,
    recreated: fs.existsSync(store.file),
  }),
);
await store.close();
