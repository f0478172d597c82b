/** Trains one model on the leave-two-out split and scores every evaluated user's candidates. */
import { readFileSync } from 'node:fs';
import { ItemCoder, type ItemCode, type KeySequence } from '../../src/model/encode';
import { offlineConfig } from '../../src/model/config';
import { createNetwork } from '../../src/model/index';
import { useNodeBackend } from '../../src/model/node-backend';
import { candidates, evaluate, parsePairs, splitLastTwo } from '../../src/model/protocol';
import { weightShapes } from '../../src/model/network';
import { encodeWeights } from '../../src/model/serialize';
import { fit } from '../../src/model/trainer';
import type { ModelConfig } from '../../src/model/types';
import { modelScorer } from './model-scorer';

export interface TrainJob {
  file: string;
  /** Protocol seed (split candidates, tie-breaking). */
  seed: number;
  /** Model seed (initialisation, batches, negatives, dropout). */
  modelSeed: number;
  config: Partial<ModelConfig>;
  /** Training stops at this wall-clock time (ms since epoch). */
  deadline: number;
  backend: 'wasm' | 'cpu';
  tokensPerBatch: number;
  maxEpochs: number;
  tag: string;
}

export interface TrainOutcome {
  valid: Float32Array;
  test: Float32Array;
  validNdcg: number;
  numParams: number;
  bytesInt8: number;
  bytesFloat16: number;
  epochs: number;
  bestEpoch: number;
  seconds: number;
}

/** Settings for the offline model (chosen on the validation item only). */
export const evalConfig = offlineConfig;

export async function trainAndScore(
  job: TrainJob,
  print: (line: string) => void = (line) => void process.stderr.write(line + '\n'),
): Promise<TrainOutcome> {
  const t0 = Date.now();
  const err = (s: string): void => print(`[${job.tag}] ${s}`);
  const ds = parsePairs(readFileSync(job.file, 'utf8'));
  const split = splitLastTwo(ds);
  const valC = candidates(ds, split, 'valid', job.seed);
  const testC = candidates(ds, split, 'test', job.seed);
  await useNodeBackend(job.backend);
  const net = createNetwork({ ...evalConfig(ds.numItems, job.config), seed: job.modelSeed });
  const coder = new ItemCoder(net.config);
  const codes: ItemCode[] = ds.itemIds.map((id) => coder.code(id));
  const sequences: KeySequence[] = split.train.map((keys) => ({ keys }));
  err(`${net.numParams} parameters, config ${JSON.stringify(net.config)}`);
  const scorer = modelScorer(net, split, codes);
  // Validation during training on a fixed sample of users; the final choice uses all of them.
  const n = Math.min(6000, split.evalUsers.length);
  const sample = Int32Array.from({ length: n }, (_, i) => Math.floor((i * split.evalUsers.length) / n));
  // The final scoring (every user, both stages) is timed from the last validation on the sample.
  let validationMs = 0;
  const validate = (): number => {
    const v0 = Date.now();
    const ndcg = evaluate(split, valC, 'valid', scorer, job.seed, sample).ndcg;
    validationMs = Date.now() - v0;
    return ndcg;
  };
  const res = fit(net, {
    sequences,
    codes,
    tokensPerBatch: job.tokensPerBatch,
    timeBudgetMs: job.deadline - Date.now(),
    warmupSteps: 100,
    maxEpochs: job.maxEpochs,
    patience: Number(process.env.ATTNFLOW_PATIENCE ?? 6),
    spectralInit: process.env.ATTNFLOW_SPECTRAL !== '0',
    reserveMs: () => 1.3 * validationMs * (1 + (2 * split.evalUsers.length) / n),
    validate,
    log: err,
  });
  const all = Int32Array.from(split.evalUsers.keys());
  const valid = scorer(all, 'valid', valC, 101);
  const test = scorer(all, 'test', testC, 101);
  const validNdcg = evaluate(split, valC, 'valid', () => valid, job.seed).ndcg;
  const shapes = new Map(weightShapes(net.config));
  const weights = [...net.snapshot()].map(([name, data]) => [name, shapes.get(name) as number[], data] as [string, number[], Float32Array]);
  const out: TrainOutcome = {
    valid,
    test,
    validNdcg,
    numParams: net.numParams,
    bytesInt8: encodeWeights(net.config, weights, 'int8').length,
    bytesFloat16: encodeWeights(net.config, weights, 'float16').length,
    epochs: res.epochs,
    bestEpoch: res.bestEpoch,
    seconds: (Date.now() - t0) / 1000,
  };
  err(`trained ${res.epochs} epochs (best ${res.bestEpoch}), valid NDCG@10 ${validNdcg.toFixed(4)}, ${out.seconds.toFixed(0)}s`);
  net.dispose();
  return out;
}
