import { attackCost, type AttackCost } from '../disclosure/index.ts';
import { appendAudit } from '../audit/index.ts';
import { domainPath } from '../domain/index.ts';
import { PdsError } from '../errors/index.ts';
import { newId } from '../ids/index.ts';
import {
  previewRisk,
  resolveGrants,
  type DatasetGrant,
  type DatasetRequest,
  type RiskReport,
} from '../masking/index.ts';
import type { QueryMode } from '../sandbox/index.ts';
import type { Tx } from '../store/index.ts';
import { domainCalendar, type WorkingCalendar } from './calendar.ts';
import type { DecidedClaims, DecisionOverride, EmergencyPlan, Scenario } from './contract-token.ts';
import { riskWarnings, sensitiveFactNotices } from './decision-safety.ts';
import type { SnapshotBuilds } from './builds.ts';
import type { ContractService, ContractServiceDeps, ContractView } from './contracts.ts';
import { tightenTerms, type AskedTerms, type Terms } from './terms.ts';
import { actorOf, canSeeScenario, hasRole, type Principal } from '../auth/index.ts';
import { assertNotWithdrawn } from './withdrawn.ts';

export interface ApplicationInput {
  /** The applying organisation; when given it must be the caller's own (an operator applies only for itself). */
  operatorOrg?: string;
  scenario: Scenario;
  mode: QueryMode;
  termMonths: number;
  datasets: DatasetRequest[];
  emergencyPlan: EmergencyPlan;
  securityControls?: string[];
}

export interface ReviewView {
  dataset: string;
  provider: string;
  status: 'pending' | 'approved' | 'rejected';
  reviewer: string | null;
  reason: string | null;
  reviewedAt: string | null;
  /** When the provider's answer is due (working days, policies/workflow.yaml). */
  dueAt: string | null;
  overdue: boolean;
}

export interface ApplicationView extends Omit<ApplicationInput, 'operatorOrg'> {
  id: string;
  status: 'pending' | 'approved' | 'rejected';
  operatorOrg: string;
  createdBy: string;
  createdAt: string;
  grants: DatasetGrant[];
  /** Re-identification risk of the snapshot this application would get, per dataset (null: no data yet). */
  risk: Record<string, RiskReport | null> | null;
  /** What averaging noise would cost a determined operator under this application's terms (attackCost). */
  attackCost: AttackCost;
  reviews: ReviewView[];
  /** What in the risk preview breaks the policy (decision-safety.ts): approving needs an override. */
  warnings: string[];
  /** What the policy does with these datasets that the reviewers should know (sensitive facts: only under ε). */
  notices: string[];
  decision: {
    by: string;
    at: string;
    reason: string | null;
    terms: Terms | null;
    override: DecisionOverride | null;
  } | null;
  contractId: string | null;
}

export interface DecisionInput {
  decision: 'approve' | 'reject';
  reason: string;
  terms?: AskedTerms;
  /** Approve although the risk preview breaks the policy, and why. */
  override?: { reason: string };
}

/** A review waiting for (or given by) a provider, for the provider's queue and the bureau's overdue list. */
export interface ReviewQueueItem extends ReviewView {
  applicationId: string;
  operatorOrg: string;
  scenario: string;
  submittedAt: string;
}

type Row = Record<string, string | null>;

const LIST_LIMIT = 200;

/** The override an approval against the measured risk needs (its reason, the warnings, who); none without warnings. */
function overrideOf(app: ApplicationView, input: DecisionInput, p: Principal): DecisionOverride | undefined {
  // seed 001 第三十一条: an approval against the measured risk is a decision someone signs for
  if (app.warnings.length > 0 && !input.override?.reason.trim())
    throw new PdsError(
      'ERR_DECISION_OVERRIDE_REQUIRED',
      `the risk preview of application ${app.id} breaks the policy — ${app.warnings.join('; ')}; approve with override.reason saying why, or reject`,
      { extra: { warnings: app.warnings } },
    );
  return app.warnings.length > 0
    ? { reason: input.override!.reason.trim(), warnings: app.warnings, by: p.sub }
    : undefined;
}

/** Applications, provider reviews and the bureau's decision (seed 002 第三十四条). */
export class ApplicationService {
  private readonly now: () => Date;
  private readonly calendar: WorkingCalendar;

  constructor(
    private readonly deps: ContractServiceDeps,
    private readonly contracts: ContractService,
    private readonly builds?: Pick<SnapshotBuilds, 'kick'>,
  ) {
    this.now = deps.now ?? (() => new Date());
    this.calendar = domainCalendar(deps.policies.workflow.calendar);
  }

  /** This year and the next, where the working-day calendar knows no holidays (every weekday counts). */
  calendarGaps(): number[] {
    const year = Number(this.calendar.localDate(this.now()).slice(0, 4));
    return [year, year + 1].filter((y) => !this.calendar.covers(y));
  }

  /** seed 002 第三十四条 (一场景一申请): one application names scenario, datasets, term and plan. */
  async createApplication(p: Principal, input: ApplicationInput, requestId?: string): Promise<ApplicationView> {
    if (input.operatorOrg !== undefined && input.operatorOrg !== p.org) {
      throw new PdsError(
        'ERR_AUTH_FORBIDDEN',
        `an operator applies only for its own organisation (${p.org}), not ${input.operatorOrg}`,
        { errors: [{ field: '/body/operatorOrg', message: `must be ${p.org}` }] },
      );
    }
    const { workflow } = this.deps.policies;
    const { operatorOrg: _org, ...body } = input;
    const { grants, risk } = await this.assess(input);
    const at = this.now();
    const id = newId('app', at);
    const dueAt = this.calendar.deadline(at, workflow.reviewDeadline.workingDays).toISOString();
    await this.deps.store.write(async (tx) => {
      await tx.run(
        `INSERT INTO applications (id, operator_org, created_by, created_at, status, body, grants, risk) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)`,
        [id, p.org, p.sub, at.toISOString(), JSON.stringify(body), JSON.stringify(grants), JSON.stringify(risk)],
        'applications',
      );
      for (const g of grants) {
        await tx.run(
          `INSERT INTO application_reviews (application_id, dataset, provider_org, status, due_at) VALUES ($1, $2, $3, 'pending', $4)`,
          [id, g.dataset, g.provider, dueAt],
          'application_reviews',
        );
      }
      await appendAudit(tx, {
        actor: actorOf(p, 'operator'),
        action: 'application.submitted',
        objectType: 'application',
        objectId: id,
        requestId,
        details: {
          scenario: input.scenario.name,
          mode: input.mode,
          termMonths: input.termMonths,
          reviewsDueAt: dueAt,
          datasets: grants.map((g) => ({ dataset: g.dataset, columns: g.columns })),
        },
      });
    });
    return this.getApplication(p, id);
  }

  /** The grants an application would get and their re-identification risk, as the bureau will see them. */
  private async assess(input: Pick<ApplicationInput, 'datasets' | 'mode'>) {
    const { catalog, masking, disclosure } = this.deps.policies;
    const grants = resolveGrants(catalog, masking, input.datasets, input.mode);
    await assertNotWithdrawn(
      this.deps.store,
      input.datasets.map((d) => d.dataset),
      'the application asks for a withdrawn dataset',
      (i) => `/body/datasets/${i}/dataset`,
    );
    // seed 001 第三十一条: the bureau sees the re-identification risk before it decides
    const risk = await previewRisk({
      domainFile: domainPath(this.deps.dataDir),
      grants,
      catalog,
      policyK: Math.max(disclosure.minUnits.default, disclosure.minUnits.floor),
    });
    return { grants, risk };
  }

  /**
   * What an application would be granted, its risk and the policy's warnings, before it is filed:
   * the operator chooses masking rules against the figures the bureau will decide on. Nothing is stored.
   */
  async previewApplication(
    _p: Principal,
    input: Pick<ApplicationInput, 'datasets' | 'mode'>,
  ): Promise<{
    grants: DatasetGrant[];
    risk: Record<string, RiskReport | null>;
    warnings: string[];
    notices: string[];
  }> {
    const { grants, risk } = await this.assess(input);
    return {
      grants,
      risk,
      warnings: riskWarnings(risk, this.deps.policies.workflow.decisionSafety),
      notices: sensitiveFactNotices(this.deps.policies.catalog, grants),
    };
  }

  private reviewView(r: Row): ReviewView {
    const dueAt = r.due_at ?? null;
    const status = r.status as ReviewView['status'];
    return {
      dataset: r.dataset!,
      provider: r.provider_org!,
      status,
      reviewer: r.reviewer ?? null,
      reason: r.reason ?? null,
      reviewedAt: r.reviewed_at ?? null,
      dueAt,
      overdue: dueAt !== null && (r.reviewed_at ?? this.now().toISOString()) > dueAt,
    };
  }

  private async loadApplication(reader: Pick<Tx, 'one' | 'all'>, id: string): Promise<ApplicationView | undefined> {
    const row = await reader.one<Row>('SELECT * FROM applications WHERE id = $1', [id]);
    if (!row) return undefined;
    const reviews = await reader.all<Row>(
      'SELECT * FROM application_reviews WHERE application_id = $1 ORDER BY dataset',
      [id],
    );
    const body = JSON.parse(row.body!) as ApplicationInput;
    const decided = row.decided_at ? (JSON.parse(row.decision_terms ?? 'null') as Terms | null) : null;
    const risk = row.risk ? (JSON.parse(row.risk) as Record<string, RiskReport | null>) : null;
    return {
      ...body,
      id,
      status: row.status as ApplicationView['status'],
      operatorOrg: row.operator_org!,
      createdBy: row.created_by!,
      createdAt: row.created_at!,
      grants: JSON.parse(row.grants!) as DatasetGrant[],
      risk,
      attackCost: attackCost({
        mode: body.mode,
        termMonths: body.termMonths,
        jobsPerDay: this.deps.policies.sandbox.quotas.jobsPerDay,
        countVariance: this.deps.policies.disclosure.perturbation.counts.variance,
        roundCountsTo: this.deps.policies.disclosure.roundCountsTo,
        grants: JSON.parse(row.grants!) as DatasetGrant[],
      }),
      reviews: reviews.map((r) => this.reviewView(r)),
      warnings: riskWarnings(risk, this.deps.policies.workflow.decisionSafety),
      notices: sensitiveFactNotices(this.deps.policies.catalog, JSON.parse(row.grants!) as DatasetGrant[]),
      decision: row.decided_at
        ? {
            by: row.decided_by!,
            at: row.decided_at,
            reason: row.decision_reason ?? null,
            terms: decided,
            override: row.decision_override ? (JSON.parse(row.decision_override) as DecisionOverride) : null,
          }
        : null,
      contractId: row.contract_id ?? null,
    };
  }

  async getApplication(p: Principal, id: string): Promise<ApplicationView> {
    const app = await this.loadApplication(this.deps.store, id);
    if (
      !app ||
      !canSeeScenario(
        p,
        app.operatorOrg,
        app.reviews.map((r) => r.provider),
      )
    ) {
      throw new PdsError('ERR_NOT_FOUND', `application ${id} not found`);
    }
    return app;
  }

  /** Applications this principal may see, newest first. */
  async listApplications(
    p: Principal,
    filter: { status?: ApplicationView['status']; limit?: number },
  ): Promise<ApplicationView[]> {
    const rows = await this.deps.store.all<{ id: string }>(
      `SELECT DISTINCT a.id, a.created_at FROM applications a LEFT JOIN application_reviews r ON r.application_id = a.id
       WHERE ($1::VARCHAR IS NULL OR a.status = $1)
         AND ($2 OR a.operator_org = $3 OR ($4 AND r.provider_org = $3))
       ORDER BY a.created_at DESC, a.id DESC LIMIT $5`,
      [filter.status ?? null, hasRole(p, 'bureau', 'risk'), p.org, hasRole(p, 'provider'), filter.limit ?? LIST_LIMIT],
    );
    const apps = await Promise.all(rows.map((r) => this.loadApplication(this.deps.store, r.id)));
    return apps.filter(
      (a): a is ApplicationView =>
        a !== undefined &&
        canSeeScenario(
          p,
          a.operatorOrg,
          a.reviews.map((r) => r.provider),
        ),
    );
  }

  /**
   * Reviews by due date: a provider sees its own queue, the bureau and risk staff see every
   * provider's. `overdue` keeps only pending reviews past their deadline.
   */
  async listReviews(
    p: Principal,
    filter: { status?: ReviewView['status']; overdue?: boolean; limit?: number },
  ): Promise<ReviewQueueItem[]> {
    const all = hasRole(p, 'bureau', 'risk');
    if (!all && !hasRole(p, 'provider'))
      throw new PdsError('ERR_AUTH_FORBIDDEN', 'only providers, the bureau and risk staff have a review queue');
    const now = this.now().toISOString();
    const rows = await this.deps.store.all<Row>(
      `SELECT r.*, a.operator_org, a.created_at AS submitted_at, json_extract_string(a.body, '$.scenario.name') AS scenario
       FROM application_reviews r JOIN applications a ON a.id = r.application_id
       WHERE ($1 OR r.provider_org = $2)
         AND ($3::VARCHAR IS NULL OR r.status = $3)
         AND (NOT $4 OR (r.status = 'pending' AND a.status = 'pending' AND r.due_at < $5))
       ORDER BY r.due_at NULLS LAST, r.application_id, r.dataset LIMIT $6`,
      [
        all,
        p.org,
        filter.overdue ? 'pending' : (filter.status ?? null),
        filter.overdue ?? false,
        now,
        filter.limit ?? LIST_LIMIT,
      ],
    );
    return rows.map((r) => ({
      ...this.reviewView(r),
      applicationId: r.application_id!,
      operatorOrg: r.operator_org!,
      scenario: r.scenario ?? '',
      submittedAt: r.submitted_at!,
    }));
  }

  /** seed 002 第三十四条 (一需求一审核): each dataset is reviewed by its own provider; a refusal carries a reason. */
  async reviewApplication(
    p: Principal,
    id: string,
    input: { dataset: string; decision: 'approve' | 'reject'; reason?: string },
    requestId?: string,
  ): Promise<ApplicationView> {
    if (input.decision === 'reject' && !input.reason?.trim()) {
      throw new PdsError('ERR_REVIEW_REASON_REQUIRED', 'a rejection needs a reason', {
        errors: [{ field: '/body/reason', message: 'required when decision is reject' }],
      });
    }
    await this.deps.store.write(async (tx) => {
      const app = await this.loadApplication(tx, id);
      if (
        !app ||
        !canSeeScenario(
          p,
          app.operatorOrg,
          app.reviews.map((r) => r.provider),
        )
      )
        throw new PdsError('ERR_NOT_FOUND', `application ${id} not found`);
      const review = app.reviews.find((r) => r.dataset === input.dataset);
      if (!review)
        throw new PdsError('ERR_VALIDATION', `application ${id} does not request dataset ${input.dataset}`, {
          errors: [{ field: '/body/dataset', message: 'not requested by this application' }],
        });
      if (review.provider !== p.org)
        throw new PdsError(
          'ERR_REVIEW_NOT_PROVIDER',
          `dataset ${input.dataset} is provided by ${review.provider}; only its users may review it`,
        );
      if (app.status !== 'pending')
        throw new PdsError('ERR_APPLICATION_NOT_PENDING', `application ${id} is already ${app.status}`);
      if (review.status !== 'pending')
        throw new PdsError('ERR_CONFLICT', `dataset ${input.dataset} was already reviewed (${review.status})`);
      const status = input.decision === 'approve' ? 'approved' : 'rejected';
      const at = this.now().toISOString();
      await tx.run(
        `UPDATE application_reviews SET status = $1, reviewer = $2, reason = $3, reviewed_at = $4 WHERE application_id = $5 AND dataset = $6`,
        [status, p.sub, input.reason ?? null, at, id, input.dataset],
        'application_reviews',
      );
      await appendAudit(tx, {
        actor: actorOf(p, 'provider'),
        action: `review.${status}`,
        objectType: 'application',
        objectId: id,
        reason: input.reason ?? null,
        requestId,
        details: { dataset: input.dataset, dueAt: review.dueAt, late: review.dueAt !== null && at > review.dueAt },
      });
    });
    return this.getApplication(p, id);
  }

  /**
   * The bureau's decision. Approval needs every dataset approved by its provider; the bureau may
   * tighten terms, never loosen them. Approval answers at once with the contract `building`: its
   * snapshot is built after, and the contract signed when the snapshot is sealed.
   */
  async decide(
    p: Principal,
    id: string,
    input: DecisionInput,
    requestId?: string,
  ): Promise<{ application: ApplicationView; contract?: ContractView }> {
    const app = await this.getApplication(p, id);
    if (app.status !== 'pending')
      throw new PdsError('ERR_APPLICATION_NOT_PENDING', `application ${id} is already ${app.status}`);
    if (input.decision === 'reject') return this.reject(p, id, input.reason, requestId);
    const notApproved = app.reviews.filter((r) => r.status !== 'approved');
    if (notApproved.length > 0) {
      throw new PdsError(
        'ERR_APPLICATION_REVIEWS_INCOMPLETE',
        `not approved by its provider: ${notApproved.map((r) => `${r.dataset} (${r.status})`).join(', ')}`,
      );
    }
    const { terms, grants } = tightenTerms(this.deps.policies.disclosure, app, input.terms);
    const override = overrideOf(app, input, p);

    const contractId = newId('ctr', this.now());
    const claims: DecidedClaims = {
      application: id,
      scenario: app.scenario,
      mode: app.mode,
      datasets: grants,
      disclosure: { minUnits: terms.minUnits, maxRows: terms.maxRows },
      privacyBudget: app.mode === 'dp' ? { epsilon: terms.epsilon!, epsilonPerQuery: terms.epsilonPerQuery! } : null,
      emergencyPlan: app.emergencyPlan,
      securityControls: app.securityControls ?? [],
      policyHash: this.deps.policies.hash,
      catalogVersion: this.deps.policies.catalog.version,
      ...(override ? { decisionOverride: override } : {}),
    };
    const actor = actorOf(p, 'bureau');
    // the decision is recorded at once; the snapshot is built after the answer, and the contract
    // is signed with its hash when it is sealed (SnapshotBuilds)
    await this.deps.store.write(async (tx) => {
      const current = await tx.one<{ status: string }>('SELECT status FROM applications WHERE id = $1', [id]);
      if (current?.status !== 'pending')
        throw new PdsError('ERR_APPLICATION_NOT_PENDING', `application ${id} is already ${current?.status}`);
      await assertNotWithdrawn(
        tx,
        grants.map((g) => g.dataset),
        `application ${id} cannot be approved`,
      );
      const at = this.now().toISOString();
      await tx.run(
        `INSERT INTO snapshot_builds (contract_id, application_id, operator_org, status, claims, term_months, decided_by, request_id, attempts, error, created_at, updated_at)
         VALUES ($1, $2, $3, 'building', $4, $5, $6, $7, 0, NULL, $8, $8)`,
        [
          contractId,
          id,
          app.operatorOrg,
          JSON.stringify(claims),
          terms.termMonths,
          JSON.stringify(actor),
          requestId ?? null,
          at,
        ],
        'snapshot_builds',
      );
      await this.markDecided(tx, id, 'approved', p, input.reason, contractId, terms, override);
      await appendAudit(tx, {
        actor,
        action: 'application.approved',
        objectType: 'application',
        objectId: id,
        reason: input.reason,
        requestId,
        details: { contractId, terms, ...(override ? { override } : {}) },
      });
    });
    this.builds?.kick();
    return { application: await this.getApplication(p, id), contract: await this.contracts.getContract(p, contractId) };
  }

  /** The bureau's rejection: recorded with its reason. */
  private async reject(
    p: Principal,
    id: string,
    reason: string,
    requestId: string | undefined,
  ): Promise<{ application: ApplicationView }> {
    await this.deps.store.write(async (tx) => {
      await this.markDecided(tx, id, 'rejected', p, reason, null, null);
      await appendAudit(tx, {
        actor: actorOf(p, 'bureau'),
        action: 'application.rejected',
        objectType: 'application',
        objectId: id,
        reason: reason,
        requestId,
      });
    });
    return { application: await this.getApplication(p, id) };
  }

  private async markDecided(
    tx: Tx,
    id: string,
    status: 'approved' | 'rejected',
    p: Principal,
    reason: string,
    contractId: string | null,
    terms: Terms | null,
    override?: DecisionOverride,
  ): Promise<void> {
    await tx.run(
      `UPDATE applications SET status = $1, decided_by = $2, decided_at = $3, decision_reason = $4, contract_id = $5, decision_terms = $6, decision_override = $7 WHERE id = $8`,
      [
        status,
        p.sub,
        this.now().toISOString(),
        reason,
        contractId,
        terms ? JSON.stringify(terms) : null,
        override ? JSON.stringify(override) : null,
        id,
      ],
      'applications',
    );
  }
}
