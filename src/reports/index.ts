/** Periodic risk assessment reports: figures from the store, rating rules, signed JSON and an HTML page with charts. */
export { buckets, type ContractFacts, type Figures, type RefusalCategory } from './figures.ts';
export { hasEnded, parsePeriod, periodAt, previousPeriod, type Period } from './period.ts';
export { NONE_FIRED, rate, recommendations, type Finding, type Rating, type RiskLevel } from './rating.ts';
export { REPORT_TYP, reportSha256, verifyReport, type ReportClaims, type RiskAssessmentReport } from './report.ts';
export { DOMAIN_SUBJECT, ReportService, type ReportRequest, type ReportSummary, type StoredReport } from './service.ts';
export { REPORT_QUEUE, startBullmqScheduler, startEmbeddedScheduler, type ReportScheduler } from './scheduler.ts';
export { COLORS as CHART_COLORS } from './charts.ts';
export { RiskAssessmentReportSchema } from './schema.ts';
export {
  acknowledgeReport,
  ACKNOWLEDGEMENT_TYP,
  listAcknowledgements,
  verifyAcknowledgement,
  type Acknowledgement,
} from './acknowledgements.ts';
