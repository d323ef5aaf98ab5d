/**
 * The zh-CN words of the system (issue 33; docs/glossary.md): machine values → terms, error codes →
 * sentences, instants → Asia/Shanghai times. A neutral part: it imports nothing but the error
 * codes' type, so the console and the report page (src/reports) both take their words from here
 * without either importing the other (test/architecture.test.ts).
 */
export {
  ATTRIBUTE,
  CHECK,
  CLASSIFICATION,
  DECISION,
  DESTRUCTION_KIND,
  DESTRUCTION_WHY,
  FEEDBACK_KIND,
  FILE_REMOVAL,
  IDENTIFIER_ROLE,
  LAYER,
  MASKING,
  maskingRule,
  MODE,
  ON_FAIL,
  RATING,
  RATING_RULE,
  REFUSAL_CATEGORY,
  REGISTER_KIND,
  REGISTER_REASON,
  REPORT_KIND,
  REPORT_TRIGGER,
  ROLE,
  STATUS,
  term,
  TREND_METRIC,
  UPDATE_CYCLE,
} from './words.ts';
export { ERROR_ZH, errorText, problemText } from './errors.ts';
export { refusalZh, SQL_RULE } from './refusals.ts';
export { auditBreakText } from './audit.ts';
export {
  kBelowPolicyText,
  overrideText,
  policyWarningText,
  prosecutorRiskText,
  sensitiveFactsText,
} from './warnings.ts';
export { shanghaiDate, shanghaiTime } from './time.ts';
