import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { RunSpec } from '../protocol/index.ts';
import { fileHasSha256, rememberSha256 } from '../digest/index.ts';
import { forgetRunners } from '../sandbox/index.ts';

/** Fetches the snapshot of a run the worker holds (GET /v1/worker/snapshots/{sha256}). */
export type SnapshotFetch = (spec: RunSpec) => Promise<Response>;

export interface SnapshotCacheOptions {
  /** The worker's DATA_DIR: `snapshots/` there is used when it holds the file (a shared disk), `cache/snapshots/` otherwise. */
  dataDir: string;
  /** The cache's size; the least recently used snapshots not in use go first. */
  maxBytes: number;
  fetchSnapshot: SnapshotFetch;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** A snapshot ready to run on, held until `release`: eviction never takes a file in use. */
export interface HeldSnapshot {
  file: string;
  release(): void;
}

/**
 * The snapshots a worker runs on (docs/architecture.md §17). On a machine that shares the API's
 * DATA_DIR the file is there; elsewhere it is fetched from the API by its content hash, with the
 * worker's credential, while the worker holds the run's lease, and kept under its hash. Every
 * file is checked against the hash the signed contract pins before a run uses it (fileHasSha256:
 * hashed again whenever it changed): a file changed on this disk is caught, removed and fetched
 * again.
 */
export class SnapshotCache {
  private readonly dir: string;
  private readonly fetching = new Map<string, Promise<string>>();
  private readonly inUse = new Map<string, number>();
  private readonly lastUsed = new Map<string, number>();
  /** Snapshots fetched since the worker started: what the tests and the logs count. */
  fetched = 0;

  constructor(private readonly opts: SnapshotCacheOptions) {
    this.dir = path.join(opts.dataDir, 'cache', 'snapshots');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // fetches a killed worker left half-written
    for (const f of fs.readdirSync(this.dir))
      if (f.includes('.part-')) fs.rmSync(path.join(this.dir, f), { force: true });
  }

  async hold(spec: RunSpec): Promise<HeldSnapshot> {
    const { sha256 } = spec.snapshot;
    const shared = path.join(this.opts.dataDir, 'snapshots', path.basename(spec.snapshot.file));
    const file = (await fileHasSha256(shared, sha256)) ? shared : await this.cached(spec);
    this.inUse.set(file, (this.inUse.get(file) ?? 0) + 1);
    this.lastUsed.set(file, Date.now());
    let released = false;
    return {
      file,
      release: () => {
        if (released) return;
        released = true;
        const n = (this.inUse.get(file) ?? 1) - 1;
        if (n > 0) this.inUse.set(file, n);
        else this.inUse.delete(file);
      },
    };
  }

  private async cached(spec: RunSpec): Promise<string> {
    const { sha256 } = spec.snapshot;
    const file = path.join(this.dir, `${sha256}.duckdb`);
    if (await fileHasSha256(file, sha256)) return file;
    if (fs.existsSync(file)) {
      this.opts.log.error(
        { file, sha256, jobId: spec.jobId },
        'a cached snapshot does not match the hash its contract pins: removed, fetched again',
      );
      this.remove(file);
    }
    let pending = this.fetching.get(sha256);
    if (!pending) {
      pending = this.fetch(spec, file).finally(() => this.fetching.delete(sha256));
      this.fetching.set(sha256, pending);
    }
    return pending;
  }

  private async fetch(spec: RunSpec, file: string): Promise<string> {
    const { sha256 } = spec.snapshot;
    const started = performance.now();
    const res = await this.opts.fetchSnapshot(spec);
    if (!res.ok || !res.body)
      throw new Error(`snapshot ${sha256} for job ${spec.jobId}: the API answered ${res.status}`);
    const part = `${file}.part-${randomBytes(6).toString('hex')}`;
    const hash = createHash('sha256');
    try {
      await pipeline(
        Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            yield chunk;
          }
        },
        fs.createWriteStream(part, { mode: 0o600 }),
      );
      const actual = hash.digest('hex');
      if (actual !== sha256)
        throw new Error(`snapshot for job ${spec.jobId}: fetched ${actual}, the contract pins ${sha256}`);
      fs.chmodSync(part, 0o400);
      fs.renameSync(part, file);
      // hashed as it was written: the next run's check need not read it again
      rememberSha256(file, actual);
    } catch (err) {
      fs.rmSync(part, { force: true });
      throw err;
    }
    this.fetched += 1;
    const bytes = fs.statSync(file).size;
    this.opts.log.info(
      { sha256, contractId: spec.snapshot.contractId, bytes, ms: Math.round(performance.now() - started) },
      'snapshot fetched',
    );
    this.lastUsed.set(file, Date.now());
    this.evict(file);
    return file;
  }

  /** Keeps the cache within its size: least recently used first, never a file in use nor `keep`. */
  private evict(keep: string): void {
    const files = fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.duckdb'))
      .map((f) => path.join(this.dir, f))
      .map((f) => {
        const stat = fs.statSync(f);
        return { f, size: stat.size, used: this.lastUsed.get(f) ?? stat.mtimeMs };
      });
    let total = files.reduce((a, x) => a + x.size, 0);
    for (const x of files.sort((a, b) => a.used - b.used)) {
      if (total <= this.opts.maxBytes) break;
      if (x.f === keep || this.inUse.has(x.f)) continue;
      this.remove(x.f);
      total -= x.size;
      this.opts.log.info({ file: x.f, bytes: x.size }, 'snapshot evicted from the cache');
    }
    if (total > this.opts.maxBytes)
      this.opts.log.warn({ bytes: total, maxBytes: this.opts.maxBytes }, 'the snapshots in use exceed the cache size');
  }

  private remove(file: string): void {
    forgetRunners(file); // a runner kept for the next job holds a link to it
    fs.rmSync(file, { force: true });
    this.lastUsed.delete(file);
  }
}
