import { appendAudit } from '../audit/index.ts';
import { type ContractService } from '../contracts/index.ts';
import { actorOf, type Principal } from '../auth/index.ts';
import { sha256 } from '../digest/index.ts';
import { isPdsError, PdsError } from '../errors/index.ts';
import type { JobService, JobView } from '../jobs/index.ts';
import type { Policies, QueryTemplate } from '../policies/index.ts';
import type { Store } from '../store/index.ts';
import { bindTemplate, codesOf, type ParameterValue } from './bind.ts';

/** A parameter as clients see it: its type, bounds, default and, for a code, the values it takes. */
export interface TemplateParameterView {
  name: string;
  type: 'code' | 'integer' | 'month';
  label: string;
  min?: number | string;
  max?: number | string;
  default?: number | string;
  codes?: string[];
}

export interface TemplateView {
  id: string;
  title: string;
  description: string;
  modes: ('aggregate' | 'dp' | 'custom')[];
  needs: Record<string, string[]>;
  sql: string;
  parameters: TemplateParameterView[];
  dp: { bounds: Record<string, [number, number]> } | null;
}

export interface TemplateServiceDeps {
  store: Store;
  policies: Policies;
  contracts: ContractService;
  jobs: JobService;
}

type Grants = { mode: string; datasets: { dataset: string; columns: { column: string; rule: string }[] }[] };

/**
 * The bureau's published query templates (policies/templates.yaml): listed for a contract, run as
 * an ordinary job — the parameters bound as checked literals, then the same submission, analysis,
 * disclosure control and release as any SQL an operator writes.
 */
export class TemplateService {
  constructor(private readonly deps: TemplateServiceDeps) {}

  /** Every published template, or with a contract the ones its mode and granted columns can run. */
  async list(p: Principal, contractId?: string): Promise<TemplateView[]> {
    const all = Object.entries(this.deps.policies.templates.templates);
    if (!contractId) return all.map(([id, t]) => this.view(id, t));
    const { claims } = await this.deps.contracts.getContract(p, contractId);
    return all.filter(([, t]) => missing(t, claims).length === 0).map(([id, t]) => this.view(id, t));
  }

  /** One template, or ERR_NOT_FOUND. */
  get(id: string): TemplateView {
    return this.view(id, this.template(id));
  }

  /** Binds the parameters and submits the job under the contract; refusals are audited. */
  async run(
    p: Principal,
    input: { contractId: string; templateId: string; parameters: Record<string, ParameterValue>; name?: string },
    opts: { requestId?: string; idempotencyKey?: string } = {},
  ): Promise<{ job: JobView; created: boolean }> {
    const t = this.template(input.templateId);
    const contract = await this.deps.contracts.assertOperatorContract(p, input.contractId);
    let bound;
    try {
      const gaps = missing(t, contract.claims);
      if (gaps.length)
        throw new PdsError(
          'ERR_TEMPLATE_NOT_APPLICABLE',
          `template ${input.templateId} needs ${gaps.join(', ')}, which contract ${contract.id} does not grant`,
        );
      bound = bindTemplate(t, input.parameters, this.deps.policies.catalog);
    } catch (err) {
      if (isPdsError(err)) await this.recordRefusal(p, input, err.code, err.detail, opts.requestId);
      throw err;
    }
    return this.deps.jobs.submit(
      p,
      {
        contractId: contract.id,
        sql: bound.sql,
        name: input.name ?? `模板：${t.title}`,
        ...(t.dp && contract.claims.mode === 'dp'
          ? { dp: { bounds: t.dp.bounds as Record<string, [number, number]> } }
          : {}),
        template: { id: input.templateId, parameters: bound.parameters },
      },
      opts,
    );
  }

  /** A refused run is recorded as a refused submission is: what was tried (hashed), by whom, why. */
  private async recordRefusal(
    p: Principal,
    input: { contractId: string; templateId: string; parameters: Record<string, ParameterValue> },
    code: string,
    detail: string,
    requestId?: string,
  ): Promise<void> {
    await this.deps.store.write((tx) =>
      appendAudit(tx, {
        actor: actorOf(p, 'operator'),
        action: 'template.run_refused',
        objectType: 'contract',
        objectId: input.contractId,
        requestId,
        reason: detail,
        details: { code, template: input.templateId, parametersSha256: sha256(JSON.stringify(input.parameters)) },
      }),
    );
  }

  private template(id: string): QueryTemplate {
    const t = Object.hasOwn(this.deps.policies.templates.templates, id)
      ? this.deps.policies.templates.templates[id]
      : undefined;
    if (!t) throw new PdsError('ERR_NOT_FOUND', `template ${id} not found`);
    return t;
  }

  private view(id: string, t: QueryTemplate): TemplateView {
    return {
      id,
      title: t.title,
      description: t.description,
      modes: t.modes,
      needs: t.needs,
      sql: t.sql,
      parameters: Object.entries(t.parameters).map(([name, p]) => ({
        name,
        type: p.type,
        label: p.label,
        ...(p.type !== 'code' && p.min !== undefined ? { min: p.min } : {}),
        ...(p.type !== 'code' && p.max !== undefined ? { max: p.max } : {}),
        ...(p.default !== undefined ? { default: p.default } : {}),
        ...(p.type === 'code' ? { codes: codesOf(p, this.deps.policies.catalog) } : {}),
      })),
      dp: t.dp ? { bounds: t.dp.bounds as Record<string, [number, number]> } : null,
    };
  }
}

/** What a template needs that a contract does not have: its mode, or columns granted (not dropped). */
function missing(t: QueryTemplate, claims: Grants): string[] {
  const gaps = t.modes.includes(claims.mode as 'aggregate') ? [] : [`mode ${t.modes.join('/')}`];
  for (const [ds, columns] of Object.entries(t.needs)) {
    const grant = claims.datasets.find((d) => d.dataset === ds);
    for (const c of columns)
      if (!grant?.columns.some((g) => g.column === c && g.rule !== 'drop')) gaps.push(`${ds}.${c}`);
  }
  return gaps;
}
