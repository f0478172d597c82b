/**
 * The attention model, tfjs-models style: `loadModel(config)` → `{ score, train, save, dispose }`.
 * Imports only `@tensorflow/tfjs-core` and registers no backend: the caller picks one (WebGL in a
 * worker, WASM, CPU) before loading. The same code runs in a Worker, in the page and in Node.
 */
import { AttnflowConfigError, describe } from '../lib/errors';
import { pacer, pause, runParts, runSliced, runWithin } from '../lib/pause';
import { localTrain } from '../federated/local';
import { resolveConfig } from './config';
import {
  codeList,
  eventFeatures,
  FEATURES,
  ItemCoder,
  trainBatch,
  visitorBatch,
  type CodeList,
  type ItemCode,
  type KeySequence,
} from './encode';
import { mulberry32 } from './hash';
import { initialWeights, Network } from './network';
import { decodeParts, decodeWeights, weightFile, type DecodedWeights } from './serialize';
import type {
  AttentionEvent,
  AttentionModel,
  ItemRef,
  LoadModelOptions,
  ModelConfig,
  Quantization,
  ScoreOptions,
  TrainOptions,
  TrainResult,
} from './types';

export type * from './types';
export { AttnflowConfigError } from '../lib/errors';
export { DEFAULT_CONFIG, resolveConfig } from './config';

/**
 * A sliced scoring call runs its parts in one task while they take less than this (ms): a warm
 * call (well under 1 ms) is never cut, a cold one is.
 */
const SCORE_SLICE_MS = 4;
/**
 * How much longer than a busy part the next part of training waits on the page (`pacer`):
 * training is work nobody waits for, and its first steps of a visit run the most code the browser
 * has yet to compile.
 */
const TRAIN_BACK_OFF = 3;

/** Maps item ids of one call to integer keys and their codes. */
class KeyTable {
  readonly codes: ItemCode[] = [];
  private keys = new Map<string, number>();
  constructor(private coder: ItemCoder) {}
  key(item: ItemRef): number {
    const id = item.itemId;
    let k = this.keys.get(id);
    if (k === undefined) {
      k = this.codes.length;
      this.keys.set(id, k);
      this.codes.push(this.coder.code(item));
    }
    return k;
  }
}

function checkEvents(events: unknown, what: string): asserts events is readonly AttentionEvent[] {
  if (!Array.isArray(events)) throw new AttnflowConfigError(describe(what, 'an array of events', events));
  for (const e of events) {
    if (!e || typeof (e as AttentionEvent).itemId !== 'string') {
      throw new AttnflowConfigError(describe(`${what} event`, 'an object with a string itemId', e));
    }
  }
}

function keySequence(events: readonly AttentionEvent[], table: KeyTable, views: Map<string, number>): KeySequence {
  const n = events.length;
  const keys = new Int32Array(n);
  const features = new Float32Array(n * FEATURES);
  const skipped = new Uint8Array(n);
  const viewIds = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const e = events[i];
    keys[i] = table.key(e);
    eventFeatures(e, features, i * FEATURES);
    skipped[i] = e.skipped ? 1 : 0;
    const v = e.viewId ?? '';
    let vi = views.get(v);
    if (vi === undefined) views.set(v, (vi = views.size));
    viewIds[i] = e.viewId === undefined ? -1 - i : vi; // no view: never shares one
  }
  return { keys, features, skipped, views: viewIds };
}

/** An item ref as it was when given (the caller may change its own objects later). */
function copyRef(x: ItemRef | string): ItemRef {
  const r = typeof x === 'string' ? { itemId: x } : x;
  return { itemId: r.itemId, topics: r.topics?.slice(), vector: r.vector && Array.from(r.vector) };
}

function sameRef(x: ItemRef | string, y: ItemRef): boolean {
  const r = typeof x === 'string' ? { itemId: x } : x;
  return r.itemId === y.itemId && sameList(r.topics, y.topics) && sameList(r.vector, y.vector);
}

function sameList<T>(a: ArrayLike<T> | undefined, b: ArrayLike<T> | undefined): boolean {
  if (!a || !b) return !a === !b || (a ?? b)!.length === 0;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

class Model implements AttentionModel {
  private coder: ItemCoder;
  private lastCandidates?: { refs: ItemRef[]; list: CodeList };
  private rand: () => number;
  private disposed = false;
  constructor(private net: Network) {
    this.coder = new ItemCoder(net.config);
    this.rand = mulberry32(net.config.seed ^ 0x7a11);
  }

  /** The fastest time of each part of a sliced training step, and of saving, so far (see `pacer`). */
  private stepBest: number[] = [];
  private saveBest: number[] = [];

  /** False once disposed: work in slices stops at its next pause. */
  private alive = (): boolean => !this.disposed;

  get config(): Readonly<ModelConfig> {
    return this.net.config;
  }

  get numParams(): number {
    return this.net.numParams;
  }

  async score(
    history: readonly AttentionEvent[],
    candidates: readonly (ItemRef | string)[],
    options: ScoreOptions = {},
  ): Promise<Float32Array> {
    checkEvents(history, 'score history');
    if (!Array.isArray(candidates)) throw new AttnflowConfigError(describe('score candidates', 'an array', candidates));
    const c = this.net.config;
    const C = candidates.length;
    if (C === 0) return new Float32Array(0);
    // New weights are folded, and new candidates' vectors made, each in a slice of its own (on
    // the page, a task of its own) before the visitor's part.
    const list = this.candidateList(candidates);
    const pace = pacer();
    while (this.net.prepare('score', list)) await pace();
    const batch = visitorBatch(history.slice(-c.maxLen), (e) => this.coder.code(e), c.itemVectorDim);
    const t = options.sliced
      ? await runWithin(this.net.scoreParts(batch, list, C), SCORE_SLICE_MS, this.alive)
      : this.net.scoreTensor(batch, list, C);
    const out = (await t.data()) as Float32Array;
    t.dispose();
    return out;
  }

  /**
   * The candidates in code form, the same list object as last time when they are equal to the last
   * call's (the network then keeps their vectors): a page scores the same items as its visitor reads.
   */
  private candidateList(candidates: readonly (ItemRef | string)[]): CodeList {
    const last = this.lastCandidates;
    if (last && last.refs.length === candidates.length && candidates.every((x, i) => sameRef(x, last.refs[i]))) return last.list;
    const list = codeList(
      candidates.map((x) => this.coder.code(x)),
      this.net.config.itemVectorDim,
    );
    this.lastCandidates = { refs: candidates.map(copyRef), list };
    return list;
  }

  async train(sequences: readonly (readonly AttentionEvent[])[], options: TrainOptions = {}): Promise<TrainResult> {
    if (!Array.isArray(sequences)) throw new AttnflowConfigError(describe('train sequences', 'an array of event arrays', sequences));
    const c = this.net.config;
    const table = new KeyTable(this.coder);
    const views = new Map<string, number>();
    const seqs: KeySequence[] = [];
    for (const events of sequences) {
      checkEvents(events, 'train sequence');
      if (events.length >= 2) seqs.push(keySequence(events.slice(-(c.maxLen + 1)), table, views));
    }
    if (seqs.length === 0) return { loss: NaN, targets: 0 };
    const pool = options.negativePool?.length ? options.negativePool.map((r) => table.key(r)) : table.codes.map((_, k) => k);
    const negatives = new Int32Array(Math.min(c.negatives, options.negativePool?.length ? c.negatives : pool.length));
    for (let i = 0; i < negatives.length; i++) negatives[i] = pool[Math.floor(this.rand() * pool.length)];
    const batch = trainBatch(seqs, (k) => table.codes[k], negatives, c.maxLen, c.skippedNegatives, c.itemVectorDim);
    // The optimizer's state and the dropout pool are made in slices of their own before the first step.
    const pace = pacer({ backOff: TRAIN_BACK_OFF });
    while (batch.targetPos.length > 0 && this.alive() && this.net.prepare('train', undefined, batch)) await pace();
    if (!this.alive()) throw new Error('attnflow: the model was disposed');
    const rate = options.learningRate ?? c.learningRate;
    const loss = options.sliced
      ? await runSliced(this.net.stepParts(batch, rate, true), this.alive, { backOff: TRAIN_BACK_OFF, best: this.stepBest })
      : this.net.step(batch, rate);
    return { loss, targets: batch.targetPos.length };
  }

  save(quantization: Quantization = 'float16'): Uint8Array {
    return runParts(this.saveParts(quantization));
  }

  saveSliced(quantization: Quantization = 'float16'): Promise<Uint8Array> {
    return runSliced(this.saveParts(quantization), this.alive, { backOff: TRAIN_BACK_OFF, best: this.saveBest });
  }

  /**
   * The weight file, a part per weight, and a big table a block of rows per part: on the page a
   * table read at once (megabytes out of the WASM heap into new memory) is a long task.
   */
  private *saveParts(quantization: Quantization): Generator<void, Uint8Array, void> {
    const weights = [...this.net.weights];
    const file = weightFile(
      this.net.config,
      weights.map(([name, w]) => [name, w.shape]),
      quantization,
    );
    const BLOCK = 1 << 16;
    for (let i = 0; i < weights.length; i++) {
      if (i > 0) yield;
      const w = weights[i]![1];
      if (w.size <= BLOCK || w.rank !== 2) {
        file.put(i, w.dataSync() as Float32Array);
        continue;
      }
      const [rows, width] = w.shape as [number, number];
      const step = Math.max(1, Math.floor(BLOCK / width));
      for (let r = 0; r < rows; r += step) {
        if (r > 0) yield;
        const n = Math.min(step, rows - r);
        file.put(i, this.net.readRows(w, r, n), r * width);
      }
    }
    return file.bytes;
  }

  dispose(): void {
    this.disposed = true;
    this.net.dispose();
  }
}

/**
 * Creates the model, from scratch or from saved weights. Validates the config (throws
 * `AttnflowConfigError` naming the field); a tfjs backend must already be set.
 */
export async function loadModel(options: LoadModelOptions = {}): Promise<AttentionModel> {
  // Weights are decoded or drawn, then made into tensors, a slice at a time: the page runs between.
  const saved = options?.weights !== undefined ? await runSliced(decodeParts(options.weights)) : undefined;
  const { config, values } = networkOptions(options, saved);
  const net = await Network.build(config, values ?? (await initialWeights(config, pacer())));
  // The last slice was a task's work on the page: the caller's next step gets a task of its own.
  await pause();
  return new Model(net);
}

/** The config and the saved weights (if any) that `options` describe. */
function networkOptions(options: LoadModelOptions, saved?: DecodedWeights): { config: ModelConfig; values?: Map<string, Float32Array> } {
  const { weights, ...rest } = options ?? {};
  if (weights === undefined) return { config: resolveConfig(rest) };
  const decoded = saved ?? decodeWeights(weights);
  const overrides: Partial<ModelConfig> = {};
  // Only settings that do not change weight shapes may be overridden when loading.
  for (const key of [
    'dropout',
    'learningRate',
    'epsilon',
    'weightDecay',
    'seed',
    'trainable',
    'negatives',
    'skippedNegatives',
    'loss',
  ] as const) {
    if (rest[key] !== undefined) (overrides as Record<string, unknown>)[key] = rest[key];
  }
  return { config: resolveConfig({ ...decoded.config, ...overrides }), values: decoded.weights };
}

/** The network behind `loadModel`, for offline training and evaluation in Node. */
export function createNetwork(options: LoadModelOptions = {}): Network {
  const { config, values } = networkOptions(options);
  return new Network(config, values);
}

/** Options of `localUpdate`. */
export interface LocalUpdateOptions {
  /** SGD steps. */
  steps: number;
  /** SGD learning rate. */
  learningRate: number;
  /** Items to draw the shared negatives of each step from (the site's public list); default the visitor's own. */
  negativePool?: readonly ItemRef[];
  /** Uniform random numbers for the negatives and dropout; default seeded from the config. */
  rand?: () => number;
}

/**
 * A federated round's local training on one visitor's log: a network from the round's `weights`,
 * `steps` SGD steps on `events` (oldest first), and the change they made, with the round's
 * config. The network is freed before it returns.
 */
export function localUpdate(
  weights: Uint8Array,
  events: readonly AttentionEvent[],
  options: LocalUpdateOptions,
): { delta: import('../federated/update').Delta; config: ModelConfig; loss: number; targets: number } {
  checkEvents(events, 'local update events');
  const net = createNetwork({ weights });
  try {
    const c = net.config;
    const table = new KeyTable(new ItemCoder(c));
    const seq = keySequence(events.slice(-(c.maxLen + 1)), table, new Map());
    const pool = (options.negativePool?.length ? options.negativePool : events).map((r) => table.key(r));
    const rand = options.rand ?? mulberry32(c.seed ^ 0xfed);
    const batchOf = () => {
      const negatives = new Int32Array(Math.min(c.negatives, pool.length));
      for (let i = 0; i < negatives.length; i++) negatives[i] = pool[Math.floor(rand() * pool.length)]!;
      return trainBatch([seq], (k) => table.codes[k]!, negatives, c.maxLen, c.skippedNegatives, c.itemVectorDim);
    };
    const out = localTrain(net, batchOf, options);
    return { ...out, config: c };
  } finally {
    net.dispose();
  }
}
