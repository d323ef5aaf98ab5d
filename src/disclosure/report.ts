/** What one disclosure check did, with its parameters: it goes into the output's metadata and manifest. */
export interface CheckReport {
  check: string;
  params: Record<string, number | string>;
  passed: boolean;
  /** What a failure means: `hold` for a reviewer's decision, `refuse` outright. */
  /** The rule a refusal is recorded under, when it is not the check's name (reports categorize by it). */
  rule?: string;
  onFail?: 'hold' | 'refuse';
  /** What the check changed, in English words (kept for API clients; the console writes its own, issue 33). */
  effect: string;
  /**
   * The specifics `effect` names, as machine values, so a reader can say them in its own words
   * without parsing the sentence (docs/architecture.md §16): e.g. a held differencing check's
   * `pairedWith` (the earlier output) and `rows`, a held max-rows check's `rows`.
   */
  facts?: Record<string, number | string>;
  rowsSuppressed?: number;
  cellsSuppressed?: number;
}
