/**
 * The collector's federated rounds (DP-FedAvg): it publishes the round's model where `modelUrl`
 * points (`model.json` and `round-N.bin` in a folder, also served at `/model/`), receives devices'
 * updates of that round, and closes the round when `minClients` arrived or at its deadline: the
 * clipped updates are summed, noised (central DP) and averaged, the server takes its step, and the
 * next round's model is written. The RDP accountant counts (ε, δ) per round and in total; when the
 * next round would pass the site's budget, no round opens. Every state lives in the database: a
 * restart goes on where it was, and the folder is written again from it.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { noiseMultiplierFor, PrivacyAccountant } from '../federated/accountant';
import { Aggregate, type ServerOptimizer, secureRandom, serverStep } from '../federated/aggregate';
import { specsOf } from '../federated/local';
import type { RoundInfo } from '../federated/round';
import { decodeStatistics, logCountPrior, STAT_MAX_BYTES, StatisticsSum } from '../federated/statistics';
import { decodeUpdate, UpdateError, type WeightSpec } from '../federated/update';
import { DEFAULT_CONFIG, resolveConfig } from '../model/config';
import { initialWeights } from '../model/network';
import { decodeWeights, encodeWeights } from '../model/serialize';
import type { ModelConfig, ModelManifest, Quantization } from '../model/types';
import { ItemCoder } from '../model/encode';
import { biasRows, setItemRows, weightShapes } from '../model/weights';
import { spectralFromPairLists } from '../offline/spectral';
import type { Catalogue } from './catalogue';
import type { Db, Queryable } from './db';

/** Settings of the federated rounds (`CollectorOptions.federated`). */
export interface FederatedOptions {
  /** Folder the round's model is written to (`model.json`, `round-N.bin`); the site's `modelUrl` points at its `model.json`. */
  dir: string;
  /** Weights to start round 1 from (an `attnflow-train` weights file); default a new model sized for the catalogue. */
  init?: Uint8Array;
  /** Updates that close a round; default 100. */
  minClients?: number;
  /** A round closes at this age with the updates it has (at least one), ms; default one day. */
  roundMs?: number;
  /** L2 norm each update is clipped to; default 1. */
  clip?: number;
  /** Noise multiplier z: the noise's deviation is z·clip (on the sum, or on each update with `local`); default 1. */
  noiseMultiplier?: number;
  /** Where the noise is added: `central` (the collector, on the sum; default) or `local` (each device, on its update). */
  noise?: 'central' | 'local';
  /** Probability a device joins a round (its privacy amplification); default 1. */
  sampleRate?: number;
  /** The site's privacy budget: no round opens that would take the total ε past it; default 8. */
  epsilonBudget?: number;
  /** δ of the (ε, δ) guarantee; default 1e-6 (below one over the visitors). */
  delta?: number;
  /** Local SGD steps and learning rate on a device; default 4 steps at 0.5. */
  localSteps?: number;
  localRate?: number;
  /** Server optimizer and learning rate; default FedAdam at 0.01. */
  optimizer?: ServerOptimizer;
  serverRate?: number;
  /** Quantization of the published weights; default float16. */
  quantization?: Quantization;
  /** Past rounds' files kept in the folder for rollback; default 10. */
  keep?: number;
  /** At start, open a new round from the weights of this earlier round (a rollback). */
  rollback?: number;
  /**
   * Start a new model with a statistics round (see federated/statistics.ts): devices send counts
   * of what they read, whose sums set the first training round's item biases and vectors.
   * Default true; not with `init`, and not with `noise: 'local'` (there is no device-noised form).
   */
  statistics?: boolean;
  /**
   * Under noise, the ε the statistics round spends: its noise is set to spend that much at the
   * sample rate and δ (the rest of the budget goes to training rounds at the noise multiplier).
   * The whole budget makes the statistics round the only one, which does best where visitors are
   * too few for training rounds to rise above their noise. Default: noise deviation z on every
   * item's and pair's sum, like any round's.
   */
  statisticsEpsilon?: number;
}

export const ROUND_SCHEMA = `
CREATE TABLE IF NOT EXISTS rounds (
  round integer PRIMARY KEY,
  opened_at timestamptz NOT NULL,
  closed_at timestamptz,
  accepted integer NOT NULL DEFAULT 0,
  stale integer NOT NULL DEFAULT 0,
  malformed integer NOT NULL DEFAULT 0,
  oversized integer NOT NULL DEFAULT 0,
  over_norm integer NOT NULL DEFAULT 0,
  clients integer,
  noise_multiplier double precision NOT NULL,
  sample_rate double precision NOT NULL,
  epsilon double precision,
  from_round integer,
  weights bytea NOT NULL,
  state bytea
);
ALTER TABLE rounds ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'train';
CREATE TABLE IF NOT EXISTS updates (
  id text PRIMARY KEY,
  round integer NOT NULL,
  body bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_round ON updates (round);
CREATE TABLE IF NOT EXISTS federation (
  key text PRIMARY KEY,
  value text NOT NULL
)
`;

/** Advisory lock key of closing a round (one collector closes it, however many run). */
const CLOSE_LOCK = 4280_2027;

/** A round as the dashboard shows it. */
export interface RoundRow {
  round: number;
  /** A training round, or the statistics round a new model starts with. */
  kind: 'train' | 'statistics';
  openedAt: string;
  closedAt: string | null;
  accepted: number;
  rejected: { stale: number; malformed: number; oversized: number; overNorm: number };
  clients: number | null;
  noiseMultiplier: number;
  sampleRate: number;
  /** Total ε once the round closed. */
  epsilon: number | null;
  /** A rollback: the round whose weights it started from. */
  fromRound: number | null;
}

export interface RoundsResponse {
  status: 'open' | 'budget spent';
  /** The noise multiplier z; 0: no noise, and no privacy guarantee (ε is not counted). */
  noiseMultiplier: number;
  round: number;
  minClients: number;
  epsilonBudget: number;
  delta: number;
  epsilon: number;
  noise: 'central' | 'local';
  clip: number;
  rounds: RoundRow[];
}

export type { RoundInfo };

export type UpdateOutcome =
  | { ok: true; closed: boolean }
  | { ok: false; status: number; kind: 'stale' | 'malformed' | 'over-norm' | 'oversized' | 'replay' | 'closed'; error: string };

/** Mean norm of the item vectors a statistics round sets (their directions come from the counts). */
export const STATISTICS_VECTOR_NORM = 0.15;

/**
 * The first training round's weights from a statistics round's sums, in place: item biases from
 * the read counts and item vectors from the pairs' co-occurrence. When the round was private
 * (`z` > 0), the sums are noised first (`StatisticsSum.noise`, deviation z on every item and pair).
 */
export function startFromStatistics(
  config: ModelConfig,
  weights: Map<string, Float32Array>,
  sum: StatisticsSum,
  items: RoundInfo['items'],
  z: number,
  rand: () => number,
): void {
  if (z > 0) sum.noise(z, rand);
  const coder = new ItemCoder(config);
  const codes = items.map((i) => coder.code(i.itemId));
  const bias = weights.get('item/bias');
  if (bias) bias.set(biasRows(logCountPrior(sum.items), codes, bias.length));
  const table = weights.get('item/id');
  if (table && sum.pairs.size) {
    const vectors = spectralFromPairLists(sum.pairLists(), items.length, config.dim, { seed: config.seed, norm: STATISTICS_VECTOR_NORM });
    setItemRows(table, vectors, codes, config.dim);
  }
}

/** The model a site's federation starts from when it gives none: the default model, its tables sized for the catalogue. */
export function federatedConfig(catalogue: Catalogue): ModelConfig {
  let buckets = 1024;
  while (buckets < 4 * catalogue.items.length) buckets *= 2;
  return resolveConfig({ ...DEFAULT_CONFIG, idBuckets: buckets, seed: 1 });
}

const bytesOf = (x: unknown): Uint8Array => (x instanceof Uint8Array ? x : new Uint8Array(x as ArrayBuffer));

/** The rounds' settings with their defaults; throws naming a bad one (`federated.clip: …`). */
export function checkFederated(o: FederatedOptions) {
  const num = (name: string, v: number | undefined, fallback: number, ok: (x: number) => boolean, what: string): number => {
    const x = v ?? fallback;
    if (typeof x !== 'number' || !ok(x)) throw new Error(`federated.${name}: expected ${what}, received ${String(v)}`);
    return x;
  };
  const minClients = num('minClients', o.minClients, 100, (x) => Number.isInteger(x) && x >= 1, 'an integer ≥ 1');
  const roundMs = num('roundMs', o.roundMs, 86_400_000, (x) => x >= 1000, 'at least 1000 ms');
  const clip = num('clip', o.clip, 1, (x) => x > 0 && Number.isFinite(x), 'a number > 0');
  const z = num('noiseMultiplier', o.noiseMultiplier, 1, (x) => x >= 0 && Number.isFinite(x), 'a number ≥ 0');
  const sampleRate = num('sampleRate', o.sampleRate, 1, (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  const budget = num('epsilonBudget', o.epsilonBudget, 8, (x) => x > 0, 'a number > 0');
  const delta = num('delta', o.delta, 1e-6, (x) => x > 0 && x < 1, 'a number in (0, 1)');
  num('localSteps', o.localSteps, 4, (x) => Number.isInteger(x) && x >= 1 && x <= 100, 'an integer in 1..100');
  num('localRate', o.localRate, 0.5, (x) => x > 0 && x <= 100, 'a number in (0, 100]');
  num('keep', o.keep, 10, (x) => Number.isInteger(x) && x >= 1, 'an integer ≥ 1');
  num('serverRate', o.serverRate, 0.01, (x) => x > 0 && x <= 100, 'a number in (0, 100]');
  if (o.optimizer !== undefined && !['fedadam', 'momentum', 'fedavg'].includes(o.optimizer)) {
    throw new Error('federated.optimizer: expected "fedadam", "momentum" or "fedavg"');
  }
  const noise = o.noise ?? 'central';
  if (noise !== 'central' && noise !== 'local') throw new Error(`federated.noise: expected "central" or "local"`);
  if (!o.dir) throw new Error('federated.dir: required (the folder modelUrl points at)');
  const statisticsEpsilon = o.statisticsEpsilon;
  if (statisticsEpsilon !== undefined) {
    if (typeof statisticsEpsilon !== 'number' || !(statisticsEpsilon > 0 && statisticsEpsilon <= budget))
      throw new Error(
        `federated.statisticsEpsilon: expected a number in (0, epsilonBudget = ${budget}], received ${String(statisticsEpsilon)}`,
      );
    if (z === 0) throw new Error('federated.statisticsEpsilon: needs noise (noiseMultiplier > 0)');
  }
  // The statistics round's two sums, items and pairs, each of norm 1 and deviation d, are one
  // Gaussian mechanism of multiplier d/√2.
  const statisticsDeviation =
    statisticsEpsilon === undefined ? z : Math.SQRT2 * noiseMultiplierFor(statisticsEpsilon, sampleRate, 1, delta);
  return { minClients, roundMs, clip, z, sampleRate, budget, delta, noise, statisticsDeviation };
}

export class Rounds {
  readonly minClients: number;
  readonly roundMs: number;
  readonly clip: number;
  readonly z: number;
  readonly noise: 'central' | 'local';
  readonly sampleRate: number;
  readonly budget: number;
  readonly delta: number;
  /** The statistics round's noise deviation on every item's and pair's sum. */
  readonly statisticsDeviation: number;
  private config?: ModelConfig;
  private specs?: Map<string, WeightSpec>;
  private current?: { round: number; openedAt: number; kind: 'train' | 'statistics' };
  private spent = false;
  private closing?: Promise<void>;
  private items: RoundInfo['items'];

  constructor(
    private readonly db: Db,
    private readonly o: FederatedOptions,
    catalogue: Catalogue,
    private readonly now: () => number,
    private readonly log: (line: string) => void,
  ) {
    const r = checkFederated(o);
    this.minClients = r.minClients;
    this.roundMs = r.roundMs;
    this.clip = r.clip;
    this.z = r.z;
    this.sampleRate = r.sampleRate;
    this.budget = r.budget;
    this.delta = r.delta;
    this.noise = r.noise;
    this.statisticsDeviation = r.statisticsDeviation;
    this.items = catalogue.items.map((i) => ({ itemId: i.id, topics: i.topics }));
    this.initConfig = federatedConfig(catalogue);
  }

  private initConfig: ModelConfig;

  /** Opens round 1 on first use, or takes up the rounds where they were; writes the folder. */
  async start(): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const s of ROUND_SCHEMA.split(';').filter((x) => x.trim())) await tx.query(s);
    });
    const last = await this.db.query<{ round: number; opened_at: Date; closed_at: Date | null; weights: Uint8Array; kind: string }>(
      'SELECT round, opened_at, closed_at, weights, kind FROM rounds ORDER BY round DESC LIMIT 1',
    );
    let weights: Uint8Array;
    if (!last.length) {
      weights = this.o.init ?? (await this.freshWeights());
      const kind = !this.o.init && this.noise === 'central' && (this.o.statistics ?? true) ? 'statistics' : 'train';
      await this.db.query(
        'INSERT INTO rounds (round, opened_at, noise_multiplier, sample_rate, weights, kind) VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [new Date(this.now()), kind === 'statistics' ? this.statisticsDeviation : this.z, this.sampleRate, weights, kind],
      );
      const [first] = await this.db.query<{ opened_at: Date; kind: string }>('SELECT opened_at, kind FROM rounds WHERE round = 1');
      this.current = {
        round: 1,
        openedAt: new Date(first!.opened_at).getTime(),
        kind: first!.kind === 'statistics' ? 'statistics' : 'train',
      };
    } else {
      weights = bytesOf(last[0]!.weights);
      const kind = last[0]!.kind === 'statistics' ? 'statistics' : 'train';
      this.current = { round: last[0]!.round, openedAt: new Date(last[0]!.opened_at).getTime(), kind };
      this.spent = last[0]!.closed_at !== null;
    }
    this.useModel(weights);
    this.publish(this.current.round, weights);
    if (this.o.rollback !== undefined) {
      const round = await this.rollback(this.o.rollback);
      this.log(`attnflow-collect: rolled back: round ${round} starts from the weights of round ${this.o.rollback}`);
    }
  }

  private async freshWeights(): Promise<Uint8Array> {
    const c = this.initConfig;
    const values = await initialWeights(c, async () => {});
    return encodeWeights(
      c,
      weightShapes(c).map(([name, shape]) => [name, shape, values.get(name) as Float32Array]),
      'float32',
    );
  }

  private useModel(weights: Uint8Array): void {
    const { config } = decodeWeights(weights);
    this.config = config;
    this.specs = specsOf(config);
  }

  get round(): number {
    return this.current?.round ?? 0;
  }

  get open(): boolean {
    return !!this.current && !this.spent;
  }

  /**
   * The largest update body accepted: the dense weights and every row of the tables a visitor
   * could touch, int8; or a statistics body, whichever is larger.
   */
  maxBytes(): number {
    const c = this.config ?? this.initConfig;
    const update = 16 * 1024 + 2 * (c.dim * (c.dim * 4 + c.ffnDim * 2) * c.blocks + (c.maxLen + 8) * c.dim) + 1024 * (c.dim + 8);
    return Math.max(update, STAT_MAX_BYTES);
  }

  /** A statistics round under noise takes a device's counts scaled to norm 1, not the counts. */
  private get scaled(): boolean {
    return this.z > 0;
  }

  info(): RoundInfo {
    return {
      format: 'attnflow-round',
      version: 1,
      round: this.round,
      ...(this.current?.kind === 'statistics' ? { kind: 'statistics' as const, scaled: this.scaled } : {}),
      clip: this.clip,
      noise: this.noise,
      ...(this.noise === 'local' ? { localStd: this.z * this.clip } : {}),
      sampleRate: this.sampleRate,
      steps: this.o.localSteps ?? 4,
      learningRate: this.o.localRate ?? 0.5,
      items: this.items,
      deadline: new Date((this.current?.openedAt ?? this.now()) + this.roundMs).toISOString(),
    };
  }

  /** Counts a refusal on the current round. */
  private async count(kind: 'stale' | 'malformed' | 'oversized' | 'over_norm'): Promise<void> {
    await this.db.query(`UPDATE rounds SET ${kind} = ${kind} + 1 WHERE round = $1`, [this.round]);
  }

  async oversized(): Promise<void> {
    await this.count('oversized');
  }

  /** Receives one device's update of `round` (`id`: the device's random id of it, the replay guard). */
  async receive(round: number, id: string, body: Uint8Array): Promise<UpdateOutcome> {
    if (!this.open) return { ok: false, status: 410, kind: 'closed', error: 'no round is open: the privacy budget is spent' };
    if (round !== this.round) {
      await this.count('stale');
      return { ok: false, status: 409, kind: 'stale', error: `round ${round} is not the open round (${this.round})` };
    }
    try {
      if (this.current?.kind === 'statistics') {
        const s = decodeStatistics(body, this.items.length, this.scaled);
        if (s.round !== round) throw new UpdateError('malformed', 'the statistics are of another round than their address says');
      } else {
        const u = decodeUpdate(body, this.specs!, this.clip);
        if (u.round !== round) throw new UpdateError('malformed', 'the update is of another round than its address says');
        if (this.noise === 'local' && !u.noised) throw new UpdateError('malformed', 'this collector takes updates noised on the device');
      }
    } catch (error) {
      if (!(error instanceof UpdateError)) throw error;
      await this.count(error.kind === 'over-norm' ? 'over_norm' : 'malformed');
      return { ok: false, status: 400, kind: error.kind, error: error.message };
    }
    const inserted = await this.db.transaction(async (tx) => {
      const r = await tx.query('INSERT INTO updates (id, round, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id', [
        id,
        round,
        body,
      ]);
      if (!r.length) return false;
      await tx.query('UPDATE rounds SET accepted = accepted + 1 WHERE round = $1', [round]);
      return true;
    });
    if (!inserted) return { ok: false, status: 409, kind: 'replay', error: 'this update was already received' };
    const closed = await this.maybeClose();
    return { ok: true, closed };
  }

  /** Closes the open round when it has `minClients` updates, or is past its deadline with at least one. */
  async maybeClose(): Promise<boolean> {
    if (!this.open) return false;
    const [row] = await this.db.query<{ accepted: number }>('SELECT accepted FROM rounds WHERE round = $1', [this.round]);
    const n = row?.accepted ?? 0;
    const due = this.now() >= (this.current?.openedAt ?? 0) + this.roundMs;
    if (n < this.minClients && !(due && n > 0)) return false;
    const round = this.round;
    this.closing ??= this.close(round).finally(() => (this.closing = undefined));
    await this.closing;
    return true;
  }

  /** Averages round `round`'s updates with noise, steps, opens the next round (when the budget allows) and publishes it. */
  private async close(round: number): Promise<void> {
    const t = this.now();
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [CLOSE_LOCK]);
      const [r] = await tx.query<{ closed_at: Date | null; weights: Uint8Array; state: Uint8Array | null; kind: string }>(
        'SELECT closed_at, weights, state, kind FROM rounds WHERE round = $1',
        [round],
      );
      if (!r || r.closed_at) return; // another collector closed it
      const updates = await tx.query<{ body: Uint8Array }>('SELECT body FROM updates WHERE round = $1', [round]);
      const decoded = decodeWeights(bytesOf(r.weights));
      const weights = decoded.weights;
      const state = r.state ? decodeWeights(bytesOf(r.state)).weights : new Map<string, Float32Array>();
      let clients: number;
      if (r.kind === 'statistics') {
        const sum = new StatisticsSum(this.items.length);
        for (const u of updates) sum.add(decodeStatistics(bytesOf(u.body), this.items.length, this.scaled));
        clients = sum.count;
        startFromStatistics(decoded.config, weights, sum, this.items, this.statisticsDeviation, secureRandom());
      } else {
        const agg = new Aggregate(this.specs!);
        for (const u of updates) agg.add(decodeUpdate(bytesOf(u.body), this.specs!, this.clip).delta);
        const central = this.noise === 'central' ? this.z * this.clip : 0;
        // Local noise is on each update already; the mean of n of them has deviation z·C/√n.
        const mean = agg.mean(central, Math.max(agg.count, this.noise === 'central' ? this.minClients : 1), secureRandom());
        serverStep(weights, mean, state, { optimizer: this.o.optimizer ?? 'fedadam', learningRate: this.o.serverRate });
        clients = agg.count;
      }
      const accountant = await this.accountant(tx);
      // Without noise (z = 0) there is no privacy guarantee to count: no ε, no budget.
      // Local noise: each device's update is a Gaussian mechanism of its own, sampled or not.
      // A statistics round's two sums, items and pairs, each of norm 1 and deviation d, are one
      // mechanism of sensitivity √2: multiplier d/√2.
      const z = r.kind === 'statistics' ? this.statisticsDeviation / Math.SQRT2 : this.z;
      if (this.z > 0) accountant.addRounds(this.noise === 'local' ? 1 : this.sampleRate, z);
      const epsilon = this.z > 0 ? accountant.epsilon(this.delta) : null;
      await tx.query("INSERT INTO federation (key, value) VALUES ('accountant', $1) ON CONFLICT (key) DO UPDATE SET value = $1", [
        JSON.stringify(accountant.toJSON()),
      ]);
      await tx.query('UPDATE rounds SET closed_at = $2, clients = $3, epsilon = $4 WHERE round = $1', [
        round,
        new Date(t),
        clients,
        epsilon,
      ]);
      await tx.query('DELETE FROM updates WHERE round <= $1', [round]);
      const next = this.encode(decoded.config, weights);
      const stateBytes = state.size ? this.encode(decoded.config, state, [...state.keys()]) : null;
      // Another round would pass the budget: the last model stays published, and no round opens.
      const after = PrivacyAccountant.fromJSON(accountant.toJSON());
      if (this.z > 0) after.addRounds(this.noise === 'local' ? 1 : this.sampleRate, this.z);
      // Another round would pass the budget: the model this round made is published as the last
      // one, closed from the start (nothing is collected for it).
      const spent = this.z > 0 && after.epsilon(this.delta) > this.budget;
      if (spent) {
        this.spent = true;
        await tx.query(
          'INSERT INTO rounds (round, opened_at, closed_at, noise_multiplier, sample_rate, epsilon, weights, state) VALUES ($1, $2, $2, $3, $4, $5, $6, $7)',
          [round + 1, new Date(t), this.z, this.sampleRate, epsilon, next, stateBytes],
        );
        this.publishLater = [round + 1, next];
        return;
      }
      await tx.query(
        'INSERT INTO rounds (round, opened_at, noise_multiplier, sample_rate, weights, state) VALUES ($1, $2, $3, $4, $5, $6)',
        [round + 1, new Date(t), this.z, this.sampleRate, next, stateBytes],
      );
      this.publishLater = [round + 1, next];
    });
    const p = this.publishLater;
    this.publishLater = undefined;
    if (p) {
      this.current = { round: p[0], openedAt: t, kind: 'train' };
      this.publish(p[0], p[1]);
      this.log(`attnflow-collect: round ${round} closed; ${this.spent ? 'privacy budget spent, no round opens' : `round ${p[0]} open`}`);
    }
  }

  private publishLater?: [number, Uint8Array];

  private encode(config: ModelConfig, values: Map<string, Float32Array>, names?: string[]): Uint8Array {
    const shapes = new Map(weightShapes(config));
    const list = names ?? [...shapes.keys()];
    return encodeWeights(
      config,
      list.map((name) => {
        const v = values.get(name) as Float32Array;
        const base = name.replace(/^[mv]\//, '');
        return [name, shapes.get(base) ?? [v.length], v];
      }),
      'float32',
    );
  }

  private async accountant(tx: Queryable): Promise<PrivacyAccountant> {
    const [row] = await tx.query<{ value: string }>("SELECT value FROM federation WHERE key = 'accountant'");
    return row ? PrivacyAccountant.fromJSON(JSON.parse(row.value)) : new PrivacyAccountant();
  }

  /** Starts a new round from the weights of round `from` (a rollback): the open round's updates are dropped. */
  async rollback(from: number): Promise<number> {
    const t = this.now();
    const round = await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [CLOSE_LOCK]);
      const [src] = await tx.query<{ weights: Uint8Array }>('SELECT weights FROM rounds WHERE round = $1', [from]);
      if (!src) throw new Error(`rollback: there is no round ${from}`);
      const [{ max }] = await tx.query<{ max: number }>('SELECT max(round) AS max FROM rounds');
      await tx.query('UPDATE rounds SET closed_at = $2, clients = 0 WHERE round = $1 AND closed_at IS NULL', [max, new Date(t)]);
      await tx.query('DELETE FROM updates');
      // Spent privacy is not given back: with the budget spent the earlier model is published, and no round collects.
      await tx.query(
        'INSERT INTO rounds (round, opened_at, closed_at, noise_multiplier, sample_rate, from_round, weights) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [max + 1, new Date(t), this.spent ? new Date(t) : null, this.z, this.sampleRate, from, src.weights],
      );
      return { round: max + 1, weights: bytesOf(src.weights) };
    });
    this.current = { round: round.round, openedAt: t, kind: 'train' };
    this.publish(round.round, round.weights);
    return round.round;
  }

  /** Writes the round's weights and `model.json` pointing at them; removes rounds older than `keep`. */
  private publish(round: number, weights: Uint8Array): void {
    const dir = this.o.dir;
    mkdirSync(dir, { recursive: true });
    const { config, weights: values } = decodeWeights(weights);
    const quantization = this.o.quantization ?? 'float16';
    const shapes = weightShapes(config);
    const file = encodeWeights(
      config,
      shapes.map(([name, shape]) => [name, shape, values.get(name) as Float32Array]),
      quantization,
    );
    const name = `round-${round}.bin`;
    writeFileSync(path.join(dir, name), file);
    const manifest: ModelManifest & { round: number } = {
      format: 'attnflow-model',
      version: 1,
      weights: name,
      bytes: file.byteLength,
      quantization,
      numParams: shapes.reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0),
      config,
      round,
      training: { federated: { round, noise: this.noise, clip: this.clip, noiseMultiplier: this.z } },
    };
    const text = JSON.stringify(manifest, null, 2);
    writeFileSync(path.join(dir, `model-${round}.json`), text);
    // Written whole, then renamed over: a page never reads half a manifest.
    const tmp = path.join(dir, `.model.json.${randomUUID()}`);
    writeFileSync(tmp, text);
    renameSync(tmp, path.join(dir, 'model.json'));
    const keep = this.o.keep ?? 10;
    for (const f of readdirSync(dir)) {
      const m = /^(?:round-(\d+)\.bin|model-(\d+)\.json)$/.exec(f);
      const r = m ? Number(m[1] ?? m[2]) : NaN;
      if (r <= round - keep) rmSync(path.join(dir, f), { force: true });
    }
  }

  /** The rounds for the dashboard, newest first. */
  async summary(limit = 50): Promise<RoundsResponse> {
    const rows = await this.db.query<Record<string, unknown>>(
      'SELECT round, kind, opened_at, closed_at, accepted, stale, malformed, oversized, over_norm, clients, noise_multiplier, sample_rate, epsilon, from_round FROM rounds ORDER BY round DESC LIMIT $1',
      [limit],
    );
    const accountant = await this.accountant(this.db);
    return {
      status: this.spent ? 'budget spent' : 'open',
      noiseMultiplier: this.z,
      round: this.round,
      minClients: this.minClients,
      epsilonBudget: this.budget,
      delta: this.delta,
      epsilon: accountant.rounds ? accountant.epsilon(this.delta) : 0,
      noise: this.noise,
      clip: this.clip,
      rounds: rows.map((r) => ({
        round: Number(r.round),
        kind: r.kind === 'statistics' ? 'statistics' : 'train',
        openedAt: new Date(r.opened_at as string).toISOString(),
        closedAt: r.closed_at ? new Date(r.closed_at as string).toISOString() : null,
        accepted: Number(r.accepted),
        rejected: { stale: Number(r.stale), malformed: Number(r.malformed), oversized: Number(r.oversized), overNorm: Number(r.over_norm) },
        clients: r.clients === null ? null : Number(r.clients),
        noiseMultiplier: Number(r.noise_multiplier),
        sampleRate: Number(r.sample_rate),
        epsilon: r.epsilon === null ? null : Number(r.epsilon),
        fromRound: r.from_round === null ? null : Number(r.from_round),
      })),
    };
  }
}
