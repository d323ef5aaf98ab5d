export { createServer, serve } from './server.ts';
export { app } from './app.ts';
export { problemType } from './problem.ts';
