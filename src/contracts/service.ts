import fs from 'node:fs';
import { appendAudit, type Actor } from '../audit/index.ts';
import { domainPath } from '../domain/index.ts';
import { PdsError } from '../errors/index.ts';
import { newId } from '../ids/index.ts';
import type { KeyRing } from '../keys/index.ts';
import { buildSnapshot, fileSha256, previewRisk, resolveGrants, type DatasetGrant, type DatasetRequest, type RiskReport } from '../masking/index.ts';
import type { Policies } from '../policies/index.ts';
import type { QueryMode } from '../sandbox/index.ts';
import type { Store, Tx } from '../store/index.ts';
import {
  addMonths, signContract, verifyContract,
  type ContractClaims, type EmergencyPlan, type Scenario, type VerifiedContract,
} from './contract-token.ts';

/** A signed-in user as the services see it. */
export interface Principal {
  sub: string;
  org: string;
  roles: string[];
}

export interface ApplicationInput {
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
}

export interface ApplicationView extends ApplicationInput {
  id: string;
  status: 'pending' | 'approved' | 'rejected';
  operatorOrg: string;
  createdBy: string;
  createdAt: string;
  grants: DatasetGrant[];
  /** Re-identification risk of the snapshot this application would get, per dataset (null: no data yet). */
  risk: Record<string, RiskReport | null> | null;
  reviews: ReviewView[];
  decision: { by: string; at: string; reason: string | null } | null;
  contractId: string | null;
}

export type ContractStatus = 'active' | 'suspended' | 'revoked' | 'expired';

export interface ContractView {
  id: string;
  applicationId: string;
  operatorOrg: string;
  status: ContractStatus;
  statusReason: string | null;
  notBefore: string;
  expiresAt: string;
  createdAt: string;
  claims: ContractClaims;
}

export interface DecisionInput {
  decision: 'approve' | 'reject';
  reason: string;
  terms?: { termMonths?: number; minUnits?: number };
}

type AppRow = Record<string, string | null>;

/** Operators see only their own organisation's objects; others answer 404, not 403, to hide existence. */
function canSeeApplication(p: Principal, operatorOrg: string, providers: string[]): boolean {
  if (p.roles.includes('bureau') || p.roles.includes('risk')) return true;
  if (p.roles.includes('operator') && p.org === operatorOrg) return true;
  return p.roles.includes('provider') && providers.includes(p.org);
}

export function actorOf(p: Principal, role: string): Actor {
  return { sub: p.sub, org: p.org, role };
}

export interface ContractServiceDeps {
  store: Store;
  keys: KeyRing;
  policies: Policies;
  dataDir: string;
  now?: () => Date;
}

/** Applications, provider reviews, the bureau's decision and the signed contract. */
export class ContractService {
  private readonly now: () => Date;

  constructor(private readonly deps: ContractServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** seed 002 第三十四条 (一场景一申请): one application names scenario, datasets, term and plan. */
  async createApplication(p: Principal, input: ApplicationInput, requestId?: string): Promise<ApplicationView> {
    const { catalog, masking } = this.deps.policies;
    if (input.mode !== 'aggregate') {
      throw new PdsError('ERR_MODE_NOT_AVAILABLE', `mode ${input.mode} is not available yet; use aggregate`, { errors: [{ field: '/mode', message: 'only aggregate is available' }] });
    }
    const grants = resolveGrants(catalog, masking, input.datasets);
    // seed 001 第三十一条: the bureau sees the re-identification risk before it decides
    const risk = await previewRisk({
      domainFile: domainPath(this.deps.dataDir), grants, catalog,
      policyK: Math.max(this.deps.policies.disclosure.minUnits.default, this.deps.policies.disclosure.minUnits.floor),
    });
    const id = newId('app', this.now());
    const at = this.now().toISOString();
    await this.deps.store.write(async (tx) => {
      await tx.run(
        `INSERT INTO applications (id, operator_org, created_by, created_at, status, body, grants, risk) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)`,
        [id, p.org, p.sub, at, JSON.stringify(input), JSON.stringify(grants), JSON.stringify(risk)],
      );
      for (const g of grants) {
        await tx.run(`INSERT INTO application_reviews (application_id, dataset, provider_org, status) VALUES ($1, $2, $3, 'pending')`, [id, g.dataset, g.provider]);
      }
      await appendAudit(tx, {
        actor: actorOf(p, 'operator'), action: 'application.submitted', objectType: 'application', objectId: id, requestId,
        details: { scenario: input.scenario.name, mode: input.mode, termMonths: input.termMonths, datasets: grants.map((g) => ({ dataset: g.dataset, columns: g.columns })) },
      });
    });
    return this.getApplication(p, id);
  }

  private async loadApplication(reader: Pick<Tx, 'one' | 'all'>, id: string): Promise<ApplicationView | undefined> {
    const row = await reader.one<AppRow>('SELECT * FROM applications WHERE id = $1', [id]);
    if (!row) return undefined;
    const reviews = await reader.all<AppRow>('SELECT * FROM application_reviews WHERE application_id = $1 ORDER BY dataset', [id]);
    const body = JSON.parse(row.body!) as ApplicationInput;
    return {
      ...body,
      id,
      status: row.status as ApplicationView['status'],
      operatorOrg: row.operator_org!,
      createdBy: row.created_by!,
      createdAt: row.created_at!,
      grants: JSON.parse(row.grants!) as DatasetGrant[],
      risk: row.risk ? JSON.parse(row.risk) as Record<string, RiskReport | null> : null,
      reviews: reviews.map((r) => ({
        dataset: r.dataset!, provider: r.provider_org!, status: r.status as ReviewView['status'],
        reviewer: r.reviewer ?? null, reason: r.reason ?? null, reviewedAt: r.reviewed_at ?? null,
      })),
      decision: row.decided_at ? { by: row.decided_by!, at: row.decided_at, reason: row.decision_reason ?? null } : null,
      contractId: row.contract_id ?? null,
    };
  }

  async getApplication(p: Principal, id: string): Promise<ApplicationView> {
    const app = await this.loadApplication(this.deps.store, id);
    if (!app || !canSeeApplication(p, app.operatorOrg, app.reviews.map((r) => r.provider))) {
      throw new PdsError('ERR_NOT_FOUND', `application ${id} not found`);
    }
    return app;
  }

  /** seed 002 第三十四条 (一需求一审核): each dataset is reviewed by its own provider; a refusal carries a reason. */
  async reviewApplication(p: Principal, id: string, input: { dataset: string; decision: 'approve' | 'reject'; reason?: string }, requestId?: string): Promise<ApplicationView> {
    if (input.decision === 'reject' && !input.reason?.trim()) {
      throw new PdsError('ERR_REVIEW_REASON_REQUIRED', 'a rejection needs a reason', { errors: [{ field: '/reason', message: 'required when decision is reject' }] });
    }
    await this.deps.store.write(async (tx) => {
      const app = await this.loadApplication(tx, id);
      if (!app || !canSeeApplication(p, app.operatorOrg, app.reviews.map((r) => r.provider))) throw new PdsError('ERR_NOT_FOUND', `application ${id} not found`);
      const review = app.reviews.find((r) => r.dataset === input.dataset);
      if (!review) throw new PdsError('ERR_VALIDATION', `application ${id} does not request dataset ${input.dataset}`, { errors: [{ field: '/dataset', message: 'not requested by this application' }] });
      if (review.provider !== p.org) throw new PdsError('ERR_REVIEW_NOT_PROVIDER', `dataset ${input.dataset} is provided by ${review.provider}; only its users may review it`);
      if (app.status !== 'pending') throw new PdsError('ERR_APPLICATION_NOT_PENDING', `application ${id} is already ${app.status}`);
      if (review.status !== 'pending') throw new PdsError('ERR_CONFLICT', `dataset ${input.dataset} was already reviewed (${review.status})`);
      const status = input.decision === 'approve' ? 'approved' : 'rejected';
      await tx.run(
        `UPDATE application_reviews SET status = $1, reviewer = $2, reason = $3, reviewed_at = $4 WHERE application_id = $5 AND dataset = $6`,
        [status, p.sub, input.reason ?? null, this.now().toISOString(), id, input.dataset],
      );
      await appendAudit(tx, {
        actor: actorOf(p, 'provider'), action: `review.${status}`, objectType: 'application', objectId: id,
        reason: input.reason ?? null, requestId, details: { dataset: input.dataset },
      });
    });
    return this.getApplication(p, id);
  }

  /**
   * The bureau's decision. Approval needs every dataset approved by its provider; the bureau may
   * tighten terms, never loosen them. Approval builds the snapshot and signs the contract.
   */
  async decide(p: Principal, id: string, input: DecisionInput, requestId?: string): Promise<{ application: ApplicationView; contract?: ContractView }> {
    const app = await this.getApplication(p, id);
    if (app.status !== 'pending') throw new PdsError('ERR_APPLICATION_NOT_PENDING', `application ${id} is already ${app.status}`);
    if (input.decision === 'reject') {
      await this.deps.store.write(async (tx) => {
        await this.markDecided(tx, id, 'rejected', p, input.reason, null);
        await appendAudit(tx, { actor: actorOf(p, 'bureau'), action: 'application.rejected', objectType: 'application', objectId: id, reason: input.reason, requestId });
      });
      return { application: await this.getApplication(p, id) };
    }
    const pending = app.reviews.filter((r) => r.status !== 'approved');
    if (pending.length > 0) {
      throw new PdsError('ERR_APPLICATION_REVIEWS_INCOMPLETE', `not approved by its provider: ${pending.map((r) => `${r.dataset} (${r.status})`).join(', ')}`);
    }
    const { disclosure } = this.deps.policies;
    const termMonths = this.tightened('termMonths', app.termMonths, input.terms?.termMonths, 'max');
    const minUnits = this.tightened('minUnits', Math.max(disclosure.minUnits.default, disclosure.minUnits.floor), input.terms?.minUnits, 'min');

    const contractId = newId('ctr', this.now());
    const snapshot = await buildSnapshot({
      dataDir: this.deps.dataDir,
      domainFile: domainPath(this.deps.dataDir),
      contractId,
      grants: app.grants,
      catalog: this.deps.policies.catalog,
      policyK: minUnits,
      pseudonymKey: this.deps.keys.derive('pseudonym', contractId),
    });
    try {
      const issuedAt = this.now();
      const expiresAt = addMonths(issuedAt, termMonths);
      const claims: ContractClaims = {
        application: id,
        scenario: app.scenario,
        mode: app.mode,
        datasets: app.grants,
        disclosure: { minUnits, maxRows: disclosure.maxRows.default },
        emergencyPlan: app.emergencyPlan,
        securityControls: app.securityControls ?? [],
        policyHash: this.deps.policies.hash,
        catalogVersion: this.deps.policies.catalog.version,
        snapshot: { hash: snapshot.hash, tables: snapshot.tables },
      };
      const jws = await signContract(this.deps.keys.bureau, claims, { contractId, operatorOrg: app.operatorOrg, issuedAt, notBefore: issuedAt, expiresAt });
      await this.deps.store.write(async (tx) => {
        const current = await tx.one<{ status: string }>('SELECT status FROM applications WHERE id = $1', [id]);
        if (current?.status !== 'pending') throw new PdsError('ERR_APPLICATION_NOT_PENDING', `application ${id} is already ${current?.status}`);
        await tx.run(
          `INSERT INTO contracts (id, application_id, operator_org, status, jws, claims, snapshot_path, snapshot_hash, not_before, expires_at, created_at)
           VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $9, $8)`,
          [contractId, id, app.operatorOrg, jws, JSON.stringify(claims), snapshot.file, snapshot.hash, issuedAt.toISOString(), expiresAt.toISOString()],
        );
        await this.markDecided(tx, id, 'approved', p, input.reason, contractId);
        await appendAudit(tx, { actor: actorOf(p, 'bureau'), action: 'application.approved', objectType: 'application', objectId: id, reason: input.reason, requestId, details: { contractId, terms: { termMonths, minUnits } } });
        await appendAudit(tx, { actor: actorOf(p, 'bureau'), action: 'snapshot.built', objectType: 'contract', objectId: contractId, requestId, details: { hash: snapshot.hash, tables: Object.fromEntries(Object.entries(snapshot.tables).map(([t, v]) => [t, v.rows])) } });
        await appendAudit(tx, { actor: actorOf(p, 'bureau'), action: 'contract.signed', objectType: 'contract', objectId: contractId, requestId, details: { kid: this.deps.keys.bureau.kid, expiresAt: expiresAt.toISOString() } });
      });
    } catch (err) {
      fs.rmSync(snapshot.file, { force: true });
      throw err;
    }
    return { application: await this.getApplication(p, id), contract: await this.getContract(p, contractId) };
  }

  /** A bureau term may only tighten: `max` bounds from above (term), `min` from below (k). */
  private tightened(name: string, base: number, asked: number | undefined, kind: 'max' | 'min'): number {
    if (asked === undefined) return base;
    const loosens = kind === 'max' ? asked > base : asked < base;
    if (loosens) {
      throw new PdsError('ERR_VALIDATION', `terms.${name} ${asked} would loosen the ${kind === 'max' ? 'requested value' : 'policy floor'} ${base}`, { errors: [{ field: `/terms/${name}`, message: `must be ${kind === 'max' ? '<=' : '>='} ${base}` }] });
    }
    return asked;
  }

  private async markDecided(tx: Tx, id: string, status: 'approved' | 'rejected', p: Principal, reason: string, contractId: string | null): Promise<void> {
    await tx.run(
      `UPDATE applications SET status = $1, decided_by = $2, decided_at = $3, decision_reason = $4, contract_id = $5 WHERE id = $6`,
      [status, p.sub, this.now().toISOString(), reason, contractId, id],
    );
  }

  private async loadContract(id: string): Promise<(ContractView & { jws: string; snapshotPath: string; snapshotHash: string }) | undefined> {
    const r = await this.deps.store.one<AppRow>('SELECT * FROM contracts WHERE id = $1', [id]);
    if (!r) return undefined;
    const expired = r.status === 'active' && r.expires_at! <= this.now().toISOString();
    return {
      id, applicationId: r.application_id!, operatorOrg: r.operator_org!,
      status: (expired ? 'expired' : r.status) as ContractStatus, statusReason: r.status_reason ?? null,
      notBefore: r.not_before!, expiresAt: r.expires_at!, createdAt: r.created_at!,
      claims: JSON.parse(r.claims!) as ContractClaims,
      jws: r.jws!, snapshotPath: r.snapshot_path!, snapshotHash: r.snapshot_hash!,
    };
  }

  /** The stored contract, if this principal may see it; otherwise 404 (existence is not disclosed). */
  private async visibleContract(p: Principal, id: string) {
    const c = await this.loadContract(id);
    if (!c || !canSeeApplication(p, c.operatorOrg, c.claims.datasets.map((d) => d.provider))) throw new PdsError('ERR_NOT_FOUND', `contract ${id} not found`);
    return c;
  }

  async getContract(p: Principal, id: string): Promise<ContractView> {
    const { jws: _j, snapshotPath: _s, snapshotHash: _h, ...view } = await this.visibleContract(p, id);
    return view;
  }

  async getContractJws(p: Principal, id: string): Promise<string> {
    return (await this.visibleContract(p, id)).jws;
  }

  /**
   * Everything a job needs to run, checked anew before every run (DESIGN §4.4): signature, term,
   * status in the store, and that the snapshot file is the one the contract pins.
   */
  async contractForRun(id: string): Promise<{ claims: VerifiedContract; snapshotPath: string }> {
    const c = await this.loadContract(id);
    if (!c) throw new PdsError('ERR_CONTRACT_INVALID', `contract ${id} does not exist`);
    const claims = await verifyContract(c.jws, this.deps.keys.bureau, this.now());
    if (claims.jti !== id) throw new PdsError('ERR_CONTRACT_INVALID', 'contract id does not match its signed jti');
    if (c.status !== 'active') throw new PdsError(c.status === 'expired' ? 'ERR_CONTRACT_EXPIRED' : 'ERR_CONTRACT_NOT_ACTIVE', `contract ${id} is ${c.status}`);
    if (!fs.existsSync(c.snapshotPath) || (await fileSha256(c.snapshotPath)) !== claims.snapshot.hash) {
      throw new PdsError('ERR_SNAPSHOT_MISMATCH', `the snapshot of contract ${id} does not match the hash it was signed with`);
    }
    return { claims, snapshotPath: c.snapshotPath };
  }

  /** Operators may only submit jobs under their own organisation's contracts. */
  async assertOperatorContract(p: Principal, id: string): Promise<ContractView> {
    const c = await this.getContract(p, id);
    if (c.operatorOrg !== p.org) throw new PdsError('ERR_NOT_FOUND', `contract ${id} not found`);
    return c;
  }
}
