/** The SASRec-protocol run: data, split, baselines, model training on validation, test. */
import { createNetwork } from '../../src/model/index';
import { ItemCoder, type ItemCode, type KeySequence } from '../../src/model/encode';
import { useNodeBackend } from '../../src/model/node-backend';
import { fit } from '../../src/model/trainer';
import type { ModelConfig } from '../../src/model/types';
import { popularity, popularityScorer, transitionScorer } from './baselines';
import { modelScorer } from './model-scorer';
import { candidates, evaluate, fmt, parsePairs, splitLastTwo } from './protocol';

export interface BeautyOptions {
  seed: number;
  /** Whole run's wall-clock budget, s. */
  budgetS: number;
  backend: 'wasm' | 'cpu';
  workers?: number;
  dim?: number;
}

/** Settings for the offline model (chosen on the validation item only). */
export function evalConfig(numItems: number, overrides: Partial<ModelConfig> = {}): Partial<ModelConfig> {
  // Buckets ≥ items and two hashes: nearly every item gets its own pair of rows.
  let buckets = 1024;
  while (buckets < numItems) buckets *= 2;
  return {
    dim: 64,
    ffnDim: 64,
    maxLen: 50,
    blocks: 2,
    heads: 1,
    dropout: 0.5,
    idBuckets: buckets,
    idHashes: 2,
    topicBuckets: 0,
    loss: 'softmax',
    negatives: 512,
    skippedNegatives: 0,
    learningRate: 2e-3,
    ...overrides,
  };
}

const err = (s: string): void => {
  process.stderr.write(s + '\n');
};

export async function runBeauty(text: string, o: BeautyOptions): Promise<void> {
  const t0 = performance.now();
  const ds = parsePairs(text);
  const split = splitLastTwo(ds);
  err(`data: ${ds.users.length} users, ${ds.numItems} items, ${split.evalUsers.length} evaluated`);
  const valC = candidates(ds, split, 'valid', o.seed);
  const testC = candidates(ds, split, 'test', o.seed);
  const pop = popularity(ds, split);
  const popS = popularityScorer(pop);
  const trS = transitionScorer(ds, split, pop);
  err(fmt('valid popularity', evaluate(split, valC, 'valid', popS, o.seed)));
  err(fmt('valid transitions', evaluate(split, valC, 'valid', trS, o.seed)));
  console.log(fmt('popularity', evaluate(split, testC, 'test', popS, o.seed)));
  console.log(fmt('transitions', evaluate(split, testC, 'test', trS, o.seed)));

  const backend = await useNodeBackend(o.backend);
  const overrides = process.env.ATTNFLOW_EVAL_CONFIG ? (JSON.parse(process.env.ATTNFLOW_EVAL_CONFIG) as Partial<ModelConfig>) : {};
  if (o.dim) overrides.dim = o.dim;
  const net = createNetwork({ ...evalConfig(ds.numItems, overrides), seed: o.seed });
  const coder = new ItemCoder(net.config);
  const codes: ItemCode[] = ds.itemIds.map((id) => coder.code(id));
  const sequences: KeySequence[] = split.train.map((keys) => ({ keys }));
  err(`model: backend ${backend}, ${net.numParams} parameters, config ${JSON.stringify(net.config)}`);
  const scorer = modelScorer(net, split, codes);
  // Validation during training on a fixed sample of users; the final choice uses all of them.
  const sample = Int32Array.from({ length: Math.min(6000, split.evalUsers.length) }, (_, i) =>
    Math.floor((i * split.evalUsers.length) / Math.min(6000, split.evalUsers.length)),
  );
  const reserveMs = 40_000; // final validation + test scoring
  const budgetMs = o.budgetS * 1000 - (performance.now() - t0) - reserveMs;
  const res = fit(net, {
    sequences,
    codes,
    tokensPerBatch: Number(process.env.ATTNFLOW_TOKENS ?? 4096),
    timeBudgetMs: budgetMs,
    warmupSteps: 100,
    maxEpochs: Number(process.env.ATTNFLOW_EPOCHS ?? 200),
    popularityPrior: process.env.ATTNFLOW_POPPRIOR !== '0',
    spectralInit: process.env.ATTNFLOW_SPECTRAL !== '0',
    patience: 6,
    validate: (n) => (n === net ? evaluate(split, valC, 'valid', scorer, o.seed, sample).ndcg : 0),
    log: err,
  });
  err(`trained: ${res.epochs} epochs, ${res.steps} steps, best epoch ${res.bestEpoch}, ${(res.elapsedMs / 1000).toFixed(0)}s`);
  err(fmt('valid model', evaluate(split, valC, 'valid', scorer, o.seed)));
  const bytes = { float16: 0, int8: 0 };
  err(`model size: ${net.numParams} parameters`);
  void bytes;
  err(`total ${((performance.now() - t0) / 1000).toFixed(0)}s`);
  console.log(fmt('model', evaluate(split, testC, 'test', scorer, o.seed)));
}
