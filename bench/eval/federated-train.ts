/**
 * One federated training run on the leave-two-out split: every user of the data set is a device
 * holding its own training sequence. Each round samples devices (each joins with probability
 * `q`), each trains from the round's weights with the SDK's own local training (SGD steps,
 * negatives drawn from the public item list), clips its change to norm C; the collector's code
 * sums the updates, adds Gaussian noise (z·C, central DP), averages and takes the server step.
 * The rounds' privacy is counted by the RDP accountant.
 */
import { readFileSync } from 'node:fs';
import { Aggregate, type ServerOptimizer, serverStep } from '../../src/federated/aggregate';
import { localTrain, specsOf } from '../../src/federated/local';
import { clipDelta, decodeUpdate, encodeUpdate } from '../../src/federated/update';
import { offlineConfig } from '../../src/model/config';
import { ItemCoder, type ItemCode, trainBatch } from '../../src/model/encode';
import { mulberry32 } from '../../src/model/hash';
import { createNetwork } from '../../src/model/index';
import { candidates, evaluate, parsePairs, splitLastTwo } from '../../src/offline/eval-protocol';
import { useNodeBackend } from '../../src/offline/node-backend';
import { startFromStatistics } from '../../src/collect/rounds';
import { countStatistics, encodeStatistics, StatisticsSum } from '../../src/federated/statistics';
import { modelScorer } from './model-scorer';

export interface FederatedJob {
  file: string;
  seed: number;
  tag: string;
  /** Target ε of the whole run (central DP, δ = 1/users); undefined: no noise. */
  epsilon?: number;
  /** Training stops at this wall-clock time (ms since epoch). */
  deadline: number;
  /** Rounds planned (the accountant's T); fewer when time runs out. */
  rounds: number;
  /** Expected devices per round (q = clients / users). */
  clients: number;
  /** Clip norm C. */
  clip: number;
  /** Local SGD steps and learning rate. */
  localSteps: number;
  localRate: number;
  /** Negatives per local step. */
  negatives: number;
  optimizer: ServerOptimizer;
  serverRate: number;
  /** FedAdam's τ; default 1e-3. */
  tau?: number;
  /** Server warm-up rounds, then cosine decay of the server rate over the time budget; default 20. */
  warmup?: number;
  /** Validate every this many rounds. */
  validateEvery: number;
  dim?: number;
  /** Encode and decode every update through the wire format (int8), as devices send them. */
  wire: boolean;
  /**
   * Without noise and clipping, with one local step: the average of the devices' updates, each
   * weighted by its training targets (FedAvg's weighting), is exactly the gradient step on their
   * sequences together, which is computed that way, in batches (see `roundGradient`). A few
   * devices a round still go through the device's path and the wire format, for the sizes.
   */
  batched?: boolean;
  /** Model config overrides (buckets, width). */
  config?: Record<string, unknown>;
  /**
   * Where round 1 starts. 'random': the model's seeded weights. 'statistics': the statistics
   * round first (federated/statistics.ts) — each device sends its read counts and its counts of
   * items read within three of each other; the collector's sums give the item biases (popularity)
   * and the item vectors (co-occurrence, the start `attnflow-train` takes). Default 'random'.
   */
  start?: 'random' | 'statistics';
  /**
   * Under DP, the share of ε the statistics round spends (every device, the scaled form, Gaussian
   * noise on each item's sum and each pair's); the training rounds get the rest. Default 0.25; 1:
   * no training rounds, the statistics round's start is the model.
   */
  statisticsShare?: number;
  /**
   * A projection, not a measurement of this data set: the noise as if every device were this many
   * visitors who read alike (the noise's deviation divided by it; their sums would be this many
   * times larger against the same noise). Default 1.
   */
  visitorScale?: number;
}

export interface FederatedOutcome {
  valid: Float32Array;
  test: Float32Array;
  rounds: number;
  bestRound: number;
  meanClients: number;
  meanBytes: number;
  /** Mean bytes of a device's statistics (0: no statistics round). */
  statisticsBytes: number;
  medianNorm: number;
  noiseMultiplier: number;
  /** The statistics round's deviation on each item's and pair's sum (0: no noise). */
  statisticsNoise: number;
  epsilon: number;
  seconds: number;
  numParams: number;
}

export async function federatedTrain(job: FederatedJob, print: (line: string) => void): Promise<FederatedOutcome> {
  const t0 = Date.now();
  const say = (s: string): void => print(`[${job.tag}] ${s}`);
  const ds = parsePairs(readFileSync(job.file, 'utf8'));
  const split = splitLastTwo(ds);
  const valC = candidates(ds, split, 'valid', job.seed);
  const testC = candidates(ds, split, 'test', job.seed);
  await useNodeBackend('wasm');
  const { noiseMultiplierFor, PrivacyAccountant } = await import('../../src/federated/accountant');
  const users = split.train.map((keys, u) => ({ u, keys })).filter((x) => x.keys.length >= 2);
  const N = split.train.length;
  const q = Math.min(1, job.clients / N);
  const delta = 1 / N;
  const share = job.start === 'statistics' ? (job.statisticsShare ?? 0.25) : 0;
  const training = job.epsilon === undefined || share < 1;
  const z = job.epsilon === undefined || !training ? 0 : noiseMultiplierFor(job.epsilon * (1 - share), q, job.rounds, delta);
  // The statistics round's items and pairs, each of norm 1, noised at deviation zStats each: one
  // Gaussian mechanism of multiplier zStats/√2.
  const zStats = job.epsilon === undefined || !share ? 0 : Math.SQRT2 * noiseMultiplierFor(job.epsilon * share, 1, 1, delta);
  const accountant = new PrivacyAccountant();
  let statisticsBytes = 0;
  const net = createNetwork({
    ...offlineConfig(ds.numItems, { negatives: job.negatives, ...(job.dim ? { dim: job.dim, ffnDim: job.dim } : {}), ...job.config }),
    seed: job.seed * 7919 + 1,
    trainable: false,
  });
  const c = net.config;
  const specs = specsOf(c);
  const coder = new ItemCoder(c);
  const codes: ItemCode[] = ds.itemIds.map((id) => coder.code(id));
  say(
    `${N} devices, q ${q.toFixed(4)}, ${job.rounds} rounds planned, noise multiplier ${z.toFixed(3)}, C ${job.clip}, ${net.numParams} parameters`,
  );
  const scorer = modelScorer(net, split, codes);
  const n = Math.min(3000, split.evalUsers.length);
  const sample = Int32Array.from({ length: n }, (_, i) => Math.floor((i * split.evalUsers.length) / n));
  const rand = mulberry32(job.seed ^ 0xfed5);
  const noiseRand = mulberry32(job.seed ^ 0x2015e);
  if (job.start === 'statistics') {
    // Each device counts its reads as the SDK does; the collector's own code sums the counts and
    // sets the item biases and vectors (the same start the collector publishes).
    const t = Date.now();
    const sum = new StatisticsSum(ds.numItems);
    for (const { keys } of users) {
      const s = countStatistics(0, keys, ds.numItems, zStats > 0);
      statisticsBytes += encodeStatistics(s, ds.numItems).byteLength;
      sum.add(s);
    }
    const start = net.snapshot();
    const items = ds.itemIds.map((itemId) => ({ itemId, topics: [] }));
    startFromStatistics(c, start, sum, items, zStats / (job.visitorScale ?? 1), noiseRand);
    if (zStats > 0) accountant.addRounds(1, zStats / Math.SQRT2);
    net.restore(start);
    say(
      `statistics round: ${sum.count} devices, ${sum.pairs.size} pairs${zStats ? `, noise multiplier ${zStats.toFixed(2)}` : ''}, ${((Date.now() - t) / 1000).toFixed(1)}s`,
    );
  }
  const weights = net.snapshot();
  const state = new Map<string, Float32Array>();
  const agg = new Aggregate(specs);
  let best = -1;
  let bestRound = 0;
  let bestWeights: Map<string, Float32Array> | undefined;
  let clientsSeen = 0;
  let bytesSum = 0;
  let bytesN = 0;
  const norms: number[] = [];
  let round = 0;
  let lastValidation = 0;
  if (job.start === 'statistics') {
    // The start is a checkpoint too, as in the centralised loop.
    best = evaluate(split, valC, 'valid', scorer, job.seed, sample).ndcg;
    bestWeights = new Map([...weights].map(([k, v]) => [k, v.slice()]));
    say(`round 0 (statistics): valid NDCG@10 ${best.toFixed(4)}`);
  }
  for (round = 1; training && round <= job.rounds; round++) {
    if (Date.now() + 1.5 * lastValidation > job.deadline) break;
    for (const s of agg.sums.values()) s.fill(0);
    agg.count = 0;
    const batched = job.batched && z === 0 && job.localSteps === 1;
    const joined: Int32Array[] = [];
    for (const { keys } of users) {
      if (rand() >= q) continue;
      if (batched) {
        joined.push(keys);
        // The device's own path for a few of them: what an update weighs on the wire.
        if (joined.length % 200 !== 1) continue;
      }
      const batchOf = () => {
        const negs = new Int32Array(c.negatives);
        for (let i = 0; i < negs.length; i++) negs[i] = Math.floor(rand() * codes.length);
        return trainBatch([{ keys: keys.subarray(-(c.maxLen + 1)) }], (k) => codes[k]!, negs, c.maxLen, 0);
      };
      const { delta: d } = localTrain(net, batchOf, { steps: job.localSteps, learningRate: job.localRate }, true);
      if (batched) {
        bytesSum += encodeUpdate(round, d, specs, { rand }).byteLength;
        bytesN++;
        norms.push(clipDelta(d, Infinity));
        continue;
      }
      const norm = clipDelta(d, job.clip);
      if (norms.length < 20000) norms.push(norm);
      if (job.wire) {
        const bytes = encodeUpdate(round, d, specs, { rand });
        bytesSum += bytes.byteLength;
        bytesN++;
        agg.add(decodeUpdate(bytes, specs, job.clip).delta);
      } else agg.add(d);
    }
    let mean: Map<string, Float32Array>;
    if (batched) {
      const targets = roundGradient(net, joined, codes, rand, agg, -job.localRate);
      agg.count = joined.length;
      mean = agg.mean(0, Math.max(1, targets), noiseRand);
    } else {
      // The denominator is the expected count (q·N), as the DP-FedAvg analysis has it.
      mean = agg.mean((z * job.clip) / (job.visitorScale ?? 1), Math.max(1, q * users.length), noiseRand);
    }
    clientsSeen += agg.count;
    // Warm-up, then cosine decay over the time budget, as the centralised loop does.
    const progress = Math.min(1, (Date.now() - t0) / Math.max(1, job.deadline - t0));
    const rate = job.serverRate * Math.min(1, round / (job.warmup ?? 20)) * (0.02 + 0.98 * 0.5 * (1 + Math.cos(Math.PI * progress)));
    serverStep(weights, mean, state, { optimizer: job.optimizer, learningRate: rate, tau: job.tau, lazy: z === 0 });
    net.restore(weights);
    if (round % job.validateEvery === 0 || round === job.rounds) {
      const v0 = Date.now();
      const ndcg = evaluate(split, valC, 'valid', scorer, job.seed, sample).ndcg;
      lastValidation = Date.now() - v0;
      if (ndcg > best) {
        best = ndcg;
        bestRound = round;
        bestWeights = new Map([...weights].map(([k, v]) => [k, v.slice()]));
      }
      norms.sort((a, b) => a - b);
      say(
        `round ${round}: ${agg.count} devices, valid NDCG@10 ${ndcg.toFixed(4)} (best ${best.toFixed(4)} @${bestRound}), ` +
          `median norm ${norms[norms.length >> 1]?.toFixed(3)}, ${((Date.now() - t0) / 1000).toFixed(0)}s`,
      );
    }
  }
  const rounds = training ? Math.min(round, job.rounds) : 0;
  if (bestWeights) net.restore(bestWeights);
  const all = Int32Array.from(split.evalUsers.keys());
  const valid = scorer(all, 'valid', valC, 101);
  const test = scorer(all, 'test', testC, 101);
  norms.sort((a, b) => a - b);
  const out: FederatedOutcome = {
    valid,
    test,
    rounds,
    bestRound,
    meanClients: clientsSeen / Math.max(1, rounds),
    meanBytes: bytesN ? bytesSum / bytesN : 0,
    statisticsBytes: statisticsBytes / Math.max(1, users.length),
    medianNorm: norms[norms.length >> 1] ?? 0,
    noiseMultiplier: z,
    statisticsNoise: zStats,
    // Every round run counts, the ones after the best included.
    epsilon: z > 0 || zStats > 0 ? (z > 0 && accountant.addRounds(q, z, rounds), accountant.epsilon(delta)) : Infinity,
    seconds: (Date.now() - t0) / 1000,
    numParams: net.numParams,
  };
  net.dispose();
  return out;
}

/**
 * The round's devices' summed change, `scale` × Σ over devices of (their targets × the gradient of
 * their mean loss), into `agg`'s sums, computed in batches of about 2,048 positions (devices of
 * similar length together); returns the targets. With shared negatives per batch where each device
 * draws its own: both are uniform samples of the same softmax.
 */
function roundGradient(
  net: ReturnType<typeof createNetwork>,
  seqs: Int32Array[],
  codes: readonly ItemCode[],
  rand: () => number,
  agg: Aggregate,
  scale: number,
): number {
  const c = net.config;
  const len = (s: Int32Array) => Math.min(c.maxLen, s.length - 1);
  const order = seqs.slice().sort((a, b) => len(a) - len(b));
  let targets = 0;
  for (let at = 0; at < order.length; ) {
    const rows: Int32Array[] = [];
    while (at < order.length && (rows.length + 1) * len(order[at]!) <= 2048) rows.push(order[at++]!);
    if (!rows.length) rows.push(order[at++]!);
    const negs = new Int32Array(c.negatives);
    for (let i = 0; i < negs.length; i++) negs[i] = Math.floor(rand() * codes.length);
    const batch = trainBatch(
      rows.map((keys) => ({ keys: keys.subarray(-(c.maxLen + 1)) })),
      (k) => codes[k]!,
      negs,
      c.maxLen,
      0,
    );
    const g = net.gradients(batch);
    if (!Number.isFinite(g.loss)) continue;
    const w = batch.targetPos.length;
    targets += w;
    for (const v of g.dense.values()) for (let i = 0; i < v.length; i++) v[i]! *= scale * w;
    for (const { values } of g.rows.values()) for (let i = 0; i < values.length; i++) values[i]! *= scale * w;
    agg.add(g);
  }
  return targets;
}
