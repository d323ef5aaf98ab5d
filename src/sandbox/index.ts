export { analyseQuery, SqlParser, UNITS_COLUMN, type Analysis, type AnalysisPolicy, type QueryMode } from './analysis.ts';
export { disposeRunners, runInSandbox, warmRunners, type SandboxResult } from './runner.ts';
export type { RunRequest, RunResponse, SandboxLimits } from './protocol.ts';
