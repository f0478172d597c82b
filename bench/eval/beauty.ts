/**
 * The SASRec-protocol run: data, split, baselines, then the model. Models train in worker threads
 * (one per core), each worker several models one after another with different seeds; on the
 * validation item the run picks one worker's average or the average of all models' scores, and
 * reports that choice on the test item.
 */
import type { ModelConfig } from '../../src/model/types';
import { popularity, popularityScorer, transitionScorer } from './baselines';
import { candidates, evaluate, fmt, parsePairs, splitLastTwo } from './protocol';
import { trainAndScore, type TrainJob, type TrainOutcome } from './train-model';
import { fixed, inWorker } from './workers';

export interface BeautyOptions {
  file: string;
  seed: number;
  /** Whole run's wall-clock budget, s. */
  budgetS: number;
  backend: 'wasm' | 'cpu';
  /** Models trained in parallel (worker threads); default 2. */
  workers: number;
  /** Models per worker, trained one after another while the budget lasts; default 2. */
  models: number;
  dim?: number;
}

const err = (s: string): void => void process.stderr.write(s + '\n');

export async function runBeauty(text: string, o: BeautyOptions): Promise<void> {
  const t0 = Date.now();
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

  const overrides = process.env.ATTNFLOW_EVAL_CONFIG ? (JSON.parse(process.env.ATTNFLOW_EVAL_CONFIG) as Partial<ModelConfig>) : {};
  if (o.dim) overrides.dim = o.dim;
  // Leave time for the final scoring of all users after training stops.
  // (train-model.ts also keeps time for scoring, measured from its validations.)
  const deadline = t0 + o.budgetS * 1000 - 30_000;
  const jobs: TrainJob[] = Array.from({ length: Math.max(1, o.workers) }, (_, i) => ({
    file: o.file,
    seed: o.seed,
    modelSeed: o.seed * 1000 + i + 1,
    config: overrides,
    deadline,
    backend: o.backend,
    tokensPerBatch: Number(process.env.ATTNFLOW_TOKENS ?? 2048),
    maxEpochs: Number(process.env.ATTNFLOW_EPOCHS ?? 200),
    tag: `model ${i + 1}`,
    models: o.models,
  }));
  const outcomes =
    jobs.length === 1 ? [await trainAndScore(jobs[0])] : await Promise.all(jobs.map((job) => inWorker<TrainOutcome>('./worker.ts', job)));

  // Choice on the validation item: one worker's models, or the mean of all models' scores.
  const options: { name: string; valid: Float32Array; test: Float32Array }[] = outcomes.map((m, i) => ({
    name: m.models > 1 ? `worker ${i + 1} (mean of ${m.models} models)` : `model ${i + 1}`,
    valid: m.valid,
    test: m.test,
  }));
  if (outcomes.length > 1) {
    const mean = (key: 'valid' | 'test'): Float32Array => {
      const out = new Float32Array(outcomes[0][key].length);
      for (const m of outcomes) for (let i = 0; i < out.length; i++) out[i] += m[key][i] / outcomes.length;
      return out;
    };
    options.push({ name: `mean of all ${outcomes.reduce((a, m) => a + m.models, 0)} models`, valid: mean('valid'), test: mean('test') });
  }
  let best = options[0];
  let bestNdcg = -1;
  for (const opt of options) {
    const m = evaluate(split, valC, 'valid', fixed(opt.valid), o.seed);
    err(fmt(`valid ${opt.name}`, m));
    if (m.ndcg > bestNdcg) {
      bestNdcg = m.ndcg;
      best = opt;
    }
  }
  const m0 = outcomes[0];
  err(
    `chosen on validation: ${best.name}; per model ${m0.numParams} parameters, ` +
      `${m0.bytesInt8} bytes int8, ${m0.bytesFloat16} bytes float16; first model per worker: ` +
      outcomes.map((m) => `${m.epochs} epochs (best ${m.bestEpoch}) in ${m.seconds.toFixed(0)}s`).join(', '),
  );
  err(`total ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  console.log(fmt('model', evaluate(split, testC, 'test', fixed(best.test), o.seed)));
}
