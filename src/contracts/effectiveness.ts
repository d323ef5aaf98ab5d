import { appendAudit, SYSTEM_ACTOR } from '../audit/index.ts';
import { PdsError } from '../errors/index.ts';
import type { Tx } from '../store/index.ts';
import type { ContractService, ContractServiceDeps, Transitioned } from './contracts.ts';
import { actorOf, type Principal } from '../auth/index.ts';

export interface Indicator {
  name: string;
  /** null: not measured. */
  value: number | null;
  target?: number | null;
  met: boolean;
}

/** An indicator as stored, also one from before values were numbers: text that is not a number is "not measured". */
export function storedIndicator(i: { name: string; value: unknown; target?: unknown; met: boolean }): Indicator {
  const num = (v: unknown) =>
    typeof v === 'number' && Number.isFinite(v)
      ? v
      : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))
        ? Number(v)
        : null;
  return {
    name: i.name,
    value: num(i.value),
    ...(i.target !== undefined ? { target: num(i.target) } : {}),
    met: i.met,
  };
}

export interface AssessmentInput {
  /** The calendar year assessed. */
  year: number;
  passed: boolean;
  indicators: Indicator[];
  /** Who assessed: the bureau's own team or a named third-party assessor. */
  assessor: string;
  notes?: string;
}

export interface AssessmentView extends AssessmentInput {
  contractId: string;
  recordedBy: string;
  recordedAt: string;
}

type Row = Record<string, string | number | boolean | null>;

/**
 * Yearly effectiveness assessments (seed 002 第三十五条: 成效评估; 连续两年成效不达标的，取消数据
 * 授权运营资格). Recording the last of `failingYearsToRevoke` consecutive failing years revokes
 * the contract in the same transaction, with that reason.
 */
export class EffectivenessService {
  private readonly now: () => Date;

  constructor(
    private readonly deps: ContractServiceDeps,
    private readonly contracts: ContractService,
  ) {
    this.now = deps.now ?? (() => new Date());
  }

  async record(
    p: Principal,
    contractId: string,
    input: AssessmentInput,
    requestId?: string,
  ): Promise<{ assessment: AssessmentView; revoked: boolean }> {
    const contract = await this.contracts.getSignedContract(p, contractId);
    const first = Number(contract.notBefore.slice(0, 4));
    const last = Number(contract.expiresAt.slice(0, 4));
    if (input.year < first || input.year > last) {
      throw new PdsError('ERR_VALIDATION', `year ${input.year} is outside the contract's term (${first}–${last})`, {
        errors: [{ field: '/body/year', message: `must be between ${first} and ${last}` }],
      });
    }
    const window = this.deps.policies.workflow.effectiveness.failingYearsToRevoke;
    const at = this.now().toISOString();
    let done: Transitioned | undefined;
    await this.deps.store.write(async (tx) => {
      const exists = await tx.one('SELECT 1 AS x FROM effectiveness_assessments WHERE contract_id = $1 AND year = $2', [
        contractId,
        input.year,
      ]);
      if (exists)
        throw new PdsError('ERR_CONFLICT', `contract ${contractId} already has an assessment for ${input.year}`);
      await tx.run(
        `INSERT INTO effectiveness_assessments (contract_id, year, passed, indicators, assessor, notes, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          contractId,
          input.year,
          input.passed,
          JSON.stringify(input.indicators),
          input.assessor,
          input.notes ?? null,
          p.sub,
          at,
        ],
        'effectiveness_assessments',
      );
      await appendAudit(tx, {
        actor: actorOf(p, 'bureau'),
        action: 'contract.assessed',
        objectType: 'contract',
        objectId: contractId,
        requestId,
        details: {
          year: input.year,
          passed: input.passed,
          assessor: input.assessor,
          indicatorsMet: input.indicators.filter((i) => i.met).length,
          indicators: input.indicators.length,
        },
      });
      const failing = await this.failingRun(tx, contractId, input.year, window);
      const status = (await tx.one<{ status: string }>('SELECT status FROM contracts WHERE id = $1', [contractId]))!
        .status;
      if (failing && (status === 'active' || status === 'suspended')) {
        const reason = `effectiveness assessment failed ${window} consecutive years (${failing.join(', ')}); seed 002 第三十五条`;
        done = await this.contracts.transition(tx, contractId, 'revoke', reason, SYSTEM_ACTOR, requestId, {
          reasonCategory: 'effectiveness',
        });
      }
    });
    if (done) await this.contracts.afterTransition(done);
    const assessment = (await this.list(p, contractId)).find((a) => a.year === input.year)!;
    return { assessment, revoked: done !== undefined };
  }

  /** The consecutive failing years that include `year`, if there are `window` of them. */
  private async failingRun(tx: Tx, contractId: string, year: number, window: number): Promise<number[] | undefined> {
    const rows = await tx.all<{ year: number; passed: boolean }>(
      'SELECT year, passed FROM effectiveness_assessments WHERE contract_id = $1 AND year BETWEEN $2 AND $3 ORDER BY year',
      [contractId, year - window + 1, year + window - 1],
    );
    const failed = new Set(rows.filter((r) => !r.passed).map((r) => Number(r.year)));
    for (let start = year - window + 1; start <= year; start++) {
      const run = Array.from({ length: window }, (_, i) => start + i);
      if (run.every((y) => failed.has(y))) return run;
    }
    return undefined;
  }

  async list(p: Principal, contractId: string): Promise<AssessmentView[]> {
    await this.contracts.getContract(p, contractId);
    const rows = await this.deps.store.all<Row>(
      'SELECT * FROM effectiveness_assessments WHERE contract_id = $1 ORDER BY year',
      [contractId],
    );
    return rows.map((r) => ({
      contractId,
      year: Number(r.year),
      passed: Boolean(r.passed),
      indicators: (JSON.parse(String(r.indicators)) as Parameters<typeof storedIndicator>[0][]).map(storedIndicator),
      assessor: String(r.assessor),
      ...(r.notes ? { notes: String(r.notes) } : {}),
      recordedBy: String(r.recorded_by),
      recordedAt: String(r.recorded_at),
    }));
  }
}
