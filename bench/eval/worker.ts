/** Worker thread entry: trains and scores one model (see train-model.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { trainAndScore, type TrainJob } from './train-model';

// Training is one long synchronous loop, so progress goes out as messages (the worker's own
// stderr would only flush when its event loop runs again).
const out = await trainAndScore(workerData as TrainJob, (line) => parentPort?.postMessage({ log: line }));
parentPort?.postMessage({ result: out }, [out.valid.buffer, out.test.buffer]);
