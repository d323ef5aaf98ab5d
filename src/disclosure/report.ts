/** What one disclosure check did, with its parameters: it goes into the output's metadata and manifest. */
export interface CheckReport {
  check: string;
  params: Record<string, number | string>;
  passed: boolean;
  /** What a failure means: `hold` for a reviewer's decision, `refuse` outright. */
  /** The rule a refusal is recorded under, when it is not the check's name (reports categorize by it). */
  rule?: string;
  onFail?: 'hold' | 'refuse';
  /** What the check changed, in words a reviewer reads. */
  effect: string;
  rowsSuppressed?: number;
  cellsSuppressed?: number;
}
