export { runDemo, runSteps } from './run.ts';
export { StepFailed, type DemoContext, type DemoOptions, type DemoSummary } from './context.ts';
export { DEMO_STEPS, type DemoStep } from './steps.ts';
