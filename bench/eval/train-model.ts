/** Trains one model on the leave-two-out split and scores every evaluated user's candidates. */
import { readFileSync } from 'node:fs';
import { ItemCoder, type ItemCode, type KeySequence } from '../../src/model/encode';
import { offlineConfig } from '../../src/model/config';
import { createNetwork } from '../../src/model/index';
import { useNodeBackend } from '../../src/offline/node-backend';
import { candidates, evaluate, parsePairs, splitLastTwo } from '../../src/offline/eval-protocol';
import { weightShapes } from '../../src/model/network';
import { encodeWeights } from '../../src/model/serialize';
import { fit } from '../../src/offline/trainer';
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
  /** Models to train one after another (their scores averaged); fewer when time runs out. */
  models: number;
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
  /** Models trained and averaged. */
  models: number;
  /** Time the first model took, s. */
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
  const sequences: KeySequence[] = split.train.map((keys) => ({ keys }));
  // Validation during training on a fixed sample of users; the final choice uses all of them.
  const n = Math.min(6000, split.evalUsers.length);
  const sample = Int32Array.from({ length: n }, (_, i) => Math.floor((i * split.evalUsers.length) / n));
  const all = Int32Array.from(split.evalUsers.keys());
  const valid = new Float32Array(all.length * 101);
  const test = new Float32Array(all.length * 101);
  let out: TrainOutcome | undefined;
  // Models one after another until the deadline, each with its own seed and time slice; their
  // scores are averaged. Early stopping usually ends a model well before its slice does.
  for (let m = 0; m < Math.max(1, job.models); m++) {
    const started = Date.now();
    const left = job.deadline - started;
    const slice = left / (job.models - m);
    // A model needs about as long as the first one took to its best epoch; skip one that cannot get it.
    if (out && left < 0.5 * out.seconds * 1000) break;
    const tag = job.models > 1 ? `${job.tag}.${m + 1}` : job.tag;
    const say = (s: string): void => print(`[${tag}] ${s}`);
    const net = createNetwork({ ...evalConfig(ds.numItems, job.config), seed: job.modelSeed + 100 * m });
    const coder = new ItemCoder(net.config);
    const codes: ItemCode[] = ds.itemIds.map((id) => coder.code(id));
    if (m === 0) say(`${net.numParams} parameters, config ${JSON.stringify(net.config)}`);
    const scorer = modelScorer(net, split, codes);
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
      timeBudgetMs: started + slice - Date.now(),
      warmupSteps: 100,
      maxEpochs: job.maxEpochs,
      patience: Number(process.env.ATTNFLOW_PATIENCE ?? 4),
      spectralInit: process.env.ATTNFLOW_SPECTRAL !== '0',
      reserveMs: () => 1.3 * validationMs * (1 + (2 * split.evalUsers.length) / n),
      validate,
      log: say,
    });
    const v = scorer(all, 'valid', valC, 101);
    const t = scorer(all, 'test', testC, 101);
    for (let i = 0; i < valid.length; i++) {
      valid[i] += (v[i] - valid[i]) / (m + 1);
      test[i] += (t[i] - test[i]) / (m + 1);
    }
    const shapes = new Map(weightShapes(net.config));
    const weights = [...net.snapshot()].map(
      ([name, data]) => [name, shapes.get(name) as number[], data] as [string, number[], Float32Array],
    );
    say(
      `trained ${res.epochs} epochs (best ${res.bestEpoch}), valid NDCG@10 ${evaluate(split, valC, 'valid', () => v, job.seed).ndcg.toFixed(4)}` +
        (m > 0 ? `, mean of ${m + 1}: ${evaluate(split, valC, 'valid', () => valid, job.seed).ndcg.toFixed(4)}` : '') +
        `, ${((Date.now() - started) / 1000).toFixed(0)}s`,
    );
    out = {
      valid,
      test,
      validNdcg: evaluate(split, valC, 'valid', () => valid, job.seed).ndcg,
      numParams: net.numParams,
      bytesInt8: out?.bytesInt8 ?? encodeWeights(net.config, weights, 'int8').length,
      bytesFloat16: out?.bytesFloat16 ?? encodeWeights(net.config, weights, 'float16').length,
      // Epochs and time of the first model: the later ones run in what time it left.
      epochs: out?.epochs ?? res.epochs,
      bestEpoch: out?.bestEpoch ?? res.bestEpoch,
      models: m + 1,
      seconds: out?.seconds ?? (Date.now() - started) / 1000,
    };
    net.dispose();
  }
  err(`${out?.models} model(s), ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  return out as TrainOutcome;
}
