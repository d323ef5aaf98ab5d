import fs from 'node:fs';
import { appendAudit, type Actor } from '../audit/index.ts';
import { fileSha256, sha256 } from '../digest/index.ts';
import { PdsError } from '../errors/index.ts';
import { newId } from '../ids/index.ts';
import type { SigningKey } from '../keys/index.ts';
import { forgetRunners } from '../sandbox/index.ts';
import { resolveStored, storedPath, type Store, type Tx } from '../store/index.ts';
import {
  sealDestruction,
  type DestroyedFile,
  type DestructionClaims,
  type DestructionKind,
  type DestructionWhy,
} from './record.ts';

/** A deletion asked for inside the caller's transaction (the one that decided it). */
export interface DestructionRequest {
  kind: DestructionKind;
  /** The contract for a snapshot, the output for an output. */
  subjectId: string;
  contractId: string;
  operatorOrg: string;
  why: DestructionWhy;
  actor: Actor;
  requestId?: string;
  /** Absolute paths; a known SHA-256 (the snapshot's, from its contract row) spares reading the file. */
  files: { file: string; sha256?: string }[];
}

/** A destruction record as the API serves it. */
export interface DestructionView {
  id: string;
  kind: DestructionKind;
  subjectId: string;
  contractId: string;
  why: DestructionWhy;
  by: Actor;
  status: 'pending' | 'done';
  requestedAt: string;
  destroyedAt: string | null;
  files: (Omit<DestroyedFile, 'removal'> & { removal?: DestroyedFile['removal'] })[];
  method: 'unlinked';
  /** The sealed record (typ pds-destruction+jwt), once done: check it with `pds verify-destruction`. */
  jws: string | null;
  jwsSha256: string | null;
}

/** Who reads records: bureau and risk staff all of them, an operator those of its own contracts. */
export interface RecordReader {
  org: string;
  roles: string[];
}

type Row = Record<string, string | null>;
const LIST_LIMIT = 500;

function viewOf(r: Row): DestructionView {
  const sealed = r.jws
    ? (JSON.parse(Buffer.from(r.jws.split('.')[1]!, 'base64url').toString('utf8')) as DestructionClaims)
    : undefined;
  return {
    id: r.id!,
    kind: r.kind as DestructionKind,
    subjectId: r.subject_id!,
    contractId: r.contract_id!,
    why: r.why as DestructionWhy,
    by: JSON.parse(r.actor!) as Actor,
    status: r.status as 'pending' | 'done',
    requestedAt: r.requested_at!,
    destroyedAt: r.destroyed_at ?? null,
    files: sealed?.files ?? (JSON.parse(r.files!) as DestructionView['files']),
    method: 'unlinked',
    jws: r.jws ?? null,
    jwsSha256: r.jws_sha256 ?? null,
  };
}

/**
 * Signed destruction records (seed 003 第三十九条（四）: 对…销毁数据等…行为进行监督;
 * docs/architecture.md §19). A deletion is three steps, each idempotent: `plan` writes the
 * record `pending` with every file's hash inside the transaction that decides the deletion;
 * `complete` unlinks the files after that commit, then seals the record with the bureau key and
 * marks it `done` with its audit entry. Start-up runs `completePending`: a process that stopped
 * between the steps leaves a pending record, never a deletion without one, and a record is
 * sealed only once its files are gone.
 */
export class DestructionService {
  constructor(
    private readonly deps: {
      store: Store;
      keys: { bureau: SigningKey };
      dataDir: string;
      now?: () => Date;
    },
  ) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /**
   * Records a deletion as pending inside `tx`, the files hashed first; answers its id, the one
   * already recorded for the same kind and subject (idempotent), or undefined when none of the
   * files exists (nothing to destroy, nothing to claim).
   */
  async plan(tx: Tx, req: DestructionRequest): Promise<string | undefined> {
    const earlier = await tx.one<{ id: string }>(
      'SELECT id FROM destruction_records WHERE kind = $1 AND subject_id = $2',
      [req.kind, req.subjectId],
    );
    if (earlier) return earlier.id;
    const files: Omit<DestroyedFile, 'removal'>[] = [];
    for (const f of req.files) {
      if (!fs.existsSync(f.file)) continue;
      files.push({
        path: storedPath(this.deps.dataDir, f.file),
        sha256: f.sha256 ?? (await fileSha256(f.file)),
        bytes: fs.statSync(f.file).size,
      });
    }
    if (files.length === 0) return undefined;
    const at = this.now();
    const id = newId('dst', at);
    await tx.run(
      `INSERT INTO destruction_records (id, kind, subject_id, contract_id, operator_org, why, actor, request_id, files, status, requested_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)`,
      [
        id,
        req.kind,
        req.subjectId,
        req.contractId,
        req.operatorOrg,
        req.why,
        JSON.stringify(req.actor),
        req.requestId ?? null,
        JSON.stringify(files),
        at.toISOString(),
      ],
    );
    return id;
  }

  /**
   * Unlinks a pending record's files, then seals it and marks it done with its audit entry (the
   * record's id and the SHA-256 of its seal). A record already done is answered as it is.
   */
  async complete(id: string): Promise<DestructionView> {
    const row = await this.deps.store.one<Row>('SELECT * FROM destruction_records WHERE id = $1', [id]);
    if (!row) throw new TypeError(`no destruction record ${id}`);
    if (row.status === 'done') return viewOf(row);
    const planned = JSON.parse(row.files!) as Omit<DestroyedFile, 'removal'>[];
    const files = planned.map((f) => ({ ...f, removal: this.unlink(row.kind as DestructionKind, f.path) }));
    const view = viewOf(row);
    const claims: DestructionClaims = {
      kind: view.kind,
      contractId: view.contractId,
      ...(view.kind === 'output' ? { outputId: view.subjectId } : {}),
      why: view.why,
      by: view.by,
      requestedAt: view.requestedAt,
      destroyedAt: this.now().toISOString(),
      method: 'unlinked',
      files,
    };
    const jws = await sealDestruction(this.deps.keys.bureau, id, claims);
    const jwsSha256 = sha256(jws);
    await this.deps.store.write(async (tx) => {
      const still = await tx.one<{ status: string }>('SELECT status FROM destruction_records WHERE id = $1', [id]);
      if (still?.status !== 'pending') return;
      await tx.run(
        `UPDATE destruction_records SET status = 'done', destroyed_at = $1, jws = $2, jws_sha256 = $3 WHERE id = $4`,
        [claims.destroyedAt, jws, jwsSha256, id],
      );
      await appendAudit(tx, {
        actor: view.by,
        action: 'data.destroyed',
        objectType: view.kind,
        objectId: view.subjectId,
        reason: view.why,
        requestId: row.request_id,
        details: { record: id, recordSha256: jwsSha256, contract: view.contractId, files: files.length },
      });
    });
    return this.view(id);
  }

  /** Removes one file; says whether this step removed it or found it gone already. */
  private unlink(kind: DestructionKind, stored: string): DestroyedFile['removal'] {
    const file = resolveStored(this.deps.dataDir, stored);
    // a runner kept for the contract's next job holds a link to the snapshot: it goes first
    if (kind === 'snapshot') forgetRunners(file);
    if (!fs.existsSync(file)) return 'gone-before';
    fs.rmSync(file, { force: true });
    if (fs.existsSync(file)) throw new Error(`${stored} is still there after it was unlinked`);
    return 'unlinked';
  }

  /** Completes every record a stopped process left pending (start-up); answers their ids. */
  async completePending(onError?: (id: string, err: unknown) => void): Promise<string[]> {
    const rows = await this.deps.store.all<{ id: string }>(
      `SELECT id FROM destruction_records WHERE status = 'pending' ORDER BY requested_at`,
    );
    const done: string[] = [];
    for (const { id } of rows) {
      try {
        await this.complete(id);
        done.push(id);
      } catch (err) {
        onError?.(id, err);
      }
    }
    return done;
  }

  private async view(id: string): Promise<DestructionView> {
    const row = await this.deps.store.one<Row>('SELECT * FROM destruction_records WHERE id = $1', [id]);
    return viewOf(row!);
  }

  /** One record, if this reader may see it; otherwise 404 (existence is not disclosed). */
  async get(reader: RecordReader, id: string): Promise<DestructionView> {
    const row = await this.deps.store.one<Row>('SELECT * FROM destruction_records WHERE id = $1', [id]);
    if (!row || !canRead(reader, row.operator_org!))
      throw new PdsError('ERR_NOT_FOUND', `destruction record ${id} not found`);
    return viewOf(row);
  }

  /** The records a reader may see, oldest first; of one contract when asked. */
  async list(reader: RecordReader, filter: { contractId?: string } = {}): Promise<DestructionView[]> {
    const where: string[] = [];
    const params: string[] = [];
    if (!isStaff(reader)) {
      params.push(reader.org);
      where.push(`operator_org = $${params.length}`);
    }
    if (filter.contractId) {
      params.push(filter.contractId);
      where.push(`contract_id = $${params.length}`);
    }
    const rows = await this.deps.store.all<Row>(
      `SELECT * FROM destruction_records ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY requested_at, id LIMIT ${LIST_LIMIT}`,
      params,
    );
    return rows.map(viewOf);
  }

  /** Refuses to serve data that is destroyed or being destroyed: ERR_DATA_DESTROYED (410) naming its record. */
  async assertKept(kind: DestructionKind, subjectId: string): Promise<void> {
    const r = await this.deps.store.one<{ id: string; status: string; why: string }>(
      'SELECT id, status, why FROM destruction_records WHERE kind = $1 AND subject_id = $2',
      [kind, subjectId],
    );
    if (r)
      throw new PdsError(
        'ERR_DATA_DESTROYED',
        `the data of ${kind} ${subjectId} was destroyed (${r.why}); destruction record ${r.id}`,
      );
  }
}

function isStaff(reader: RecordReader): boolean {
  return reader.roles.includes('bureau') || reader.roles.includes('risk');
}

function canRead(reader: RecordReader, operatorOrg: string): boolean {
  return isStaff(reader) || (reader.roles.includes('operator') && reader.org === operatorOrg);
}
