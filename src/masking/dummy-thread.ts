/**
 * The dummy-data thread's entry: one request's rows, generated and serialized off the API's event
 * loop (faker, the masking SQL and JSON take tens to hundreds of milliseconds for 10,000 rows).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { dummyData } from './dummy.ts';

// serialized here too: the API sends the text as it is, and never walks the rows on its loop
parentPort!.postMessage(JSON.stringify(await dummyData(workerData as Parameters<typeof dummyData>[0])));
