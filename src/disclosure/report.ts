/** What one disclosure check did, with its parameters: it goes into the output's metadata and manifest. */
export interface CheckReport {
  check: string;
  params: Record<string, number | string>;
  passed: boolean;
  /** What a failure means: `hold` for a reviewer's decision, `refuse` outright. */
  onFail?: 'hold' | 'refuse';
  /** What the check changed, in words a reviewer reads. */
  effect: string;
  rowsSuppressed?: number;
  cellsSuppressed?: number;
}
