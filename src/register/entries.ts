import { appendAudit, type Actor } from '../audit/index.ts';
import { canonicalSha256 } from '../digest/index.ts';
import { PdsError } from '../errors/index.ts';
import { BUREAU_ISSUER, seal, type KeyRing } from '../keys/index.ts';
import type { ReasonCategory, RegisterField, RegisterKind, RegisterPolicy } from '../policies/index.ts';
import type { Row, Tx } from '../store/index.ts';
import { assertPublishable } from './statement.ts';

/**
 * Entries of the public register (seed 003 第三十五条: 限制或者关闭 … 并予以公布): each one a
 * canonical JSON body that carries its `seq` and the previous entry's hash (`prev`; the first
 * entry's is 64 zeros), its SHA-256 (`hash`), and the bureau's seal over the body (`jws`). An
 * entry is written in the transaction of the measure it publishes: both commit, or neither.
 */

export const REGISTER_ENTRY_TYP = 'pds-register-entry+jwt';
export const REGISTER_HEAD_TYP = 'pds-register-head+jwt';
export const REGISTER_GENESIS = '0'.repeat(64);
/** The one form of a register copy: `GET /v1/register` pages and `pds register export` both answer it. */
export const REGISTER_FORMAT = 'pds-register/1';

/** What a measure did, in the register's words (machine values). */
export type RegisterAction = 'suspend' | 'resume' | 'revoke' | 'withdraw-dataset' | 'restrict' | 'record-violation';

/** The public facts of a measure: none of them names a person or holds a query. */
export interface PublicFields {
  contractId?: string;
  /** The licensed operating company, never a person. */
  operatorOrg?: string;
  scenarioTitle?: string;
  datasets?: string[];
  action?: RegisterAction;
  effectiveAt?: string;
  reasonCategory?: ReasonCategory;
  /** Written by the bureau for publication; never the internal reason. */
  statement?: string;
}

/** What is hashed and sealed: the entry without its hash and seal. */
export interface RegisterBody extends PublicFields {
  seq: number;
  prev: string;
  kind: RegisterKind;
  recordedAt: string;
  /** From then on the entry is public (recordedAt plus the policy's delay for its kind). */
  publishedAt: string;
}

export interface RegisterEntry extends RegisterBody {
  hash: string;
  jws: string;
}

/** A measure to publish: its kind, and every public fact the policy may choose from. */
export interface Measure {
  kind: RegisterKind;
  action: RegisterAction;
  effectiveAt: string;
  contractId?: string;
  operatorOrg?: string;
  scenarioTitle?: string;
  datasets?: string[];
  reasonCategory?: ReasonCategory;
  statement?: string;
}

/** What the one who takes a measure says for the register: a reason category, a public statement. */
export interface Notice {
  reasonCategory?: ReasonCategory;
  statement?: string;
}

/** Who took the measure (for the audit trail only, never the register) and the request. */
export interface PublishContext {
  actor: Actor;
  requestId?: string;
  /** A recorded violation's Idempotency-Key and the hash of its request, kept with its entry (see `replayed`). */
  idempotency?: { key: string; requestSha256: string };
}

/** The body of a stored entry, with its hash and seal. */
export function entryFromRow(r: Row): RegisterEntry {
  return { ...(JSON.parse(String(r.body)) as RegisterBody), hash: String(r.entry_hash), jws: String(r.jws) };
}

/** The body an entry was hashed and sealed over: everything but its hash and seal. */
export function bodyOf(entry: Record<string, unknown>): Record<string, unknown> {
  const { hash: _h, jws: _j, ...body } = entry;
  return body;
}

/** The public fields the policy lists, the reason defaulted to the kind's. */
function publicFields(m: Measure, policy: RegisterPolicy): PublicFields {
  const all: PublicFields = {
    contractId: m.contractId,
    operatorOrg: m.operatorOrg,
    scenarioTitle: m.scenarioTitle,
    datasets: m.datasets,
    action: m.action,
    effectiveAt: m.effectiveAt,
    reasonCategory: m.reasonCategory ?? policy.kinds[m.kind].defaultReason,
    statement: m.statement,
  };
  const shown: Record<string, unknown> = {};
  for (const f of policy.fields as RegisterField[]) if (all[f] !== undefined) shown[f] = all[f];
  return shown as PublicFields;
}

/**
 * Appends the entry for `m` inside the caller's transaction, with its audit entry, when the policy
 * publishes its kind; undefined when it does not. A statement carrying a person's identifier or a
 * query is refused (ERR_REGISTER_STATEMENT_PERSONAL) and rolls the measure back with it.
 */
export async function appendEntry(
  tx: Tx,
  deps: { keys: KeyRing; policy: RegisterPolicy; now: Date },
  m: Measure,
  ctx: PublishContext,
): Promise<RegisterEntry | undefined> {
  if (m.statement !== undefined) assertPublishable(m.statement);
  const rule = deps.policy.kinds[m.kind];
  if (!rule.publish) return undefined;
  const head = await tx.one<{ seq: number; entry_hash: string }>(
    'SELECT seq, entry_hash FROM register_entries ORDER BY seq DESC LIMIT 1',
  );
  const body: RegisterBody = {
    seq: Number(head?.seq ?? 0) + 1,
    prev: head?.entry_hash ?? REGISTER_GENESIS,
    kind: m.kind,
    recordedAt: deps.now.toISOString(),
    publishedAt: new Date(Date.parse(m.effectiveAt) + rule.delayHours * 3_600_000).toISOString(),
    ...publicFields(m, deps.policy),
  };
  const hash = canonicalSha256(body);
  const jws = await seal(
    deps.keys.bureau,
    { ...body },
    {
      typ: REGISTER_ENTRY_TYP,
      issuer: BUREAU_ISSUER,
      issuedAt: Math.floor(deps.now.getTime() / 1000),
    },
  );
  await tx.run(
    `INSERT INTO register_entries (seq, kind, recorded_at, published_at, contract_id, operator_org, scenario_title,
       datasets, action, effective_at, reason_category, statement, body, prev_hash, entry_hash, jws, idempotency_key,
       request_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
    [
      body.seq,
      body.kind,
      body.recordedAt,
      body.publishedAt,
      body.contractId ?? null,
      body.operatorOrg ?? null,
      body.scenarioTitle ?? null,
      body.datasets ? JSON.stringify(body.datasets) : null,
      body.action ?? null,
      body.effectiveAt ?? null,
      body.reasonCategory ?? null,
      body.statement ?? null,
      JSON.stringify(body),
      body.prev,
      hash,
      jws,
      ctx.idempotency?.key ?? null,
      ctx.idempotency?.requestSha256 ?? null,
    ],
  );
  await appendAudit(
    tx,
    {
      actor: ctx.actor,
      action: 'register.published',
      objectType: 'register-entry',
      objectId: String(body.seq),
      requestId: ctx.requestId,
      details: { kind: body.kind, hash, publishedAt: body.publishedAt, contractId: m.contractId ?? null },
    },
    deps.now,
  );
  return { ...body, hash, jws };
}

/** The entry an earlier request with this Idempotency-Key made; refused when that request was another. */
export async function replayed(
  tx: Tx,
  idem: { key: string; requestSha256: string },
): Promise<RegisterEntry | undefined> {
  const prior = await tx.one('SELECT * FROM register_entries WHERE idempotency_key = $1', [idem.key]);
  if (!prior) return undefined;
  if (prior.request_sha256 !== idem.requestSha256)
    throw new PdsError(
      'ERR_IDEMPOTENCY_MISMATCH',
      `Idempotency-Key ${idem.key} was first used for a different record (register entry ${String(prior.seq)})`,
    );
  return entryFromRow(prior);
}
