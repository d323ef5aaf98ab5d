import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import { storedIndicator } from '../contracts/index.ts';
import { PdsError } from '../errors/index.ts';
import { renderHtml } from './html.ts';
import type { RiskAssessmentReport } from './report.ts';
import { RiskAssessmentReportSchema } from './schema.ts';

// What every read of a report needs (docs/architecture.md §14): the API serializes the JSON by the
// schema and the console reads it through the API, the HTML page is rendered once and stored.
const compile = () => Compile(RiskAssessmentReportSchema);
let compiled: ReturnType<typeof compile> | undefined;
const checker = () => (compiled ??= compile());

/**
 * The HTML page of a report about to be signed, once the report is known to be one every read can
 * show: a report the schema does not describe, or whose page does not render, is refused with
 * ERR_REPORT_UNRENDERABLE before anything is stored or signed (issue 32: a report stored and signed
 * with a text value answered 500 to every read, for good).
 */
export function renderOrRefuse(report: RiskAssessmentReport, bodySha256: string): string {
  const what = `the ${report.kind} report of ${report.subject} for ${report.period?.label}`;
  const check = checker();
  if (!check.Check(report)) {
    // field paths only: a value could be anything the store held
    const fields = [...new Set([...check.Errors(report)].map((e) => e.instancePath || '/'))].slice(0, 5);
    throw new PdsError(
      'ERR_REPORT_UNRENDERABLE',
      `${what} cannot be shown as the API publishes reports (${fields.join(', ')} not as the schema says); nothing was stored or signed — the data behind those fields needs repair`,
    );
  }
  try {
    return renderHtml(report, bodySha256);
  } catch (err) {
    throw new PdsError(
      'ERR_REPORT_UNRENDERABLE',
      `the page of ${what} cannot be rendered; nothing was stored or signed`,
      {
        cause: err,
      },
    );
  }
}

/** A stored report as reads serve it; `asSigned` only when it was read in today's shape (see readStoredReport). */
export interface ReadReport {
  report: RiskAssessmentReport;
  asSigned?: string;
}

/**
 * A stored report, leniently: one an earlier version made (before fields were added to reports, or
 * with an indicator stored as text) is read in today's shape — text values as not measured, fields
 * it did not have zero or empty — and comes with its body exactly as signed, which its JWS verifies.
 */
export function readStoredReport(body: string): ReadReport {
  const report = JSON.parse(body) as RiskAssessmentReport;
  if (checker().Check(report)) return { report };
  const facts = (report as { facts?: { effectiveness?: unknown } }).facts;
  if (facts && Array.isArray(facts.effectiveness))
    facts.effectiveness = facts.effectiveness.map((e: { indicators?: unknown }) => ({
      ...e,
      indicators: Array.isArray(e?.indicators) ? e.indicators.map(storedIndicator) : [],
    }));
  return { report: Value.Repair(RiskAssessmentReportSchema, report) as RiskAssessmentReport, asSigned: body };
}
