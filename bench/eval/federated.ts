/**
 * `npm run eval -- --federated --data FILE`: the site model without anyone's log on the server.
 * On the SASRec protocol (the same test items as the plain run): no site model (popularity and
 * transition priors), centralised training (`attnflow-train`'s loop on all sequences), federated
 * without noise, and federated with central DP at each ε (δ = 1/users). Runs share the cores,
 * two at a time; one line per setting.
 */
import { popularity, popularityScorer, transitionScorer } from './baselines';
import type { FederatedJob, FederatedOutcome } from './federated-train';
import { candidates, evaluate, fmt, parsePairs, splitLastTwo } from './protocol';
import type { TrainJob, TrainOutcome } from './train-model';
import { fixed, inWorker } from './workers';

export interface FederatedEvalOptions {
  file: string;
  seed: number;
  /** Minutes per training run. */
  minutes: number;
  /** The federated settings: undefined for no noise, else the ε of central DP. */
  epsilons: (number | undefined)[];
  /** Leave out the centralised run. */
  noCentral: boolean;
  job: Partial<FederatedJob>;
}

const err = (s: string): void => void process.stderr.write(s + '\n');

/** Runs the tasks two at a time (one per core). */
async function twoAtATime<T>(tasks: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all([lane(), lane()]);
  return out;
}

export async function runFederated(text: string, o: FederatedEvalOptions): Promise<void> {
  const t0 = Date.now();
  const ds = parsePairs(text);
  const split = splitLastTwo(ds);
  const users = split.train.length;
  err(`data: ${users} users (one device each), ${ds.numItems} items, ${split.evalUsers.length} evaluated`);
  const testC = candidates(ds, split, 'test', o.seed);
  const pop = popularity(ds, split);
  const line = (name: string, m: ReturnType<typeof evaluate>, rest = ''): void => console.log(`${fmt(name, m)}${rest ? `  ${rest}` : ''}`);
  // A newcomer's page without a site model keeps its own order (no topics here): as good as chance.
  line(
    'no site model (the page order: chance)',
    evaluate(split, testC, 'test', (rows, _s, _c, C) => new Float32Array(rows.length * C), o.seed),
  );
  line('baseline: popularity (counts on the server)', evaluate(split, testC, 'test', popularityScorer(pop), o.seed));
  line(
    'baseline: previous-item transitions (sequences on the server)',
    evaluate(split, testC, 'test', transitionScorer(ds, split, pop), o.seed),
  );
  // What user-level privacy can keep of them at best: the transitions several visitors made.
  for (const m of [2, 4]) {
    line(
      `baseline: transitions made by ${m}+ visitors only (none of one visitor alone)`,
      evaluate(split, testC, 'test', transitionScorer(ds, split, pop, m), o.seed),
    );
  }

  const ms = o.minutes * 60_000;
  const base: Omit<FederatedJob, 'tag' | 'deadline' | 'epsilon'> = {
    file: o.file,
    seed: o.seed,
    rounds: 400,
    clients: 1000,
    clip: 1,
    localSteps: 1,
    localRate: 1,
    negatives: 512,
    optimizer: 'fedadam',
    serverRate: 0.01,
    validateEvery: 10,
    wire: true,
    start: 'statistics',
    ...o.job,
  };
  type Run = { name: string; run: () => Promise<{ test: Float32Array; rest: string }> };
  const runs: Run[] = [];
  if (!o.noCentral) {
    runs.push({
      name: 'centralised (attnflow-train on all sequences)',
      run: async () => {
        const job: TrainJob = {
          file: o.file,
          seed: o.seed,
          modelSeed: o.seed * 1000 + 1,
          config: {},
          deadline: Date.now() + ms,
          backend: 'wasm',
          tokensPerBatch: 2048,
          maxEpochs: 200,
          tag: 'central',
          models: 1,
        };
        const r = await inWorker<TrainOutcome>('./worker.ts', job);
        return { test: r.test, rest: `${r.epochs} epochs, ${r.seconds.toFixed(0)} s` };
      },
    });
  }
  for (const epsilon of o.epsilons) {
    runs.push({
      name: epsilon === undefined ? 'federated, no noise' : `federated, DP ε = ${epsilon}`,
      run: async () => {
        const job: FederatedJob = { ...base, tag: epsilon === undefined ? 'fed' : `fed ε=${epsilon}`, epsilon, deadline: Date.now() + ms };
        const r = await inWorker<FederatedOutcome>('./federated-worker.ts', job);
        return {
          test: r.test,
          rest:
            (r.statisticsBytes ? `statistics round ${r.statisticsBytes.toFixed(0)} B/device, then ` : '') +
            `${r.rounds} rounds (best ${r.bestRound}), ${r.meanClients.toFixed(0)} devices/round, ${(r.meanBytes / 1024).toFixed(1)} KB/update` +
            (r.statisticsNoise > 0 ? `, statistics z ${r.statisticsNoise.toFixed(2)}` : '') +
            (r.noiseMultiplier > 0 ? `, z ${r.noiseMultiplier.toFixed(2)}` : '') +
            (Number.isFinite(r.epsilon) ? `, ε spent ${r.epsilon.toFixed(2)} (δ = 1/${users})` : '') +
            (base.visitorScale ? `, noise as if ${base.visitorScale}× the visitors read alike` : '') +
            `, ${r.seconds.toFixed(0)} s`,
        };
      },
    });
  }
  const results = await twoAtATime(runs.map((r) => r.run));
  results.forEach((r, i) => line(runs[i]!.name, evaluate(split, testC, 'test', fixed(r.test), o.seed), r.rest));
  err(`total ${((Date.now() - t0) / 1000).toFixed(0)}s`);
}
