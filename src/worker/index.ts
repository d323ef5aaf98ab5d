export { executeRun, type RunOptions } from './run.ts';
export { startWorker, type RunningWorker, type WorkerOptions } from './loop.ts';
