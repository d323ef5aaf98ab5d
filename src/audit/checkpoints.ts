import type { JWTVerifyGetKey } from 'jose';
import { Type } from 'typebox';
import { BUREAU_ISSUER, openSealed, seal, type SigningKey } from '../keys/index.ts';
import type { Store } from '../store/index.ts';

/**
 * Signed checkpoints of the audit chain (seed 003 第三十四条, seed 004 第四十九条): every N entries
 * and at least daily, the bureau key signs the head of the chain (its seq and hash). A hash chain
 * alone cannot show that its *last* entries were cut off or that the whole chain was rewritten by
 * someone with store access; a signed head can, up to the latest checkpoint.
 */

export const CHECKPOINT_TYP = 'pds-audit-checkpoint+jwt';

export interface Checkpoint {
  seq: number;
  headHash: string;
  jws: string;
  reason: 'entries' | 'daily';
  createdAt: string;
}

export async function listCheckpoints(store: Pick<Store, 'all'>): Promise<Checkpoint[]> {
  const rows = await store.all<{ seq: number; head_hash: string; jws: string; reason: string; created_at: string }>(
    'SELECT * FROM audit_checkpoints ORDER BY seq',
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    headHash: r.head_hash,
    jws: r.jws,
    reason: r.reason as Checkpoint['reason'],
    createdAt: r.created_at,
  }));
}

/** Signs the current head when N entries have passed since the last checkpoint, or a day has. */
export async function maybeCheckpoint(
  store: Store,
  key: SigningKey,
  opts: { everyEntries: number; everyMs: number; now?: Date },
): Promise<Checkpoint | undefined> {
  const now = opts.now ?? new Date();
  return store.write(async (tx) => {
    const head = await tx.one<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
    );
    if (!head) return undefined;
    const last = await tx.one<{ seq: number; created_at: string }>(
      'SELECT seq, created_at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1',
    );
    const since = Number(head.seq) - Number(last?.seq ?? 0);
    if (since <= 0) return undefined;
    const reason =
      since >= opts.everyEntries
        ? 'entries'
        : !last || now.getTime() - Date.parse(last.created_at) >= opts.everyMs
          ? 'daily'
          : undefined;
    if (!reason) return undefined;
    const jws = await seal(
      key,
      { seq: Number(head.seq), headHash: head.hash },
      { typ: CHECKPOINT_TYP, issuer: BUREAU_ISSUER, issuedAt: Math.floor(now.getTime() / 1000) },
    );
    const cp: Checkpoint = { seq: Number(head.seq), headHash: head.hash, jws, reason, createdAt: now.toISOString() };
    await tx.run(
      'INSERT INTO audit_checkpoints (seq, head_hash, jws, reason, created_at) VALUES ($1, $2, $3, $4, $5)',
      [cp.seq, cp.headHash, cp.jws, cp.reason, cp.createdAt],
      'audit_checkpoints',
    );
    return cp;
  });
}

const CheckpointClaims = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  headHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
});

/** The ways the audit trail can fail verification: the chain's rules, then the signed checkpoints'. */
export const AUDIT_BREAKS = [
  'seq-gap',
  'prev-hash',
  'entry-hash',
  'checkpoint-signature',
  'checkpoint-mismatch',
  'entry-missing',
  'entry-rewritten',
] as const;
export type AuditBreak = (typeof AUDIT_BREAKS)[number];

/**
 * Checks each checkpoint's signature and that the chain still holds the entry it signed, with the
 * same hash. Answers the first problem, naming the entry.
 */
export async function verifyCheckpoints(
  entries: { seq: number; hash: string }[],
  checkpoints: Checkpoint[],
  verifier: JWTVerifyGetKey,
): Promise<{ seq: number; code: AuditBreak; reason: string } | undefined> {
  const bySeq = new Map(entries.map((e) => [e.seq, e.hash]));
  for (const cp of checkpoints) {
    let claims: { seq: number; headHash: string };
    try {
      claims = await openSealed<{ seq: number; headHash: string }>(cp.jws, verifier, CheckpointClaims, {
        issuer: BUREAU_ISSUER,
        typ: CHECKPOINT_TYP,
      });
    } catch {
      return {
        seq: cp.seq,
        code: 'checkpoint-signature',
        reason: `checkpoint at entry ${cp.seq} has no valid bureau signature`,
      };
    }
    if (claims.seq !== cp.seq || claims.headHash !== cp.headHash)
      return {
        seq: cp.seq,
        code: 'checkpoint-mismatch',
        reason: `checkpoint at entry ${cp.seq} does not match what was signed`,
      };
    const hash = bySeq.get(cp.seq);
    if (hash === undefined)
      return {
        seq: cp.seq,
        code: 'entry-missing',
        reason: `entry ${cp.seq}, signed by a checkpoint, is missing: the log was cut`,
      };
    if (hash !== cp.headHash)
      return {
        seq: cp.seq,
        code: 'entry-rewritten',
        reason: `entry ${cp.seq} is not the one its checkpoint signed: the log was rewritten`,
      };
  }
  return undefined;
}
