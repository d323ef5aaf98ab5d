import { appendAudit } from '../audit/index.ts';
import { canonicalSha256 } from '../digest/index.ts';
import { PdsError } from '../errors/index.ts';
import { BUREAU_ISSUER, seal, type KeyRing } from '../keys/index.ts';
import type { Policies, ReasonCategory } from '../policies/index.ts';
import type { Store, Tx } from '../store/index.ts';
import {
  appendEntry,
  entryFromRow,
  REGISTER_FORMAT,
  REGISTER_GENESIS,
  REGISTER_HEAD_TYP,
  type Measure,
  type PublishContext,
  replayed,
  type RegisterEntry,
} from './entries.ts';
import { assertPublishable } from './statement.ts';

/** The most entries one page of `GET /v1/register` answers. */
export const REGISTER_PAGE_MAX = 500;

/** The signed head: how many entries are public, and the last one's hash, sealed when it was read. */
export interface RegisterHead {
  seq: number;
  hash: string;
  signedAt: string;
  jws: string;
}

/** A page of the register, in the form of a copy (REGISTER_FORMAT); `next` is the `after` of the next page. */
export interface RegisterPage {
  format: typeof REGISTER_FORMAT;
  head: RegisterHead;
  entries: RegisterEntry[];
  next: number | null;
}

/** The company and scenario a recorded violation concerns, as the caller read them from its signed contract. */
export interface ContractFacts {
  contractId: string;
  operatorOrg: string;
  scenarioTitle: string;
  datasets: string[];
}

export interface ViolationInput {
  kind: 'violation' | 'restriction';
  reasonCategory: ReasonCategory;
  statement: string;
  /** The internal reason: the audit trail keeps it, the register never shows it. */
  reason: string;
}

/**
 * The public register (seed 003 第三十五条): the bureau's measures — restrictions, suspensions,
 * resumptions, revocations, dataset withdrawals and recorded violations — as policies/register.yaml
 * says, readable by anyone without sign-in. Entries are written by the measures themselves
 * (`publish`, in their transaction); reading shows the entries whose delay has passed, up to the
 * first still waiting, so every reader sees a chain unbroken from the first entry.
 */
export class RegisterService {
  private readonly now: () => Date;

  constructor(private readonly deps: { store: Store; keys: KeyRing; policies: Policies; now?: () => Date }) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Appends the entry of a measure inside its transaction (see appendEntry); undefined when the policy publishes none of its kind. */
  publish(tx: Tx, m: Measure, ctx: PublishContext): Promise<RegisterEntry | undefined> {
    return appendEntry(tx, { keys: this.deps.keys, policy: this.deps.policies.register, now: this.now() }, m, ctx);
  }

  /** Refuses a statement before any work starts (the measure's transaction checks it again). */
  checkStatement(statement: string | undefined): void {
    if (statement !== undefined) assertPublishable(statement);
  }

  /** The last public seq: the one before the first entry whose delay has not passed. */
  private async lastPublic(): Promise<number> {
    const row = await this.deps.store.one<{ waiting: number | null; last: number | null }>(
      `SELECT (SELECT min(seq) FROM register_entries WHERE published_at > $1) AS waiting,
              (SELECT max(seq) FROM register_entries) AS last`,
      [this.now().toISOString()],
    );
    return row?.waiting != null ? Number(row.waiting) - 1 : Number(row?.last ?? 0);
  }

  /** The public head, sealed now. */
  async head(): Promise<RegisterHead> {
    const seq = await this.lastPublic();
    const row =
      seq > 0
        ? await this.deps.store.one<{ entry_hash: string }>('SELECT entry_hash FROM register_entries WHERE seq = $1', [
            seq,
          ])
        : undefined;
    const hash = row?.entry_hash ?? REGISTER_GENESIS;
    const now = this.now();
    const jws = await seal(
      this.deps.keys.bureau,
      { seq, hash },
      { typ: REGISTER_HEAD_TYP, issuer: BUREAU_ISSUER, issuedAt: Math.floor(now.getTime() / 1000) },
    );
    return { seq, hash, signedAt: now.toISOString(), jws };
  }

  /** Public entries after `after`, at most `limit` (≤ REGISTER_PAGE_MAX), with the signed head. */
  async page(q: { after?: number; limit?: number } = {}): Promise<RegisterPage> {
    const limit = Math.min(q.limit ?? 100, REGISTER_PAGE_MAX);
    const after = q.after ?? 0;
    const head = await this.head();
    const rows = await this.deps.store.all(
      'SELECT seq, body, entry_hash, jws FROM register_entries WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3',
      [after, head.seq, limit],
    );
    const entries = rows.map(entryFromRow);
    const lastSeq = entries.at(-1)?.seq ?? after;
    return { format: REGISTER_FORMAT, head, entries, next: lastSeq < head.seq ? lastSeq : null };
  }

  /** The whole public register as one copy, for `pds register export` on the server's own store. */
  async export(): Promise<Omit<RegisterPage, 'next'>> {
    const entries: RegisterEntry[] = [];
    let page = await this.page({ limit: REGISTER_PAGE_MAX });
    entries.push(...page.entries);
    while (page.next !== null) {
      page = await this.page({ after: page.next, limit: REGISTER_PAGE_MAX });
      entries.push(...page.entries);
    }
    return { format: REGISTER_FORMAT, head: page.head, entries };
  }

  /**
   * The bureau records a violation, or a restriction it imposed, for publication: the internal
   * reason goes to the audit trail, the reason category and statement to the register (when the
   * policy publishes the kind). With an Idempotency-Key a retry answers the entry it made.
   */
  async recordViolation(
    p: { sub: string; org: string; roles: string[] },
    facts: ContractFacts,
    input: ViolationInput,
    opts: { requestId?: string; idempotencyKey?: string } = {},
  ): Promise<{ entry: RegisterEntry | null }> {
    if (!p.roles.includes('bureau'))
      throw new PdsError('ERR_AUTH_FORBIDDEN', 'only the bureau records violations for the register');
    this.checkStatement(input.statement);
    const actor = { sub: p.sub, org: p.org, role: 'bureau' };
    const at = this.now().toISOString();
    const idempotency = opts.idempotencyKey
      ? { key: opts.idempotencyKey, requestSha256: canonicalSha256({ facts, input }) }
      : undefined;
    const entry = await this.deps.store.write(async (tx) => {
      const prior = idempotency ? await replayed(tx, idempotency) : undefined;
      if (prior) return prior;
      const published = await this.publish(
        tx,
        {
          kind: input.kind,
          action: input.kind === 'violation' ? 'record-violation' : 'restrict',
          effectiveAt: at,
          ...facts,
          reasonCategory: input.reasonCategory,
          statement: input.statement,
        },
        { actor, requestId: opts.requestId, idempotency },
      );
      await appendAudit(tx, {
        actor,
        action: `contract.${input.kind}-recorded`,
        objectType: 'contract',
        objectId: facts.contractId,
        reason: input.reason,
        requestId: opts.requestId,
        details: { reasonCategory: input.reasonCategory, registerSeq: published?.seq ?? null },
      });
      return published;
    });
    return { entry: entry ?? null };
  }
}
