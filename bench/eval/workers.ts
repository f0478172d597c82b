/** What the evaluation's runs share: a training job in a worker thread, and fixed scores as a scorer. */
import { Worker } from 'node:worker_threads';
import type { Scorer } from './protocol';

const err = (s: string): void => void process.stderr.write(s + '\n');

/** Runs `entry` (a TypeScript file beside this one) in a worker thread with `data`; its log lines go to stderr. */
export function inWorker<T>(entry: string, data: unknown): Promise<T> {
  // Workers do not inherit tsx's loader: register it, then load the TypeScript entry.
  const url = new URL(entry, import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  return new Promise((resolve, reject) => {
    const w = new Worker(boot, { eval: true, workerData: data });
    w.on('message', (m: { log?: string; result?: T }) => {
      if (m.log !== undefined) err(m.log);
      if (m.result) {
        resolve(m.result);
        void w.terminate();
      }
    });
    w.once('error', reject);
  });
}

/** Scores computed before, every user's `C` candidates in a row, as a scorer of the protocol. */
export const fixed =
  (scores: Float32Array): Scorer =>
  (rows, _s, _c, C) => {
    const out = new Float32Array(rows.length * C);
    rows.forEach((r, i) => out.set(scores.subarray(r * C, (r + 1) * C), i * C));
    return out;
  };
