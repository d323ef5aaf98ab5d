import { auditAppendSeconds } from '../metrics/index.ts';
import type { JWTVerifyGetKey } from 'jose';
import { listCheckpoints, verifyCheckpoints, type AuditBreak } from './checkpoints.ts';
import { canonicalSha256 } from '../digest/index.ts';
import type { Store, Tx } from '../store/index.ts';

/** Who did something: the authenticated principal, or the system itself (executor, scheduler). */
export interface Actor {
  sub: string;
  role: string;
  org: string;
}

export const SYSTEM_ACTOR: Actor = { sub: 'system', role: 'system', org: 'domain' };

/** One recorded action (seed 003 第三十四条: full-process records; seed 004 第四十九条: traceable). */
export interface AuditEvent {
  actor: Actor;
  action: string;
  objectType: string;
  objectId: string;
  reason?: string | null;
  requestId?: string | null;
  /** Safe facts about the action; never raw rows, identifiers or key material. */
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  role: string;
  org: string;
  action: string;
  objectType: string;
  objectId: string;
  reason: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

type Body = Omit<AuditEntry, 'hash'>;

/** SHA-256 over the RFC 8785 canonical JSON of the entry without its own hash. */
export function entryHash(body: Body): string {
  return canonicalSha256(body);
}

interface AuditRow {
  [k: string]: string | number | null;
  seq: number;
  recorded_at: string;
  actor: string;
  role: string;
  org: string;
  action: string;
  object_type: string;
  object_id: string;
  reason: string | null;
  request_id: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

function fromRow(r: AuditRow): AuditEntry {
  return {
    seq: r.seq,
    at: r.recorded_at,
    actor: r.actor,
    role: r.role,
    org: r.org,
    action: r.action,
    objectType: r.object_type,
    objectId: r.object_id,
    reason: r.reason,
    requestId: r.request_id,
    details: JSON.parse(r.details) as Record<string, unknown>,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * Appends an entry inside the caller's transaction, so the state change and its record commit
 * together or not at all. Each entry carries the previous entry's hash: editing, deleting,
 * inserting or reordering any entry breaks the chain from there on.
 */
export async function appendAudit(tx: Tx, event: AuditEvent, now: Date = new Date()): Promise<AuditEntry> {
  const timer = auditAppendSeconds.startTimer();
  try {
    return await appendEntry(tx, event, now);
  } finally {
    timer();
  }
}

/** The chain's head as the store's writer knows it: kept between transactions (Tx.memo). */
type Head = { seq: number; hash: string } | null;
const HEAD = 'audit.head';
/** Entries appended in one transaction, written in one statement before it commits (Tx.defer). */
const PENDING = new WeakMap<Tx, { entries: AuditEntry[]; stored: boolean }>();

async function appendEntry(tx: Tx, event: AuditEvent, now: Date): Promise<AuditEntry> {
  let head = tx.memo<Head>(HEAD, 'audit_head');
  if (head === undefined) {
    const row = await tx.one<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head');
    head = row ? { seq: Number(row.seq), hash: row.hash } : null;
  }
  const body: Body = {
    seq: (head?.seq ?? 0) + 1,
    at: now.toISOString(),
    actor: event.actor.sub,
    role: event.actor.role,
    org: event.actor.org,
    action: event.action,
    objectType: event.objectType,
    objectId: event.objectId,
    reason: event.reason ?? null,
    requestId: event.requestId ?? null,
    details: event.details ?? {},
    prevHash: head?.hash ?? GENESIS_HASH,
  };
  const entry: AuditEntry = { ...body, hash: entryHash(body) };
  let pending = PENDING.get(tx);
  if (!pending) {
    pending = { entries: [], stored: head !== null };
    PENDING.set(tx, pending);
  }
  pending.entries.push(entry);
  tx.setMemo<Head>(HEAD, 'audit_head', { seq: entry.seq, hash: entry.hash });
  // the log and its head are written once per transaction, before it commits or before any read of them
  tx.defer(HEAD, ['audit_log', 'audit_head'], (inner) => writePending(inner, PENDING.get(tx)!));
  return entry;
}

async function writePending(tx: Tx, pending: { entries: AuditEntry[]; stored: boolean }): Promise<void> {
  const entries = pending.entries.splice(0);
  if (entries.length === 0) return;
  const marks = entries.map((_, i) => `(${Array.from({ length: 13 }, (_, j) => `$${i * 13 + j + 1}`).join(', ')})`);
  await tx.run(
    `INSERT INTO audit_log VALUES ${marks.join(', ')}`,
    entries.flatMap((e) => [
      e.seq,
      e.at,
      e.actor,
      e.role,
      e.org,
      e.action,
      e.objectType,
      e.objectId,
      e.reason,
      e.requestId,
      JSON.stringify(e.details),
      e.prevHash,
      e.hash,
    ]),
    'audit_log',
  );
  const last = entries.at(-1)!;
  await tx.run(
    pending.stored ? 'UPDATE audit_head SET seq = $1, hash = $2' : 'INSERT INTO audit_head VALUES ($1, $2)',
    [last.seq, last.hash],
    'audit_head',
  );
  pending.stored = true;
}

export interface AuditQuery {
  objectId?: string;
  action?: string;
  afterSeq?: number;
  limit?: number;
}

export async function listAudit(store: Store, q: AuditQuery = {}): Promise<AuditEntry[]> {
  const where: string[] = ['seq > $after'];
  const params: Record<string, string | number> = { after: q.afterSeq ?? 0, limit: q.limit ?? 100 };
  if (q.objectId) {
    where.push('object_id = $objectId');
    params.objectId = q.objectId;
  }
  if (q.action) {
    where.push('action = $action');
    params.action = q.action;
  }
  const rows = await store.all<AuditRow>(
    `SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY seq LIMIT $limit`,
    params,
  );
  return rows.map(fromRow);
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  headHash: string;
  /** Signed checkpoints checked (when the bureau's keys were given). */
  checkpoints?: number;
  /** The first entry that does not verify, and why. */
  firstBad?: ChainBreak;
}

/**
 * How the chain or a checkpoint broke, as a code (AUDIT_BREAKS) people read in Chinese
 * (src/terms) and the English `reason` for support; `expectedSeq` when a sequence number is missing.
 */
export interface ChainBreak {
  seq: number;
  code: AuditBreak;
  reason: string;
  expectedSeq?: number;
}

/** The chain rules, fed entries in order: seq without gaps, each naming the previous hash, each hashing to itself. */
class ChainCheck {
  private prev = GENESIS_HASH;
  private expectSeq = 1;
  firstBad: ChainBreak | undefined;

  /** Answers false once an entry breaks the chain; later entries are not judged. */
  feed(e: AuditEntry): boolean {
    if (this.firstBad) return false;
    const { hash, ...body } = e;
    const broken: Omit<ChainBreak, 'seq'> | undefined =
      e.seq !== this.expectSeq
        ? { code: 'seq-gap', reason: `expected seq ${this.expectSeq}`, expectedSeq: this.expectSeq }
        : e.prevHash !== this.prev
          ? { code: 'prev-hash', reason: 'prevHash does not match the previous entry' }
          : entryHash(body) !== hash
            ? { code: 'entry-hash', reason: 'hash does not match the entry content' }
            : undefined;
    if (broken) {
      this.firstBad = { seq: e.seq, ...broken };
      return false;
    }
    this.prev = hash;
    this.expectSeq++;
    return true;
  }

  result(entries: number): AuditVerification {
    return { ok: !this.firstBad, entries, headHash: this.prev, ...(this.firstBad ? { firstBad: this.firstBad } : {}) };
  }
}

/** Checks one ordered run of entries against the chain rules; pure, so it works offline on an export. */
export function verifyEntries(entries: AuditEntry[]): AuditVerification {
  const check = new ChainCheck();
  for (const e of entries) if (!check.feed(e)) break;
  return check.result(entries.length);
}

/** Entries read a page at a time: the log may hold millions, the API's heap need not. */
const PAGE = 5000;

/**
 * Verifies the whole chain in the store and, given the bureau's keys, every signed checkpoint: a
 * cut-off tail or a rewritten chain is found up to the latest checkpoint. Reads the log in pages
 * and keeps only the hashes the checkpoints name.
 */
export async function verifyAudit(
  store: Store,
  verifier?: JWTVerifyGetKey,
  opts: { pageSize?: number } = {},
): Promise<AuditVerification> {
  const pageSize = opts.pageSize ?? PAGE;
  const checkpoints = verifier ? await listCheckpoints(store) : [];
  const signed = new Set(checkpoints.map((c) => c.seq));
  const atCheckpoints: { seq: number; hash: string }[] = [];
  const check = new ChainCheck();
  const total = Number((await store.one<{ n: number }>('SELECT count(*)::BIGINT AS n FROM audit_log'))?.n ?? 0);
  for (let after = 0; ;) {
    const page = (
      await store.all<AuditRow>('SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [after, pageSize])
    ).map(fromRow);
    for (const e of page) {
      if (signed.has(e.seq)) atCheckpoints.push({ seq: e.seq, hash: e.hash });
      check.feed(e);
    }
    if (page.length < pageSize) break;
    after = page.at(-1)!.seq;
  }
  const chain = check.result(total);
  if (!verifier) return chain;
  const bad = await verifyCheckpoints(atCheckpoints, checkpoints, verifier);
  const result = { ...chain, checkpoints: checkpoints.length };
  if (!bad) return result;
  // the earliest problem wins: a chain break before the checkpoint's entry is reported first
  if (chain.firstBad && chain.firstBad.seq <= bad.seq) return { ...result, ok: false };
  return { ...result, ok: false, firstBad: bad };
}

/** Entries and checkpoints as JSON Lines, for an offline copy (`pds audit export`). */
export async function exportAudit(store: Store): Promise<string> {
  const entries = (await store.all<AuditRow>('SELECT * FROM audit_log ORDER BY seq')).map(fromRow);
  const checkpoints = await listCheckpoints(store);
  return (
    [
      ...entries.map((e) => JSON.stringify({ type: 'entry', ...e })),
      ...checkpoints.map((c) => JSON.stringify({ type: 'checkpoint', ...c })),
    ].join('\n') + '\n'
  );
}

/**
 * Records which key each identity signs with, when it differs from what the trail last says: at
 * start-up, and after `pds keys rotate` (run by hand, perhaps while the server holds the store).
 * Answers the identities recorded.
 */
export async function recordKeysInUse(
  store: Store,
  current: Record<string, string>,
  now: Date = new Date(),
): Promise<string[]> {
  return store.write(async (tx) => {
    const changed: string[] = [];
    for (const [name, kid] of Object.entries(current)) {
      const last = await tx.one<{ kid: string | null }>(
        `SELECT json_extract_string(details, '$.kid') AS kid FROM audit_log WHERE action = 'keys.current' AND object_id = $1 ORDER BY seq DESC LIMIT 1`,
        [name],
      );
      if (last?.kid === kid) continue;
      await appendAudit(
        tx,
        {
          actor: SYSTEM_ACTOR,
          action: 'keys.current',
          objectType: 'key',
          objectId: name,
          reason: last ? 'the key was rotated' : 'first recorded',
          details: { kid, previous: last?.kid ?? null },
        },
        now,
      );
      changed.push(name);
    }
    return changed;
  });
}

export {
  AUDIT_BREAKS,
  CHECKPOINT_TYP,
  listCheckpoints,
  maybeCheckpoint,
  verifyCheckpoints,
  type AuditBreak,
  type Checkpoint,
} from './checkpoints.ts';
