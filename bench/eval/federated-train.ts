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
  /** Validate every this many rounds. */
  validateEvery: number;
  dim?: number;
  /** Encode and decode every update through the wire format (int8), as devices send them. */
  wire: boolean;
}

export interface FederatedOutcome {
  valid: Float32Array;
  test: Float32Array;
  rounds: number;
  bestRound: number;
  meanClients: number;
  meanBytes: number;
  medianNorm: number;
  noiseMultiplier: number;
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
  const { noiseMultiplierFor, epsilonOf } = await import('../../src/federated/accountant');
  const users = split.train.map((keys, u) => ({ u, keys })).filter((x) => x.keys.length >= 2);
  const N = split.train.length;
  const q = Math.min(1, job.clients / N);
  const delta = 1 / N;
  const z = job.epsilon === undefined ? 0 : noiseMultiplierFor(job.epsilon, q, job.rounds, delta);
  const net = createNetwork({
    ...offlineConfig(ds.numItems, { negatives: job.negatives, ...(job.dim ? { dim: job.dim, ffnDim: job.dim } : {}) }),
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
  const n = Math.min(6000, split.evalUsers.length);
  const sample = Int32Array.from({ length: n }, (_, i) => Math.floor((i * split.evalUsers.length) / n));
  const rand = mulberry32(job.seed ^ 0xfed5);
  const noiseRand = mulberry32(job.seed ^ 0x2015e);
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
  for (round = 1; round <= job.rounds; round++) {
    if (Date.now() + 1.5 * lastValidation > job.deadline) break;
    for (const s of agg.sums.values()) s.fill(0);
    agg.count = 0;
    for (const { keys } of users) {
      if (rand() >= q) continue;
      const batchOf = () => {
        const negs = new Int32Array(c.negatives);
        for (let i = 0; i < negs.length; i++) negs[i] = Math.floor(rand() * codes.length);
        return trainBatch([{ keys: keys.subarray(-(c.maxLen + 1)) }], (k) => codes[k]!, negs, c.maxLen, 0);
      };
      const { delta: d } = localTrain(net, batchOf, { steps: job.localSteps, learningRate: job.localRate }, true);
      const norm = clipDelta(d, job.clip);
      if (norms.length < 20000) norms.push(norm);
      if (job.wire) {
        const bytes = encodeUpdate(round, d, specs, { rand });
        bytesSum += bytes.byteLength;
        bytesN++;
        agg.add(decodeUpdate(bytes, specs, job.clip).delta);
      } else agg.add(d);
    }
    clientsSeen += agg.count;
    // The denominator is the expected count (q·N), as the DP-FedAvg analysis has it.
    const mean = agg.mean(z * job.clip, Math.max(1, q * users.length), noiseRand);
    serverStep(weights, mean, state, { optimizer: job.optimizer, learningRate: job.serverRate });
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
  const rounds = Math.min(round, job.rounds);
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
    medianNorm: norms[norms.length >> 1] ?? 0,
    noiseMultiplier: z,
    // Every round run counts, the ones after the best included.
    epsilon: z > 0 ? epsilonOf(q, z, rounds, delta) : Infinity,
    seconds: (Date.now() - t0) / 1000,
    numParams: net.numParams,
  };
  net.dispose();
  return out;
}
