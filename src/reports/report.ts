import type { JWTVerifyGetKey } from 'jose';
import { Type } from 'typebox';
import { PdsError } from '../errors/index.ts';
import { canonicalSha256, sha256 } from '../digest/index.ts';
import { BUREAU_ISSUER, openSealed, seal, type SigningKey } from '../keys/index.ts';
import type { RiskAssessmentReport, RiskLevel } from './schema.ts';

export type { AuditTrailState, RiskAssessmentReport } from './schema.ts';

export const REPORT_TYP = 'pds-risk-report+jwt';

/** The hash the signature seals: RFC 8785 canonical JSON, so key order or whitespace never matter. */
export function reportSha256(report: RiskAssessmentReport): string {
  return canonicalSha256(report);
}

export interface ReportClaims {
  jti: string;
  sub: string;
  kind: RiskAssessmentReport['kind'];
  period: string;
  rating: RiskLevel;
  sha256: string;
  htmlSha256: string;
}

const ReportClaimsSchema = Type.Object({
  jti: Type.String(),
  sub: Type.String(),
  kind: Type.Union([Type.Literal('contract'), Type.Literal('operator'), Type.Literal('domain')]),
  period: Type.String(),
  rating: Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')]),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  htmlSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
});

/** The bureau's signature over the report's hash (`reportSha256`, computed once by the caller) and the page's. */
export async function signReport(
  key: SigningKey,
  report: RiskAssessmentReport,
  bodySha256: string,
  html: string,
): Promise<string> {
  return seal(
    key,
    {
      kind: report.kind,
      period: report.period.label,
      rating: report.rating.level,
      sha256: bodySha256,
      htmlSha256: sha256(html),
    },
    {
      typ: REPORT_TYP,
      issuer: BUREAU_ISSUER,
      subject: report.subject,
      jti: report.id,
      issuedAt: Math.floor(Date.parse(report.generatedAt) / 1000),
    },
  );
}

/**
 * Verifies a report offline: the JWS against the bureau's keys, then the report (and the page,
 * when given) against the hashes it seals. Any change to a figure, a finding or the page fails.
 */
export async function verifyReport(
  jws: string,
  report: RiskAssessmentReport,
  html: string | undefined,
  keys: JWTVerifyGetKey,
): Promise<ReportClaims> {
  let claims: ReportClaims;
  try {
    claims = await openSealed<ReportClaims>(jws, keys, ReportClaimsSchema, {
      issuer: BUREAU_ISSUER,
      typ: REPORT_TYP,
      requiredClaims: ['jti', 'sub', 'iat'],
    });
  } catch (err) {
    throw new PdsError(
      'ERR_REPORT_SIGNATURE_INVALID',
      `the report's JWS does not verify against the bureau's keys: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (claims.jti !== report.id)
    throw new PdsError('ERR_REPORT_SIGNATURE_INVALID', `the JWS signs report ${claims.jti}, not ${report.id}`);
  const actual = reportSha256(report);
  if (claims.sha256 !== actual)
    throw new PdsError(
      'ERR_REPORT_SIGNATURE_INVALID',
      `report ${report.id} has been changed: its canonical JSON hashes to ${actual}, the signature seals ${claims.sha256}`,
    );
  if (html !== undefined && claims.htmlSha256 !== sha256(html))
    throw new PdsError('ERR_REPORT_SIGNATURE_INVALID', `the HTML page of report ${report.id} has been changed`);
  return claims;
}
