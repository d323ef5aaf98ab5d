/**
 * An operator's acknowledgement of a risk report about it (seed 002 第三十四条(四): the operator
 * 报送风险评估报告 — here it answers the bureau's assessment with its own statement). The
 * statement is sealed by the bureau key together with the hash of the report's signature, so the
 * record says, verifiably, who acknowledged which report and what they said; the report's own
 * signed content never changes.
 */
import type { JWTVerifyGetKey } from 'jose';
import { Type } from 'typebox';
import { appendAudit } from '../audit/index.ts';
import { canSeeOperatorWork, type Principal } from '../auth/index.ts';
import { sha256 } from '../digest/index.ts';
import { PdsError } from '../errors/index.ts';
import { BUREAU_ISSUER, openSealed, seal, type KeyRing } from '../keys/index.ts';
import type { Store } from '../store/index.ts';

export const ACKNOWLEDGEMENT_TYP = 'pds-report-ack+jwt';

export interface Acknowledgement {
  reportId: string;
  org: string;
  by: string;
  statement: string;
  at: string;
  /** Bureau-sealed {reportJwsSha256, statement, by, org}; verify against /.well-known/jwks.json. */
  jws: string;
}

const AckClaimsSchema = Type.Object({
  reportJwsSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  statement: Type.String(),
  by: Type.String(),
  org: Type.String(),
});

type Row = Record<string, string>;

const view = (r: Row): Acknowledgement => ({
  reportId: r.report_id!,
  org: r.org!,
  by: r.acknowledged_by!,
  statement: r.statement!,
  at: r.acknowledged_at!,
  jws: r.jws!,
});

export async function listAcknowledgements(store: Pick<Store, 'all'>, reportId: string): Promise<Acknowledgement[]> {
  const rows = await store.all<Row>(
    'SELECT * FROM report_acknowledgements WHERE report_id = $1 ORDER BY acknowledged_at',
    [reportId],
  );
  return rows.map(view);
}

/** The operator a report is about acknowledges it, once, with a statement. */
export async function acknowledgeReport(
  deps: { store: Store; keys: KeyRing; now: () => Date },
  p: Principal,
  reportId: string,
  statement: string,
  requestId?: string,
): Promise<Acknowledgement> {
  const row = await deps.store.one<{ kind: string; operator_org: string | null; jws: string }>(
    'SELECT kind, operator_org, jws FROM reports WHERE id = $1',
    [reportId],
  );
  if (!row || row.kind === 'domain' || !row.operator_org || !canSeeOperatorWork(p, row.operator_org))
    throw new PdsError('ERR_NOT_FOUND', `report ${reportId} not found`);
  if (!p.roles.includes('operator') || p.org !== row.operator_org)
    throw new PdsError(
      'ERR_AUTH_FORBIDDEN',
      `only ${row.operator_org}, the operator the report is about, acknowledges it`,
    );
  const at = deps.now();
  const jws = await seal(
    deps.keys.bureau,
    { reportJwsSha256: sha256(row.jws), statement, by: p.sub, org: p.org },
    {
      typ: ACKNOWLEDGEMENT_TYP,
      issuer: BUREAU_ISSUER,
      subject: reportId,
      jti: `${reportId}:${p.org}`,
      issuedAt: Math.floor(at.getTime() / 1000),
    },
  );
  await deps.store.write(async (tx) => {
    if (await tx.one('SELECT 1 AS x FROM report_acknowledgements WHERE report_id = $1 AND org = $2', [reportId, p.org]))
      throw new PdsError('ERR_REPORT_ACKNOWLEDGED', `${p.org} has acknowledged report ${reportId} already`);
    await tx.run(
      'INSERT INTO report_acknowledgements (report_id, org, acknowledged_by, statement, acknowledged_at, jws) VALUES ($1, $2, $3, $4, $5, $6)',
      [reportId, p.org, p.sub, statement, at.toISOString(), jws],
      'report_acknowledgements',
    );
    await appendAudit(tx, {
      actor: { sub: p.sub, org: p.org, role: 'operator' },
      action: 'report.acknowledged',
      objectType: 'report',
      objectId: reportId,
      requestId,
      details: { statementSha256: sha256(statement) },
    });
  });
  return { reportId, org: p.org, by: p.sub, statement, at: at.toISOString(), jws };
}

/** Verifies an acknowledgement against the bureau's keys and the report's own signature. */
export async function verifyAcknowledgement(
  ack: Pick<Acknowledgement, 'jws' | 'reportId'>,
  reportJws: string,
  key: JWTVerifyGetKey,
): Promise<{ statement: string; by: string; org: string }> {
  const claims = await openSealed<{ reportJwsSha256: string; statement: string; by: string; org: string }>(
    ack.jws,
    key,
    AckClaimsSchema,
    { typ: ACKNOWLEDGEMENT_TYP, issuer: BUREAU_ISSUER, requiredClaims: ['sub', 'jti'] },
  );
  if (claims.sub !== ack.reportId || claims.reportJwsSha256 !== sha256(reportJws))
    throw new PdsError('ERR_VALIDATION', `the acknowledgement is not of report ${ack.reportId} as signed`);
  return claims;
}
