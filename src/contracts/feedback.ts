/**
 * Operators' feedback to providers on the data they used (seed 002 第二十二条: 数据使用方 … 反馈公共
 * 数据共享质量、使用情况和应用成效; seed 001 第二十条), and the providers' answers, due like a
 * review: within the working days of policies/workflow.yaml `reviewDeadline`, on the same calendar.
 */
import { appendAudit } from '../audit/index.ts';
import { PdsError } from '../errors/index.ts';
import { newId } from '../ids/index.ts';
import type { Policies } from '../policies/index.ts';
import type { Store } from '../store/index.ts';
import { domainCalendar, type WorkingCalendar } from './calendar.ts';
import { actorOf, hasRole, type Principal } from '../auth/index.ts';

export type FeedbackKind = 'data-quality' | 'usage';

export interface FeedbackInput {
  kind: FeedbackKind;
  /** The contract under which the operator used the dataset. */
  contractId: string;
  subject: string;
  body: string;
}

export interface FeedbackView extends FeedbackInput {
  id: string;
  dataset: string;
  provider: string;
  operatorOrg: string;
  createdBy: string;
  createdAt: string;
  dueAt: string;
  overdue: boolean;
  answer: { body: string; by: string; at: string } | null;
}

type Row = Record<string, string | null>;

export class FeedbackService {
  private readonly calendar: WorkingCalendar;
  private readonly now: () => Date;

  constructor(private readonly deps: { store: Store; policies: Policies; now?: () => Date }) {
    this.calendar = domainCalendar(deps.policies.workflow.calendar);
    this.now = deps.now ?? (() => new Date());
  }

  private view(r: Row): FeedbackView {
    const answered = r.answered_at !== null;
    return {
      id: r.id!,
      dataset: r.dataset!,
      provider: r.provider!,
      operatorOrg: r.operator_org!,
      contractId: r.contract_id!,
      kind: r.kind as FeedbackKind,
      subject: r.subject!,
      body: r.body!,
      createdBy: r.created_by!,
      createdAt: r.created_at!,
      dueAt: r.due_at!,
      overdue: !answered && this.now().toISOString() > r.due_at!,
      answer: answered ? { body: r.answer!, by: r.answered_by!, at: r.answered_at! } : null,
    };
  }

  /** An operator's feedback on a dataset it used: under one of its contracts that grants the dataset. */
  async file(p: Principal, dataset: string, input: FeedbackInput, requestId?: string): Promise<FeedbackView> {
    const ds = this.deps.policies.catalog.datasets[dataset];
    if (!ds) throw new PdsError('ERR_NOT_FOUND', `dataset ${dataset} is not in the catalog`);
    const contract = await this.deps.store.one<{ operator_org: string; claims: string }>(
      'SELECT operator_org, claims FROM contracts WHERE id = $1',
      [input.contractId],
    );
    if (!contract || contract.operator_org !== p.org)
      throw new PdsError('ERR_NOT_FOUND', `contract ${input.contractId} not found`);
    const granted = (JSON.parse(contract.claims) as { datasets: { dataset: string }[] }).datasets.map((d) => d.dataset);
    if (!granted.includes(dataset))
      throw new PdsError(
        'ERR_VALIDATION',
        `contract ${input.contractId} does not grant ${dataset} (it grants ${granted.join(', ')}): feedback is on data you used`,
        { errors: [{ field: '/body/contractId', message: `a contract that grants ${dataset}` }] },
      );
    const now = this.now();
    const id = newId('fbk', now);
    const dueAt = this.calendar.deadline(now, this.deps.policies.workflow.reviewDeadline.workingDays).toISOString();
    await this.deps.store.write(async (tx) => {
      await tx.run(
        `INSERT INTO dataset_feedback (id, dataset, provider, operator_org, contract_id, kind, subject, body, created_by, created_at, due_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          id,
          dataset,
          ds.provider,
          p.org,
          input.contractId,
          input.kind,
          input.subject,
          input.body,
          p.sub,
          now.toISOString(),
          dueAt,
        ],
        'dataset_feedback',
      );
      await appendAudit(tx, {
        actor: actorOf(p, 'operator'),
        action: 'feedback.filed',
        objectType: 'dataset',
        objectId: dataset,
        requestId,
        details: { feedbackId: id, kind: input.kind, contractId: input.contractId, dueAt },
      });
    });
    return this.get(p, id);
  }

  async get(p: Principal, id: string): Promise<FeedbackView> {
    const r = await this.deps.store.one<Row>('SELECT * FROM dataset_feedback WHERE id = $1', [id]);
    if (!r || !this.canSee(p, r)) throw new PdsError('ERR_NOT_FOUND', `feedback ${id} not found`);
    return this.view(r);
  }

  private canSee(p: Principal, r: Row): boolean {
    return (
      hasRole(p, 'bureau', 'risk') ||
      (hasRole(p, 'provider') && p.org === r.provider) ||
      (hasRole(p, 'operator') && p.org === r.operator_org)
    );
  }

  /** A provider's inbox, an operator's sent feedback, or everything (bureau, risk); newest first. */
  async list(p: Principal, filter: { open?: boolean; dataset?: string }): Promise<FeedbackView[]> {
    const where: string[] = [];
    const params: string[] = [];
    const add = (sql: string, v: string) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (!hasRole(p, 'bureau', 'risk')) {
      if (hasRole(p, 'provider')) add('provider = ?', p.org);
      else add('operator_org = ?', p.org);
    }
    if (filter.dataset) add('dataset = ?', filter.dataset);
    if (filter.open !== undefined) where.push(filter.open ? 'answered_at IS NULL' : 'answered_at IS NOT NULL');
    const rows = await this.deps.store.all<Row>(
      `SELECT * FROM dataset_feedback${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC LIMIT 500`,
      params,
    );
    return rows.map((r) => this.view(r));
  }

  /** The dataset's provider answers, once. */
  async answer(p: Principal, id: string, body: string, requestId?: string): Promise<FeedbackView> {
    await this.deps.store.write(async (tx) => {
      const r = await tx.one<Row>('SELECT * FROM dataset_feedback WHERE id = $1', [id]);
      if (!r || !this.canSee(p, r)) throw new PdsError('ERR_NOT_FOUND', `feedback ${id} not found`);
      if (!(hasRole(p, 'provider') && p.org === r.provider))
        throw new PdsError('ERR_AUTH_FORBIDDEN', `only ${r.dataset}'s provider (${r.provider!}) answers its feedback`);
      if (r.answered_at) throw new PdsError('ERR_FEEDBACK_ANSWERED', `feedback ${id} was answered on ${r.answered_at}`);
      const at = this.now().toISOString();
      await tx.run(
        'UPDATE dataset_feedback SET answer = $1, answered_by = $2, answered_at = $3 WHERE id = $4',
        [body, p.sub, at, id],
        'dataset_feedback',
      );
      await appendAudit(tx, {
        actor: actorOf(p, 'provider'),
        action: 'feedback.answered',
        objectType: 'dataset',
        objectId: r.dataset!,
        requestId,
        details: { feedbackId: id, late: at > r.due_at! },
      });
    });
    return this.get(p, id);
  }
}
