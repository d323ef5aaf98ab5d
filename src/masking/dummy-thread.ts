/**
 * The dummy-data thread's entry: one request's rows, generated off the API's event loop (faker and
 * the masking SQL take tens to hundreds of milliseconds of CPU for 10,000 rows).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { dummyData } from './dummy.ts';

parentPort!.postMessage(await dummyData(workerData as Parameters<typeof dummyData>[0]));
