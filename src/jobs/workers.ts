import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { sameSecret, sha256 } from '../digest/index.ts';
import { appendAudit, type Actor } from '../audit/index.ts';
import { actorOf, type Principal } from '../auth/index.ts';
import { PdsError } from '../errors/index.ts';
import { newId } from '../ids/index.ts';
import type { KeyRing } from '../keys/index.ts';
import type { Store, Tx } from '../store/index.ts';

/**
 * Workers are identities, not a shared role (docs/architecture.md, "Workers"). The bureau
 * registers each `pds worker` and hands it its own credential — `pdsw.<id>.<secret>`, of which
 * the store keeps only the SHA-256 — valid for a set time, rotatable and revocable, checked on
 * every request. A worker credential reaches the worker endpoints and nothing else.
 *
 * Claiming a job needs, besides the credential, the job's claim ticket: a MAC of the job id under
 * a key derived from the domain master key, which the API puts on the queue with the job. A
 * credential that leaks without the queue cannot take a job.
 */

export const WORKER_ORG = 'pds-workers';
const PREFIX = 'pdsw';
const DAY_MS = 86_400_000;

export interface WorkerView {
  id: string;
  name: string;
  status: 'active' | 'revoked' | 'expired';
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  rotatedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  revokeReason: string | null;
}

type Row = Record<string, string | null>;

export class WorkerRegistry {
  private readonly ticketKey: Buffer;

  constructor(private readonly deps: { store: Store; keys: KeyRing; now: () => Date }) {
    this.ticketKey = deps.keys.derive('worker-claim-ticket', 'jobs');
  }

  /** The claim ticket of a job (what the queue carries). */
  ticket(jobId: string): string {
    return createHmac('sha256', this.ticketKey).update(jobId).digest('base64url');
  }

  ticketValid(jobId: string, ticket: string): boolean {
    return sameSecret(this.ticket(jobId), ticket);
  }

  private view(r: Row): WorkerView {
    const now = this.deps.now().toISOString();
    return {
      id: r.id!,
      name: r.name!,
      createdBy: r.created_by!,
      createdAt: r.created_at!,
      expiresAt: r.expires_at!,
      rotatedAt: r.rotated_at ?? null,
      revokedAt: r.revoked_at ?? null,
      revokedBy: r.revoked_by ?? null,
      revokeReason: r.revoke_reason ?? null,
      status: r.revoked_at ? 'revoked' : r.expires_at! <= now ? 'expired' : 'active',
    };
  }

  async list(): Promise<WorkerView[]> {
    return (await this.deps.store.all<Row>('SELECT * FROM workers ORDER BY created_at')).map((r) => this.view(r));
  }

  async get(id: string): Promise<WorkerView> {
    const r = await this.deps.store.one<Row>('SELECT * FROM workers WHERE id = $1', [id]);
    if (!r) throw new PdsError('ERR_NOT_FOUND', `worker ${id} not found`);
    return this.view(r);
  }

  /** Registers a worker; the credential is shown once, here, and never again. */
  async register(
    p: Principal,
    input: { name: string; ttlDays?: number },
    requestId?: string,
  ): Promise<{ worker: WorkerView; credential: string }> {
    const now = this.deps.now();
    const id = newId('wrk', now);
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + (input.ttlDays ?? 30) * DAY_MS).toISOString();
    await this.deps.store.write(async (tx) => {
      await tx.run(
        'INSERT INTO workers (id, name, secret_sha256, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [id, input.name, sha256(secret), p.sub, now.toISOString(), expiresAt],
        'workers',
      );
      await appendAudit(tx, {
        actor: actorOf(p, 'bureau'),
        action: 'worker.registered',
        objectType: 'worker',
        objectId: id,
        requestId,
        details: { name: input.name, expiresAt },
      });
    });
    return { worker: await this.get(id), credential: `${PREFIX}.${id}.${secret}` };
  }

  /** A new secret (and term) for a worker; the old credential stops working at once. */
  async rotate(
    p: Principal,
    id: string,
    input: { ttlDays?: number },
    requestId?: string,
  ): Promise<{ worker: WorkerView; credential: string }> {
    const now = this.deps.now();
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + (input.ttlDays ?? 30) * DAY_MS).toISOString();
    await this.deps.store.write(async (tx) => {
      const cur = await tx.one<Row>('SELECT revoked_at FROM workers WHERE id = $1', [id]);
      if (!cur) throw new PdsError('ERR_NOT_FOUND', `worker ${id} not found`);
      if (cur.revoked_at) throw new PdsError('ERR_CONFLICT', `worker ${id} is revoked; register a new one`);
      await tx.run(
        'UPDATE workers SET secret_sha256 = $2, expires_at = $3, rotated_at = $4 WHERE id = $1',
        [id, sha256(secret), expiresAt, now.toISOString()],
        'workers',
      );
      await appendAudit(tx, {
        actor: actorOf(p, 'bureau'),
        action: 'worker.rotated',
        objectType: 'worker',
        objectId: id,
        requestId,
        details: { expiresAt },
      });
    });
    return { worker: await this.get(id), credential: `${PREFIX}.${id}.${secret}` };
  }

  async revoke(p: Principal, id: string, reason: string, requestId?: string): Promise<WorkerView> {
    await this.deps.store.write(async (tx) => {
      const cur = await tx.one<Row>('SELECT revoked_at FROM workers WHERE id = $1', [id]);
      if (!cur) throw new PdsError('ERR_NOT_FOUND', `worker ${id} not found`);
      if (cur.revoked_at) throw new PdsError('ERR_CONFLICT', `worker ${id} is already revoked`);
      await this.revokeIn(tx, id, actorOf(p, 'bureau'), reason, requestId);
    });
    return this.get(id);
  }

  /**
   * Revokes a worker inside the caller's transaction (a spot check that caught it forging revokes
   * it with the rest of its verdict); answers false when it was revoked already.
   */
  async revokeIn(tx: Tx, id: string, actor: Actor, reason: string, requestId?: string): Promise<boolean> {
    // its count, not RETURNING: a failed commit of an UPDATE … RETURNING aborts the process (src/store)
    const revoked = await tx.one<{ Count: number }>(
      'UPDATE workers SET revoked_at = $2, revoked_by = $3, revoke_reason = $4 WHERE id = $1 AND revoked_at IS NULL',
      [id, this.deps.now().toISOString(), actor.sub, reason],
      'workers',
    );
    if (!revoked?.Count) return false;
    await appendAudit(tx, {
      actor,
      action: 'worker.revoked',
      objectType: 'worker',
      objectId: id,
      requestId,
      reason,
    });
    return true;
  }

  /** When a worker's current credential was issued: its registration, or its latest rotation. */
  async credentialIssuedAt(reader: Pick<Tx, 'one'>, id: string): Promise<string | undefined> {
    const r = await reader.one<Row>('SELECT created_at, rotated_at FROM workers WHERE id = $1', [id]);
    return r ? (r.rotated_at ?? r.created_at!) : undefined;
  }

  /** Whether a bearer token is a worker credential (rather than a user's JWT). */
  static isCredential(token: string): boolean {
    return token.startsWith(`${PREFIX}.`);
  }

  /** The worker a credential names, if it is current; every way to fail has its code. */
  async authenticate(token: string): Promise<Principal> {
    const [prefix, id, secret, ...rest] = token.split('.');
    if (prefix !== PREFIX || !id || !secret || rest.length > 0 || !/^wrk_[a-z0-9]{8,40}$/.test(id)) {
      throw new PdsError('ERR_AUTH_INVALID_TOKEN', 'the worker credential is malformed');
    }
    const r = await this.deps.store.one<Row>('SELECT * FROM workers WHERE id = $1', [id]);
    const want = Buffer.from(r?.secret_sha256 ?? sha256(''), 'hex');
    const ok = timingSafeEqual(want, Buffer.from(sha256(secret), 'hex'));
    if (!r) throw new PdsError('ERR_AUTH_INVALID_TOKEN', 'the worker credential is unknown');
    if (r.revoked_at) throw new PdsError('ERR_WORKER_REVOKED', `worker ${id} was revoked`);
    if (!ok) throw new PdsError('ERR_WORKER_REVOKED', `the credential of worker ${id} was rotated or is wrong`);
    if (r.expires_at! <= this.deps.now().toISOString())
      throw new PdsError('ERR_AUTH_TOKEN_EXPIRED', `the credential of worker ${id} has expired; rotate it`);
    return { sub: id, org: WORKER_ORG, roles: ['worker'] };
  }
}
