/** Worker thread entry: trains and scores one model (see train-model.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { trainAndScore, type TrainJob } from './train-model';

const out = await trainAndScore(workerData as TrainJob);
parentPort?.postMessage(out, [out.valid.buffer, out.test.buffer]);
