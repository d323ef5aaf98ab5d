import fs from 'node:fs';
import type { RetentionPolicy } from '../policies/index.ts';
import { resolveStored, type Store } from '../store/index.ts';
import { HOUSEKEEPING_ACTOR, type DestructionKind } from './record.ts';
import type { DestructionRequest, DestructionService, DestructionView } from './service.ts';

const DAY_MS = 86_400_000;

/** Data whose retention has run out (policies/retention.yaml), with the moment it became due. */
export interface DueItem extends Omit<DestructionRequest, 'why' | 'actor'> {
  dueSince: string;
}

type Row = Record<string, string | null>;

/**
 * Retention (policies/retention.yaml): finds the snapshots of ended contracts and the data of
 * released outputs kept longer than the policy says, and deletes each with its destruction
 * record (why `retention`, by `housekeeping`). Only files still on disk are due: data deleted
 * before destruction records existed is not claimed again.
 */
export class Housekeeping {
  constructor(
    private readonly deps: {
      store: Store;
      destruction: DestructionService;
      retention: RetentionPolicy;
      dataDir: string;
      /** Every file holding an output's data, from the one the store names (its other forms beside it). */
      outputFiles: (dataFile: string) => string[];
      now?: () => Date;
    },
  ) {}

  /** What is due at `now`: snapshots first, then outputs, each oldest first. */
  async due(now: Date = this.deps.now?.() ?? new Date()): Promise<DueItem[]> {
    return [...(await this.dueSnapshots(now)), ...(await this.dueOutputs(now))];
  }

  /** How many are due now, by kind (every kind present, for the pds_retention_due gauge). */
  async dueCounts(now?: Date): Promise<Record<DestructionKind, number>> {
    const counts: Record<DestructionKind, number> = { snapshot: 0, output: 0 };
    for (const d of await this.due(now)) counts[d.kind]++;
    return counts;
  }

  private async dueSnapshots(now: Date): Promise<DueItem[]> {
    const { afterRevokedDays, afterExpiredDays } = this.deps.retention.snapshot;
    const rows = await this.deps.store.all<Row>(
      `SELECT id, operator_org, status, status_changed_at, snapshot_path, snapshot_hash FROM contracts
        WHERE status IN ('revoked', 'expired') AND status_changed_at IS NOT NULL
          AND id NOT IN (SELECT subject_id FROM destruction_records WHERE kind = 'snapshot')
        ORDER BY status_changed_at, id`,
    );
    const out: DueItem[] = [];
    for (const r of rows) {
      const days = r.status === 'revoked' ? afterRevokedDays : afterExpiredDays;
      const dueAt = Date.parse(r.status_changed_at!) + days * DAY_MS;
      const file = resolveStored(this.deps.dataDir, r.snapshot_path!);
      if (dueAt > now.getTime() || !fs.existsSync(file)) continue;
      out.push({
        kind: 'snapshot',
        subjectId: r.id!,
        contractId: r.id!,
        operatorOrg: r.operator_org!,
        files: [{ file, sha256: r.snapshot_hash! }, { file: `${file}.wal` }],
        dueSince: new Date(dueAt).toISOString(),
      });
    }
    return out;
  }

  private async dueOutputs(now: Date): Promise<DueItem[]> {
    const rows = await this.deps.store.all<Row>(
      `SELECT id, contract_id, operator_org, file, released_at FROM outputs
        WHERE status = 'released' AND released_at IS NOT NULL
          AND id NOT IN (SELECT subject_id FROM destruction_records WHERE kind = 'output')
        ORDER BY released_at, id`,
    );
    const out: DueItem[] = [];
    for (const r of rows) {
      const dueAt = Date.parse(r.released_at!) + this.deps.retention.outputs.afterReleaseDays * DAY_MS;
      const file = resolveStored(this.deps.dataDir, r.file!);
      if (dueAt > now.getTime() || !fs.existsSync(file)) continue;
      out.push({
        kind: 'output',
        subjectId: r.id!,
        contractId: r.contract_id!,
        operatorOrg: r.operator_org!,
        files: this.deps.outputFiles(file).map((f) => ({ file: f })),
        dueSince: new Date(dueAt).toISOString(),
      });
    }
    return out;
  }

  /** One turn: deletes everything due, each with its own record; answers the records written (a dry run is `due`). */
  async run(now?: Date, onError?: (item: DueItem, err: unknown) => void): Promise<DestructionView[]> {
    const done: DestructionView[] = [];
    for (const item of await this.due(now)) {
      const { dueSince: _d, ...req } = item;
      try {
        const id = await this.deps.store.write((tx) =>
          this.deps.destruction.plan(tx, { ...req, why: 'retention', actor: { ...HOUSEKEEPING_ACTOR } }),
        );
        if (id) done.push(await this.deps.destruction.complete(id));
      } catch (err) {
        onError?.(item, err);
      }
    }
    return done;
  }
}
