import type { JWTVerifyGetKey } from 'jose';
import { Type } from 'typebox';
import { canonicalSha256 } from '../digest/index.ts';
import { PdsError } from '../errors/index.ts';
import { BUREAU_ISSUER, openSealed } from '../keys/index.ts';
import { bodyOf, REGISTER_ENTRY_TYP, REGISTER_FORMAT, REGISTER_GENESIS, REGISTER_HEAD_TYP } from './entries.ts';

/**
 * Offline verification of a register copy (`pds verify-register`): every entry's seal against the
 * bureau's public keys, its hash, the chain from the first entry, and the signed head. A copy that
 * was edited, cut, reordered or re-signed by anyone but the bureau is named at its first bad entry.
 */

/** What is wrong at the first bad place. */
export type RegisterProblem =
  | 'sequence' // an entry is missing, or out of order
  | 'chain' // prev is not the hash of the entry before
  | 'hash' // the entry's hash is not the SHA-256 of its body
  | 'signature' // the seal does not verify against the bureau's keys
  | 'signed-content' // the seal holds, over a body other than the one shown
  | 'head'; // the signed head does not verify or names another end of the chain

export interface RegisterCheck {
  ok: boolean;
  /** Entries that checked out before the first bad one (all of them when ok). */
  entries: number;
  headSeq: number | null;
  headHash: string | null;
  firstBad?: { seq: number; problem: RegisterProblem; detail: string };
}

/** Claims of the signed head: how many entries, and the last one's hash. */
const HeadClaims = Type.Object({ seq: Type.Integer({ minimum: 0 }), hash: Type.String() });
/** An entry's seal is checked for its own seq; the rest of its body is compared whole. */
const EntryClaims = Type.Object({ seq: Type.Integer({ minimum: 1 }) });

/** The JWT claims the seal adds to the body (issuer, issued-at). */
function withoutSealClaims(payload: Record<string, unknown>): Record<string, unknown> {
  const { iss: _i, iat: _t, ...rest } = payload;
  return rest;
}

type Entry = Record<string, unknown>;

/** The first problem of one entry at position `expected` (1-based), given the hash before it. */
async function entryProblem(
  e: Entry,
  expected: number,
  prev: string,
  keys: JWTVerifyGetKey,
): Promise<[RegisterProblem, string] | undefined> {
  if (e.seq !== expected)
    return ['sequence', `expected entry ${expected} here, found ${JSON.stringify(e.seq ?? null)}`];
  if (e.prev !== prev) return ['chain', `prev ${String(e.prev)} is not the hash of entry ${expected - 1} (${prev})`];
  const body = bodyOf(e);
  const hash = canonicalSha256(body);
  if (e.hash !== hash) return ['hash', `the body hashes to ${hash}, the entry says ${String(e.hash)}`];
  let payload: Record<string, unknown>;
  try {
    payload = await openSealed(String(e.jws), keys, EntryClaims, { typ: REGISTER_ENTRY_TYP, issuer: BUREAU_ISSUER });
  } catch (err) {
    return ['signature', `the seal does not verify: ${(err as Error).message}`];
  }
  if (canonicalSha256(withoutSealClaims(payload)) !== hash)
    return ['signed-content', 'the bureau sealed a different body for this entry'];
  return undefined;
}

/** The head's problem, given the end of the chain the entries reached. */
async function headProblem(
  head: Entry,
  last: { seq: number; hash: string },
  keys: JWTVerifyGetKey,
): Promise<{ seq: number; problem: RegisterProblem; detail: string } | undefined> {
  let claims: { seq: number; hash: string };
  try {
    claims = await openSealed(String(head.jws), keys, HeadClaims, { typ: REGISTER_HEAD_TYP, issuer: BUREAU_ISSUER });
  } catch (err) {
    return { seq: last.seq, problem: 'head', detail: `the head's seal does not verify: ${(err as Error).message}` };
  }
  if (claims.seq !== head.seq || claims.hash !== head.hash)
    return { seq: last.seq, problem: 'head', detail: 'the head shown is not the head the bureau sealed' };
  if (claims.seq > last.seq)
    return {
      seq: last.seq + 1,
      problem: 'sequence',
      detail: `the signed head counts ${claims.seq} entries; the copy ends at ${last.seq}`,
    };
  if (claims.seq < last.seq || claims.hash !== last.hash)
    return {
      seq: claims.seq,
      problem: 'head',
      detail: `the signed head (entry ${claims.seq}, ${claims.hash}) is not the copy's last entry (${last.seq}, ${last.hash})`,
    };
  return undefined;
}

/** Verifies a register copy (REGISTER_FORMAT) against the bureau's keys; a copy not of that form is ERR_REGISTER_INVALID. */
export async function verifyRegister(copy: unknown, keys: JWTVerifyGetKey): Promise<RegisterCheck> {
  const c = copy as { format?: unknown; head?: Entry; entries?: unknown };
  if (!c || typeof c !== 'object' || c.format !== REGISTER_FORMAT || !Array.isArray(c.entries) || !c.head)
    throw new PdsError(
      'ERR_REGISTER_INVALID',
      `not a register copy: expected {format: "${REGISTER_FORMAT}", head, entries} (pds register export, GET /v1/register)`,
    );
  const head = c.head;
  const headOf = { headSeq: Number(head.seq ?? 0), headHash: String(head.hash ?? '') };
  let last = { seq: 0, hash: REGISTER_GENESIS };
  for (const [i, e] of (c.entries as Entry[]).entries()) {
    const problem = await entryProblem(e && typeof e === 'object' ? e : {}, i + 1, last.hash, keys);
    if (problem)
      return { ok: false, entries: i, ...headOf, firstBad: { seq: i + 1, problem: problem[0], detail: problem[1] } };
    last = { seq: i + 1, hash: String(e.hash) };
  }
  const bad = await headProblem(head, last, keys);
  return bad ? { ok: false, entries: last.seq, ...headOf, firstBad: bad } : { ok: true, entries: last.seq, ...headOf };
}
