export { startWorker, type RunningWorker, type WorkerOptions } from './loop.ts';
