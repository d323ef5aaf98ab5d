export { analyseQuery, SqlParser, UNITS_COLUMN, type Analysis, type AnalysisPolicy, type QueryMode } from './analysis.ts';
export { runInSandbox, type SandboxResult } from './runner.ts';
export type { RunRequest, RunResponse, SandboxLimits } from './protocol.ts';
