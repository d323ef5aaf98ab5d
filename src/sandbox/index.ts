export { analyseQuery, functionAllowlist, type Analysis, type AnalysisOptions, type QueryMode } from './analysis.ts';
export { SqlParser, type Node, type SqlRule } from './ast.ts';
export { RESERVED_PREFIX, sqlPolicy, type FunctionAllowlist, type SqlPolicy } from './references.ts';
export { UNITS_COLUMN, unitsColumnName, type DominanceColumn, type Signature } from './units.ts';
export {
  configureOsSandbox,
  osSandboxStatus,
  disposeRunners,
  forgetRunners,
  loaderArgs,
  runInSandbox,
  runnerEvents,
  warmRunners,
  type ProcessLimits,
  type RunOptions,
  type SandboxResult,
} from './runner.ts';
export {
  SANDBOX_LAYERS,
  type RunRequest,
  type RunResponse,
  type SandboxLayer,
  type SandboxLimits,
} from './protocol.ts';
export { DP_COUNT, DP_ROWS, dpSquareColumn, dpSumColumn, type DpKind, type DpMeasure, type DpPlan } from './dp.ts';
export { bindingFacts, SchemaBinder, type BoundColumn } from './binder.ts';
export { describeOsSandbox, type OsSandboxSetting, type OsSandboxStatus } from './confine.ts';
export { type PerturbationSpec, type Perturbed } from './perturb.ts';
export { runtimeMessage } from './runtime-errors.ts';
export { executeRun, runFacts, type ExecuteOptions } from './execute.ts';
