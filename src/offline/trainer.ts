/**
 * Offline training loop over many visitors' sequences (site-wide pretraining and the offline
 * evaluation): length-bucketed batches, uniformly sampled shared negatives, warm-up and cosine
 * learning-rate decay over a time budget, and the best validation checkpoint kept.
 * No Node, DOM or storage API: time comes from the caller's clock.
 */
import * as tf from '@tensorflow/tfjs-core';
import { trainBatch, type ItemCode, type KeySequence } from '../model/encode';
import { mulberry32 } from '../model/hash';
import type { Network } from '../model/network';
import { logCountPrior } from '../federated/statistics';
import { spectralItemVectors } from './spectral';

export interface FitOptions {
  /** Training sequences (items as keys into `codes`). */
  sequences: readonly KeySequence[];
  /** Hashed code of every item key. */
  codes: readonly ItemCode[];
  /** Positions per batch (rows × padded length); default 2048. */
  tokensPerBatch?: number;
  /** Stop after this many epochs; default 200. */
  maxEpochs?: number;
  /** Stop training after this long, ms; default no limit. */
  timeBudgetMs?: number;
  /** Time to keep free at the end of the budget for work after training, ms (asked before every step). */
  reserveMs?: () => number;
  /** Warm-up steps of the learning rate; default 100. */
  warmupSteps?: number;
  /** Validation metric (higher is better), called after every `validateEvery` epochs. */
  validate?: (net: Network) => number;
  /** Epochs between validations; default 1. */
  validateEvery?: number;
  /** Stop when the trained model has not improved on its own best for this many validations (the starting checkpoint does not count); default 5. */
  patience?: number;
  /** Progress lines (epoch, loss, validation). */
  log?: (line: string) => void;
  /** Clock in ms; default `performance.now`. */
  now?: () => number;
  /** Seed for batch order and negatives; default the network's. */
  seed?: number;
  /** Start item vectors from co-occurrence (see spectral.ts); default false. */
  spectralInit?: boolean;
  /** Start item biases at log-popularity over the training targets (a popularity prior); default true. */
  popularityPrior?: boolean;
}

export interface FitResult {
  epochs: number;
  steps: number;
  bestMetric: number;
  bestEpoch: number;
  elapsedMs: number;
  history: { epoch: number; loss: number; metric?: number; ms: number }[];
}

/** Batches of one epoch: shuffled, bucketed by length in windows so that padding stays small. */
export function epochBatches(seqs: readonly KeySequence[], maxLen: number, tokens: number, rand: () => number): number[][] {
  const order = seqs.map((_, i) => i).filter((i) => seqs[i].keys.length >= 2);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const len = (i: number): number => Math.min(maxLen, seqs[i].keys.length - 1);
  const window = 8192;
  const batches: number[][] = [];
  for (let w = 0; w < order.length; w += window) {
    const part = order.slice(w, w + window).sort((a, b) => len(a) - len(b));
    let cur: number[] = [];
    let curL = 0;
    for (const i of part) {
      const L = Math.max(curL, len(i));
      if (cur.length > 0 && (cur.length + 1) * L > tokens) {
        batches.push(cur);
        cur = [];
      }
      cur.push(i);
      curL = cur.length === 1 ? len(i) : L;
    }
    if (cur.length) batches.push(cur);
  }
  for (let i = batches.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [batches[i], batches[j]] = [batches[j], batches[i]];
  }
  return batches;
}

/** log(count + 1) of every item in the training sequences (skipped events aside), centred. */
export function popularityPrior(seqs: readonly KeySequence[], numItems: number): Float32Array {
  const counts = new Float32Array(numItems);
  for (const s of seqs) {
    for (let i = 0; i < s.keys.length; i++) if (!s.skipped?.[i]) counts[s.keys[i]] += 1;
  }
  return logCountPrior(counts);
}

/** The training batch of sequences `rows`, with `config.negatives` items drawn uniformly as shared negatives. */
function sampledBatch(net: Network, o: Pick<FitOptions, 'sequences' | 'codes'>, rows: number[], rand: () => number) {
  const c = net.config;
  const negs = new Int32Array(c.negatives);
  for (let i = 0; i < negs.length; i++) negs[i] = Math.floor(rand() * o.codes.length);
  return trainBatch(
    rows.map((r) => o.sequences[r]),
    (k) => o.codes[k],
    negs,
    c.maxLen,
    c.skippedNegatives,
    c.itemVectorDim,
  );
}

/**
 * Sets the co-occurrence vectors at the scale that gives the lowest training loss. Their directions
 * already rank well, but at the wrong scale the first steps spend themselves on calibration and
 * wreck what the vectors knew; with the scale fitted, training starts from a calibrated model.
 */
export function calibrateScale(
  net: Network,
  vectors: Float32Array,
  o: Pick<FitOptions, 'sequences' | 'codes'>,
  tokens: number,
  rand: () => number,
): { scale: number; curve: [scale: number, loss: number][] } {
  const batches = epochBatches(o.sequences, net.config.maxLen, tokens, rand)
    .slice(0, 6)
    .map((rows) => sampledBatch(net, o, rows, rand));
  const scaled = new Float32Array(vectors.length);
  const lossAt = (s: number): number => {
    for (let i = 0; i < vectors.length; i++) scaled[i] = vectors[i] * s;
    net.setItemVectors(scaled, o.codes);
    let sum = 0;
    for (const b of batches) {
      const l = tf.tidy(() => net.loss(b, false));
      sum += (l.dataSync() as Float32Array)[0];
      l.dispose();
    }
    return sum / Math.max(1, batches.length);
  };
  // Scales from 1/32 up in steps of √2, until the loss rises.
  let best = 1;
  let bestLoss = Infinity;
  const curve: [number, number][] = [];
  for (let e = -10; e <= 4; e++) {
    const s = 2 ** (e / 2);
    const l = lossAt(s);
    curve.push([s, l]);
    if (l < bestLoss) {
      bestLoss = l;
      best = s;
    } else if (l > bestLoss) break;
  }
  lossAt(best);
  return { scale: best, curve };
}

/** Trains `net` in place; on return it holds the best validated weights. */
export function fit(net: Network, o: FitOptions): FitResult {
  const c = net.config;
  const now = o.now ?? (() => performance.now());
  const t0 = now();
  const rand = mulberry32((o.seed ?? c.seed) ^ 0xf17);
  const tokens = o.tokensPerBatch ?? 2048;
  const maxEpochs = o.maxEpochs ?? 200;
  const budget = o.timeBudgetMs ?? Infinity;
  const warm = o.warmupSteps ?? 100;
  const every = o.validateEvery ?? 1;
  const patience = o.patience ?? 5;
  const log = o.log ?? (() => {});
  const numItems = o.codes.length;
  const history: FitResult['history'] = [];
  let best = -Infinity;
  let bestEpoch = 0;
  // Patience counts against trained epochs only: training first falls below a good starting point
  // (co-occurrence vectors) and needs a while to pass it, which is not a reason to stop.
  let bestTrained = -Infinity;
  let bestWeights: Map<string, Float32Array> | undefined;
  let steps = 0;
  let epoch = 0;
  let stale = 0;
  let validatedAt = 0;
  // Steps the budget allows, estimated after the first epoch, drive the cosine decay.
  let totalSteps = Infinity;
  if (o.popularityPrior ?? true) net.setBiasPrior(popularityPrior(o.sequences, numItems), o.codes);
  if (o.spectralInit) {
    const t = now();
    const vectors = spectralItemVectors(o.sequences, numItems, c.dim, { seed: c.seed });
    const { scale } = calibrateScale(net, vectors, o, tokens, rand);
    log(`spectral item vectors: scale ${scale.toFixed(3)}, ${((now() - t) / 1000).toFixed(1)}s`);
  }
  if (o.validate) {
    // The starting point (popularity prior, co-occurrence vectors) is a checkpoint too: a short
    // budget must never end worse than where it began.
    best = o.validate(net);
    bestWeights = net.snapshot();
    history.push({ epoch: 0, loss: NaN, metric: best, ms: now() - t0 });
    log(`epoch 0 (start) valid NDCG@10 ${best.toFixed(4)} ${((now() - t0) / 1000).toFixed(0)}s`);
  }
  outer: for (epoch = 1; epoch <= maxEpochs; epoch++) {
    const batches = epochBatches(o.sequences, c.maxLen, tokens, rand);
    let lossSum = 0;
    let lossN = 0;
    for (const rows of batches) {
      const elapsed = now() - t0;
      if (elapsed > budget - (o.reserveMs?.() ?? 0)) break outer;
      const progress = Math.min(1, Math.max(steps / totalSteps, elapsed / budget));
      const lr = c.learningRate * Math.min(1, (steps + 1) / warm) * (0.02 + 0.98 * 0.5 * (1 + Math.cos(Math.PI * progress)));
      const batch = sampledBatch(net, o, rows, rand);
      const loss = net.step(batch, lr);
      steps++;
      if (Number.isFinite(loss)) {
        lossSum += loss;
        lossN++;
      }
    }
    const ms = now() - t0;
    if (epoch === 1 && Number.isFinite(budget)) totalSteps = Math.max(steps, Math.floor((steps * budget) / ms));
    const entry: FitResult['history'][number] = { epoch, loss: lossSum / Math.max(1, lossN), ms };
    if (o.validate && epoch % every === 0) {
      entry.metric = o.validate(net);
      validatedAt = steps;
      if (entry.metric > best) {
        best = entry.metric;
        bestEpoch = epoch;
        bestWeights = net.snapshot();
      }
      if (entry.metric > bestTrained) {
        bestTrained = entry.metric;
        stale = 0;
      } else stale++;
    }
    history.push(entry);
    log(
      `epoch ${epoch} steps ${steps} loss ${entry.loss.toFixed(4)}` +
        (entry.metric !== undefined ? ` valid NDCG@10 ${entry.metric.toFixed(4)} (best ${best.toFixed(4)} @${bestEpoch})` : '') +
        ` ${(ms / 1000).toFixed(0)}s`,
    );
    if (stale >= patience) break;
  }
  if (o.validate && steps > validatedAt) {
    // Stopped by the budget inside an epoch: the partial epoch counts too.
    const metric = o.validate(net);
    log(`epoch ${epoch} (partial, ${steps} steps) valid NDCG@10 ${metric.toFixed(4)}`);
    if (metric > best) {
      best = metric;
      bestEpoch = epoch;
      bestWeights = undefined;
    }
  }
  if (bestWeights) net.restore(bestWeights);
  return { epochs: Math.min(epoch, maxEpochs), steps, bestMetric: best, bestEpoch, elapsedMs: now() - t0, history };
}
