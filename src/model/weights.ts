/**
 * The weights: their names and shapes, their initial values (drawn from the seed, whole or in
 * slices), and `Weights`, the variables of a network with what reads and sets them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { FEATURES, type ItemCode } from './encode';
import { fillNormal, mulberry32 } from './hash';
import type { ModelConfig } from './types';

/** The lookup tables: a step reads and updates only the rows its batch touches. */
export const TABLES = ['item/id', 'item/bias', 'item/topic'];

/** Every weight but the lookup tables, in order. */
export const denseWeights = (weights: Map<string, Variable>): Variable[] =>
  [...weights].filter(([name]) => !TABLES.includes(name)).map(([, w]) => w);

/** Names and shapes of every weight for a config, in a fixed order (the order of saved weights). */
export function weightShapes(c: ModelConfig): [string, number[]][] {
  const d = c.dim;
  const out: [string, number[]][] = [
    ['item/id', [c.idBuckets, d]],
    ['item/bias', [c.idBuckets, 1]],
  ];
  if (c.topicBuckets > 0) out.push(['item/topic', [c.topicBuckets, d]]);
  if (c.itemVectorDim > 0) out.push(['item/vector', [c.itemVectorDim, d]]);
  out.push(['seq/pos', [c.maxLen, d]], ['seq/features', [FEATURES, d]]);
  for (let i = 0; i < c.blocks; i++) {
    const p = `block${i}/`;
    out.push(
      [p + 'ln1/g', [d]],
      [p + 'ln1/b', [d]],
      [p + 'wq', [d, d]],
      [p + 'wk', [d, d]],
      [p + 'wv', [d, d]],
      [p + 'wo', [d, d]],
      [p + 'ln2/g', [d]],
      [p + 'ln2/b', [d]],
      [p + 'w1', [d, c.ffnDim]],
      [p + 'b1', [c.ffnDim]],
      [p + 'w2', [c.ffnDim, d]],
      [p + 'b2', [d]],
    );
  }
  out.push(['out/ln/g', [d]], ['out/ln/b', [d]]);
  return out;
}

/**
 * Initial values of weight `name`. Normal draws go in slices of `SLICE` values, with `pause()`
 * between slices when given: the id table alone is half a million draws, tens of ms on a slow
 * device, which on the page would be one long task. The values are the same either way.
 */
function initValues(name: string, shape: number[], rand: () => number): Float32Array;
function initValues(name: string, shape: number[], rand: () => number, pause: () => Promise<void>): Promise<Float32Array>;
function initValues(name: string, shape: number[], rand: () => number, pause?: () => Promise<void>): Float32Array | Promise<Float32Array> {
  const size = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(size);
  const done = pause ? Promise.resolve(v) : v;
  if (name.endsWith('/g')) {
    v.fill(1);
    return done;
  }
  if (name.endsWith('/b') || name === 'item/bias' || /\/b[12]$/.test(name)) return done;
  // Small item vectors at first, so that a popularity prior in the biases is not drowned in noise.
  if (name === 'item/id' || name === 'item/topic' || name === 'seq/pos') {
    if (!pause) return fillNormal(v, rand, 0.02);
    return (async () => {
      for (let at = 0; at < size; at += SLICE) {
        fillNormal(v.subarray(at, at + SLICE), rand, 0.02);
        if (at + SLICE < size) await pause();
      }
      return v;
    })();
  }
  // Residual branches start at zero: at first the visitor vector is its last item's vector.
  // Attention features start silent too, so they cannot drown the item vectors; they grow if useful.
  if (/\/(wo|w2)$/.test(name) || name === 'seq/features') return done;
  // Glorot uniform for dense kernels.
  const limit = Math.sqrt(6 / (shape[0] + shape[shape.length - 1]));
  for (let i = 0; i < size; i++) v[i] = (rand() * 2 - 1) * limit;
  return done;
}

/**
 * Normal draws per slice of `initValues` (even: Box–Muller makes them in pairs). Small: on a page
 * the first slices run before the code is compiled, some 1 µs a draw on a slow device.
 */
const SLICE = 1 << 13;

/**
 * The initial weights of a new model with `config`, made in slices with `pause()` between them;
 * the same values as `new Network(config)` makes at once.
 */
export async function initialWeights(config: ModelConfig, pause: () => Promise<void>): Promise<Map<string, Float32Array>> {
  const rand = mulberry32(config.seed ^ 0x5eed);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of weightShapes(config)) out.set(name, await initValues(name, shape, rand, pause));
  return out;
}

let counter = 0;
/** A number for the name of a new variable: tfjs needs every variable's name to be its own. */
export function uid(): number {
  return ++counter;
}

/** The weight variables of a network with `config`, and what reads and sets their values. */
export class Weights {
  readonly weights = new Map<string, Variable>();

  constructor(readonly config: ModelConfig) {}

  /** Makes the weights' tensors, yielding after every SLICE·8 values. */
  protected *makeWeights(values?: Map<string, Float32Array>): Generator<void, void, void> {
    const initRand = mulberry32(this.config.seed ^ 0x5eed); // the same draws as `initialWeights`
    let since = 0;
    for (const [name, shape] of weightShapes(this.config)) {
      const data = values?.get(name) ?? initValues(name, shape, initRand);
      // The initial tensor goes at once: a variable shares its data, which would outlive dispose().
      this.weights.set(
        name,
        tf.tidy(() => tf.variable(tf.tensor(data, shape, 'float32'), true, `attnflow/${name}/${uid()}`)),
      );
      since += data.length;
      if (since >= SLICE * 8) {
        since = 0;
        yield;
      }
    }
  }

  get numParams(): number {
    let n = 0;
    for (const w of this.weights.values()) n += w.size;
    return n;
  }

  protected w(name: string): Variable {
    return this.weights.get(name) as Variable;
  }

  /** The data of every weight, in order: it changes with every training step or new weights. */
  protected weightData(): unknown[] {
    return [...this.weights.values()].map((w) => w.dataId);
  }

  /** Sets item biases so that item k's summed bias buckets equal `prior[k]` (shared buckets average). */
  setBiasPrior(prior: Float32Array, codes: readonly ItemCode[]): void {
    const table = this.w('item/bias');
    const rows = biasRows(prior, codes, table.shape[0] as number);
    tf.tidy(() => table.assign(tf.tensor2d(rows, [rows.length, 1])));
  }

  /** Sets item id rows so that item k's summed buckets equal `vectors[k]` (shared buckets average). */
  setItemVectors(vectors: Float32Array, codes: readonly ItemCode[]): void {
    const table = this.w('item/id');
    const rows = Float32Array.from(table.dataSync() as Float32Array);
    setItemRows(rows, vectors, codes, this.config.dim);
    tf.tidy(() => table.assign(tf.tensor2d(rows, [table.shape[0] as number, this.config.dim])));
  }

  /** Values of rows `from`..`from + n` of the 2-D weight `w`. */
  readRows(w: Tensor, from: number, n: number): Float32Array {
    const at = new Int32Array(n);
    for (let i = 0; i < n; i++) at[i] = from + i;
    // A gather, not a slice: the WASM backend's slice reads the whole table out of its heap.
    const block = tf.tidy(() => tf.gather(w, tf.tensor1d(at, 'int32')));
    const out = block.dataSync() as Float32Array;
    block.dispose();
    return out;
  }

  /** Copies of all weights (for keeping the best checkpoint or saving). */
  snapshot(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, w] of this.weights) out.set(name, Float32Array.from(w.dataSync() as Float32Array));
    return out;
  }

  restore(values: Map<string, Float32Array>): void {
    for (const [name, w] of this.weights) {
      const v = values.get(name);
      if (v) tf.tidy(() => w.assign(tf.tensor(v, w.shape)));
    }
  }

  dispose(): void {
    for (const w of this.weights.values()) w.dispose();
    this.weights.clear();
  }
}

/** The `item/bias` table (`rows` long) whose buckets sum to `prior[k]` for item k (shared buckets average). */
export function biasRows(prior: ArrayLike<number>, codes: readonly ItemCode[], rows: number): Float32Array {
  const sum = new Float32Array(rows);
  const cnt = new Float32Array(rows);
  for (let k = 0; k < codes.length; k++) {
    const ids = codes[k].ids;
    for (let j = 0; j < ids.length; j++) {
      sum[ids[j]] += prior[k] / ids.length;
      cnt[ids[j]] += 1;
    }
  }
  for (let i = 0; i < rows; i++) if (cnt[i] > 1) sum[i] /= cnt[i];
  return sum;
}

/**
 * Sets the rows of the `item/id` table `table` (row-major, width `d`) that items use so that item
 * k's buckets sum to `vectors[k]` (shared buckets average); other rows keep their values.
 */
export function setItemRows(table: Float32Array, vectors: ArrayLike<number>, codes: readonly ItemCode[], d: number): void {
  const cnt = new Float32Array(table.length / d);
  for (let k = 0; k < codes.length; k++) for (const r of codes[k].ids) if (cnt[r]++ === 0) table.fill(0, r * d, r * d + d);
  for (let k = 0; k < codes.length; k++) {
    const ids = codes[k].ids;
    for (const r of ids) for (let j = 0; j < d; j++) table[r * d + j] += vectors[k * d + j] / ids.length / cnt[r];
  }
}
