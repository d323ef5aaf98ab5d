import { appendAudit, SYSTEM_ACTOR, verifyAudit, type Actor } from '../audit/index.ts';
import { type ContractClaims } from '../contracts/index.ts';
import { canSeeOperatorWork, hasRole, type Principal } from '../auth/index.ts';
import { PdsError } from '../errors/index.ts';
import { attackCost } from '../disclosure/index.ts';
import { newId } from '../ids/index.ts';
import type { KeyRing } from '../keys/index.ts';
import type { Policies } from '../policies/index.ts';
import type { DataDirEncryption, Store } from '../store/index.ts';
import { contractFacts, contractFigures, sumFigures, type ContractFacts, type Figures } from './figures.ts';
import { hasEnded, parsePeriod, periodAt, previousPeriod, type Period } from './period.ts';
import { maxLevel, rate, recommendations, trend, type Finding } from './rating.ts';
import { reportSha256, signReport, type AuditTrailState, type RiskAssessmentReport } from './report.ts';
import { readStoredReport, renderOrRefuse } from './stored.ts';
import { RATING, term } from '../terms/index.ts';

/** The subject of a domain-wide report. */
export const DOMAIN_SUBJECT = 'domain';

export interface ReportRequest {
  kind: 'contract' | 'operator' | 'domain';
  /** The contract id, the operator organisation, or `domain`. */
  subject: string;
  /** 2026-Q3, 2026-07 or 2026; the current period of the policy's kind when absent. */
  period?: string;
}

export interface StoredReport {
  report: RiskAssessmentReport;
  html: string;
  jws: string;
  /** A report an earlier version made, read in today's shape: its body exactly as signed. */
  asSigned?: string;
}

export interface ReportSummary {
  id: string;
  kind: 'contract' | 'operator' | 'domain';
  subject: string;
  operatorOrg: string;
  period: string;
  trigger: 'schedule' | 'demand';
  rating: string;
  generatedAt: string;
}

export interface ReportServiceDeps {
  store: Store;
  keys: KeyRing;
  policies: Policies;
  /** What confines this API's runners (describeOsSandbox), stated in every report. */
  osSandbox: string;
  /** Whether DATA_DIR is encrypted at rest (checkDataDirEncryption at start-up), stated in every report. */
  dataDirEncryption: DataDirEncryption;
  now?: () => Date;
}

interface ContractRow {
  [k: string]: string | null;
  id: string;
  operator_org: string;
  status: string;
  claims: string;
  created_at: string;
  expires_at: string;
}

const BASIS = [
  'seed 002 第三十四条(四): 定期开展风险评估，并向大数据部门报送风险评估报告',
  'seed 001 第三十一条: 多维度评估, 异常情况监测预警',
  'seed 003 第三十四条 / seed 004 第四十九条: 全流程记录，可审计、可追溯',
];

/** Risk assessment reports: made on demand or on schedule, signed by the bureau, kept in the store. */
export class ReportService {
  private readonly now: () => Date;

  constructor(private readonly deps: ReportServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  private get policy() {
    return this.deps.policies.workflow.reports;
  }

  private get offset() {
    return this.deps.policies.workflow.calendar.utcOffset;
  }

  /** The period a report asks for, or the one `now` is in; one that has not begun is refused. */
  private periodOf(req: ReportRequest, now: Date): Period {
    const period = req.period ? parsePeriod(req.period, this.offset) : periodAt(now, this.policy.period, this.offset);
    if (Date.parse(period.start) > now.getTime()) {
      throw new PdsError('ERR_VALIDATION', `period ${period.label} has not started`, {
        errors: [{ field: '/body/period', message: 'a period that has begun' }],
      });
    }
    return period;
  }

  /** Makes, signs and stores a report; a scheduled one at most once per subject and period. */
  async generate(
    req: ReportRequest,
    actor: Actor,
    trigger: 'schedule' | 'demand' = 'demand',
    requestId?: string,
    trail?: AuditTrailState,
  ): Promise<StoredReport | undefined> {
    const now = this.now();
    const period = this.periodOf(req, now);
    const id = newId('rpt', now);
    const auditTrail = trail ?? (await this.auditTrail());
    const content =
      req.kind === 'contract'
        ? await this.contractContent(req.subject, period, auditTrail)
        : req.kind === 'operator'
          ? await this.operatorContent(req.subject, period, auditTrail)
          : await this.domainContent(period, auditTrail);
    const report: RiskAssessmentReport = {
      id,
      kind: req.kind,
      subject: req.subject,
      period,
      previousPeriod: previousPeriod(period, this.offset),
      partial: !hasEnded(period, now),
      generatedAt: now.toISOString(),
      generatedBy: actor.sub,
      trigger,
      auditTrail,
      sandbox: { os: this.deps.osSandbox },
      dataDirEncryption: this.deps.dataDirEncryption,
      ...content,
      thresholds: this.policy.rating,
      basis: BASIS,
    };
    const bodySha256 = reportSha256(report);
    // rendered and checked before anything is signed or stored: a report no read can show is refused
    const html = renderOrRefuse(report, bodySha256);
    const jws = await signReport(this.deps.keys.bureau, report, bodySha256, html);
    const scheduleKey = trigger === 'schedule' ? `${req.kind}:${req.subject}:${period.label}` : null;
    const stored = await this.deps.store.write(async (tx) => {
      if (scheduleKey && (await tx.one('SELECT id FROM reports WHERE schedule_key = $1', [scheduleKey]))) return false;
      await tx.run(
        `INSERT INTO reports (id, kind, subject, operator_org, period, trigger, rating, body, html, jws, generated_by, generated_at, schedule_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          id,
          req.kind,
          req.subject,
          report.operatorOrg,
          period.label,
          trigger,
          report.rating.level,
          JSON.stringify(report),
          html,
          jws,
          actor.sub,
          report.generatedAt,
          scheduleKey,
        ],
        'reports',
      );
      await appendAudit(tx, {
        actor,
        action: 'report.generated',
        objectType: 'report',
        objectId: id,
        requestId,
        details: {
          kind: req.kind,
          subject: req.subject,
          period: period.label,
          trigger,
          rating: report.rating.level,
          sha256: bodySha256,
        },
      });
      return true;
    });
    return stored ? { report, html, jws } : undefined;
  }

  /** The trail the figures stand on, verified with its signed checkpoints when the report is made. */
  private async auditTrail(): Promise<AuditTrailState> {
    const v = await verifyAudit(this.deps.store, this.deps.keys.bureauVerifier());
    return {
      ok: v.ok,
      entries: v.entries,
      checkpoints: v.checkpoints ?? 0,
      ...(v.firstBad ? { firstBad: v.firstBad } : {}),
    };
  }

  private async loadContract(id: string, period: Period): Promise<{ row: ContractRow; claims: ContractClaims }> {
    const row = await this.deps.store.one<ContractRow>(
      'SELECT id, operator_org, status, claims, created_at, expires_at FROM contracts WHERE id = $1',
      [id],
    );
    if (!row) throw new PdsError('ERR_NOT_FOUND', `contract ${id} not found`);
    // a period the contract was never in force in has nothing to assess
    const outside =
      row.created_at! >= period.end
        ? `was signed on ${row.created_at}, after ${period.label} ended`
        : row.expires_at! <= period.start
          ? `ended on ${row.expires_at}, before ${period.label} began`
          : undefined;
    if (outside)
      throw new PdsError('ERR_VALIDATION', `contract ${id} ${outside}`, {
        errors: [{ field: '/body/period', message: "a period in the contract's term" }],
      });
    return { row, claims: JSON.parse(row.claims) as ContractClaims };
  }

  private async measure(
    row: ContractRow,
    claims: ContractClaims,
    period: Period,
  ): Promise<{ figures: Figures; previousFigures: Figures; facts: ContractFacts }> {
    const previous = previousPeriod(period, this.offset);
    const id = row.id;
    const contract = { id, operatorOrg: row.operator_org };
    const { policies } = this.deps;
    const cost = attackCost({
      mode: claims.mode,
      termMonths: Math.max(
        1,
        Math.round((Date.parse(row.expires_at) - Date.parse(row.created_at)) / (30.44 * 86_400_000)),
      ),
      jobsPerDay: policies.sandbox.quotas.jobsPerDay,
      countVariance: policies.disclosure.perturbation.counts.variance,
      roundCountsTo: policies.disclosure.roundCountsTo,
      grants: claims.datasets,
    });
    return {
      figures: await contractFigures(this.deps.store, contract, claims, period, this.policy),
      previousFigures: await contractFigures(this.deps.store, contract, claims, previous, this.policy),
      facts: await contractFacts(this.deps.store, id, claims, period, cost),
    };
  }

  private async contractContent(id: string, period: Period, audit: AuditTrailState) {
    const { row, claims } = await this.loadContract(id, period);
    const { figures, previousFigures, facts } = await this.measure(row, claims, period);
    const rating = rate({ f: figures, facts, prev: previousFigures, t: this.policy.rating, audit });
    return {
      operatorOrg: row.operator_org,
      scenario: { name: claims.scenario.name, purpose: claims.scenario.purpose },
      figures,
      previousFigures,
      facts,
      trend: trend(figures, previousFigures),
      rating,
      recommendations: recommendations(rating),
    };
  }

  /** Contracts in force during the period: signed before it ended, not expired or revoked before it began. */
  private async contractsIn(period: Period, operatorOrg?: string): Promise<ContractRow[]> {
    return this.deps.store.all<ContractRow>(
      `SELECT id, operator_org, status, claims, created_at, expires_at FROM contracts
       WHERE created_at < $e AND expires_at > $s AND NOT (status = 'revoked' AND status_changed_at < $s) ${operatorOrg ? 'AND operator_org = $o' : ''}
       ORDER BY id`,
      { s: period.start, e: period.end, ...(operatorOrg ? { o: operatorOrg } : {}) },
    );
  }

  /** Each contract's figures and rating, for the roll-ups of an operator and of the domain. */
  private async assess(rows: ContractRow[], period: Period) {
    const each = [];
    for (const row of rows) {
      const claims = JSON.parse(row.claims) as ContractClaims;
      const m = await this.measure(row, claims, period);
      each.push({
        row,
        claims,
        ...m,
        rating: rate({ f: m.figures, facts: m.facts, prev: m.previousFigures, t: this.policy.rating }),
      });
    }
    return each;
  }

  /**
   * Figures added up over contracts, the rules applied to the sums, and a finding for each part
   * (a contract, an operator) rated above low: a roll-up is rated no lower than its riskiest part.
   */
  private rollUp(
    each: Awaited<ReturnType<ReportService['assess']>>,
    period: Period,
    audit: AuditTrailState,
    parts: Finding[],
  ) {
    const figures = sumFigures(
      each.map((e) => e.figures),
      period,
    );
    const previousFigures = sumFigures(
      each.map((e) => e.previousFigures),
      previousPeriod(period, this.offset),
    );
    const own = rate({ f: figures, prev: previousFigures, t: this.policy.rating, audit });
    const rating = {
      ...own,
      level: maxLevel([own.level, ...parts.map((f) => f.level)]),
      findings: [...own.findings, ...parts],
    };
    return {
      figures,
      previousFigures,
      trend: trend(figures, previousFigures),
      rating,
      recommendations: recommendations(rating),
    };
  }

  private async operatorContent(org: string, period: Period, audit: AuditTrailState) {
    const rows = await this.contractsIn(period, org);
    if (rows.length === 0) throw new PdsError('ERR_NOT_FOUND', `operator ${org} held no contract in ${period.label}`);
    const each = await this.assess(rows, period);
    const parts: Finding[] = each
      .filter((e) => e.rating.level !== 'low')
      .map((e) => ({
        rule: 'contract-rating',
        level: e.rating.level,
        finding: `合约 ${e.row.id}（${e.claims.scenario.name}）评级为${term(RATING, e.rating.level)}：${e.rating.findings.map((f) => f.rule).join('、')}`,
        recommendation: `按合约 ${e.row.id} 自身报告的发现处理。`,
        basis: 'seed 002 第三十四条(四)',
      }));
    return {
      operatorOrg: org,
      ...this.rollUp(each, period, audit, parts),
      contracts: each.map((e) => ({
        contractId: e.row.id,
        scenario: e.claims.scenario.name,
        status: e.row.status,
        rating: e.rating.level,
        jobsSubmitted: e.figures.jobs.submitted,
        jobsRefused: e.figures.jobs.rejected,
        escapeAttempts: e.figures.escapeAttempts,
        outputsReleased: e.figures.outputs.released,
      })),
    };
  }

  /** The bureau's overview: every operator with a contract in force in the period, each rated by its riskiest contract. */
  private async domainContent(period: Period, audit: AuditTrailState) {
    const rows = await this.contractsIn(period);
    if (rows.length === 0) throw new PdsError('ERR_NOT_FOUND', `no contract was in force in ${period.label}`);
    const each = await this.assess(rows, period);
    const orgs = [...new Set(each.map((e) => e.row.operator_org))].sort();
    const operators = orgs.map((org) => {
      const mine = each.filter((e) => e.row.operator_org === org);
      const sum = sumFigures(
        mine.map((e) => e.figures),
        period,
      );
      const risky = mine.filter((e) => e.rating.level !== 'low');
      return {
        operatorOrg: org,
        contracts: mine.length,
        rating: maxLevel(mine.map((e) => e.rating.level)),
        riskyContracts: risky.map((e) => e.row.id),
        jobsSubmitted: sum.jobs.submitted,
        jobsRefused: sum.jobs.rejected,
        escapeAttempts: sum.escapeAttempts,
        outputsReleased: sum.outputs.released,
      };
    });
    const parts: Finding[] = operators
      .filter((o) => o.rating !== 'low')
      .map((o) => ({
        rule: 'operator-rating',
        level: o.rating,
        finding: `运营单位 ${o.operatorOrg} 评级为${term(RATING, o.rating)}：合约 ${o.riskyContracts.join('、')}`,
        recommendation: `阅读运营单位 ${o.operatorOrg} 的报告及其各合约的报告，按其发现处理。`,
        basis: 'seed 002 第三十四条(四)',
      }));
    return {
      operatorOrg: '*',
      ...this.rollUp(each, period, audit, parts),
      operators: operators.map(({ riskyContracts: _r, ...o }) => o),
    };
  }

  /**
   * The scheduler's turn: for each ended period without its reports — the last one, and any
   * missed while no API ran, back to the oldest contract (a term is at most 36 months) — a report
   * for every contract in force during it, one per operator and one for the domain. Idempotent, so an embedded timer,
   * a BullMQ job scheduler and a restart may all call it. Answers the reports made.
   */
  async runSchedule(onError?: (subject: string, err: unknown) => void): Promise<number> {
    const oldest = (await this.deps.store.one<{ t: string | null }>('SELECT min(created_at) AS t FROM contracts'))?.t;
    if (!oldest) return 0;
    const months = { quarter: 3, month: 1, year: 12 }[this.policy.period];
    let period = previousPeriod(periodAt(this.now(), this.policy.period, this.offset), this.offset);
    let made = 0;
    let trail: AuditTrailState | undefined;
    for (let i = 0; i <= Math.ceil(36 / months) && period.end > oldest; i++) {
      made += await this.schedulePeriod(period, async () => (trail ??= await this.auditTrail()), onError);
      period = previousPeriod(period, this.offset);
    }
    return made;
  }

  private async schedulePeriod(
    period: Period,
    trail: () => Promise<AuditTrailState>,
    onError?: (subject: string, err: unknown) => void,
  ): Promise<number> {
    const done = new Set(
      (
        await this.deps.store.all<{ schedule_key: string }>(
          'SELECT schedule_key FROM reports WHERE period = $1 AND schedule_key IS NOT NULL',
          [period.label],
        )
      ).map((r) => r.schedule_key),
    );
    const rows = await this.contractsIn(period);
    const subjects: ReportRequest[] = [
      ...rows.map((r) => ({ kind: 'contract' as const, subject: r.id, period: period.label })),
      ...[...new Set(rows.map((r) => r.operator_org))].map((org) => ({
        kind: 'operator' as const,
        subject: org,
        period: period.label,
      })),
      ...(rows.length > 0 ? [{ kind: 'domain' as const, subject: DOMAIN_SUBJECT, period: period.label }] : []),
    ].filter((s) => !done.has(`${s.kind}:${s.subject}:${s.period}`));
    let made = 0;
    for (const s of subjects) {
      try {
        if (await this.generate(s, SYSTEM_ACTOR, 'schedule', undefined, await trail())) made++;
      } catch (err) {
        onError?.(`${s.kind} ${s.subject} ${s.period}`, err);
      }
    }
    return made;
  }

  /**
   * Reports, newest first. Given a principal, only those it may read: risk staff and the bureau
   * all; an operator its own contracts' and its own (seed 002 第三十四条(四): the operator answers
   * for the assessment it submits), never the domain overview or another operator's.
   */
  async list(
    filter: { subject?: string; period?: string; rating?: string; limit?: number } = {},
    p?: Principal,
  ): Promise<ReportSummary[]> {
    const where: string[] = ['TRUE'];
    const params: Record<string, string | number> = { limit: filter.limit ?? 100 };
    if (p && !hasRole(p, 'bureau', 'risk')) {
      where.push(`operator_org = $org AND kind <> 'domain'`);
      params.org = p.org;
    }
    for (const k of ['subject', 'period', 'rating'] as const) {
      if (filter[k]) {
        where.push(`${k} = $${k}`);
        params[k] = filter[k]!;
      }
    }
    const rows = await this.deps.store.all<{
      [k: string]: string;
      id: string;
      kind: string;
      subject: string;
      operator_org: string;
      period: string;
      trigger: string;
      rating: string;
      generated_at: string;
    }>(
      `SELECT id, kind, subject, operator_org, period, trigger, rating, generated_at FROM reports WHERE ${where.join(' AND ')} ORDER BY generated_at DESC, id DESC LIMIT $limit`,
      params,
    );
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind as ReportSummary['kind'],
      subject: r.subject,
      operatorOrg: r.operator_org,
      period: r.period,
      trigger: r.trigger as ReportSummary['trigger'],
      rating: r.rating,
      generatedAt: r.generated_at,
    }));
  }

  async get(id: string, p?: Principal): Promise<StoredReport> {
    const row = await this.deps.store.one<{
      body: string;
      html: string;
      jws: string;
      kind: string;
      operator_org: string;
    }>('SELECT body, html, jws, kind, operator_org FROM reports WHERE id = $1', [id]);
    const staff = !p || hasRole(p, 'bureau', 'risk');
    if (!row || (!staff && (row.kind === 'domain' || !canSeeOperatorWork(p!, row.operator_org)))) {
      throw new PdsError('ERR_NOT_FOUND', `report ${id} not found`);
    }
    return { ...readStoredReport(row.body), html: row.html, jws: row.jws };
  }
}
