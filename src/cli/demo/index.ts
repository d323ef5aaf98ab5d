export { runDemo } from './run.ts';
export type { DemoOptions, DemoSummary } from './context.ts';
export { DEMO_STEPS, type DemoStep } from './steps.ts';
