/** Worker thread entry: one federated training run (see federated-train.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { type FederatedJob, federatedTrain } from './federated-train';

const out = await federatedTrain(workerData as FederatedJob, (line) => parentPort?.postMessage({ log: line }));
parentPort?.postMessage({ result: out }, [out.valid.buffer, out.test.buffer]);
