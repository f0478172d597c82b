/**
 * The network: hashed item encoder, SASRec-style causal self-attention visitor encoder, dot-product
 * scorer with item bias, and its training step (sampled negatives, Adam with explicit epsilon).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { FEATURES, type CodeList, type ItemCode, type SeqBatch, type TrainBatch } from './encode';
import { fillNormal, mulberry32 } from './hash';
import { bceLoss, layerNorm, lookup, mm, registerGradients, softmaxLoss, takeRows } from './ops';
import { runParts, runSliced } from '../lib/pause';

const TABLES = ['item/id', 'item/bias', 'item/topic'];
import type { ModelConfig } from './types';

/**
 * The weights rearranged for scoring, made from the weights whenever one changes. Scoring needs no
 * gradient, so each layer norm's gain and bias move into the product that follows it, and the
 * attention's query-key and value-output products become one matrix each:
 *   softmax(h·Wq·(h·Wk)ᵀ) · h·Wv·Wo  with  h = n∘g + b  (n the normalised input)
 *   = softmax((n·Aq + cq)·nᵀ) · n·Wvo' + cvo,   Aq = s·G·Wq·Wkᵀ·G, cq = s·b·Wq·Wkᵀ·G,
 * where terms the same for every key are dropped (softmax ignores them), and the weights of a row
 * sum to 1, which turns b·Wv·Wo into a bias. The products that add to the residual stream are
 * centred (each output row sums to zero), so the stream stays centred and a layer norm needs no
 * centring of its own. Half the kernels of the plain encoder remain.
 */
interface Folded {
  /** I − 1/d: a product that centres rows. */
  center: Tensor;
  /** [1, d, 1] of 1/d, and ε: the mean square of a centred row plus ε in one fused product. */
  meanCol: Tensor;
  eps: Tensor;
  /**
   * The small lookup table [topicBuckets + maxLen + features, d]: topic vectors, then position
   * vectors, then the attention features' weights. An item's input is then one weighted sum of
   * rows (its id and topic vectors, its position, its features), whatever it is made of.
   */
  small: Tensor;
  /** [1, vector dims, d]: item-vector weights·√d (when used). */
  vectors?: Tensor;
  blocks: { aq: Tensor; cq: Tensor; wv: Tensor; cv: Tensor; w1: Tensor; c1: Tensor; w2: Tensor; b2: Tensor }[];
  /** The output norm's gain as a diagonal matrix, and its bias. */
  outG: Tensor;
  outB: Tensor;
}

/** What the encoder's parts share for one batch. */
interface EncodeContext {
  B: number;
  L: number;
  training: boolean;
  /** No gradient needed: plain ops, without the custom-gradient bookkeeping. */
  plain: boolean;
  /** [B·L, 1]: 1 at real positions, 0 at padding; undefined for a batch without padding. */
  valid?: Tensor;
  /** Additive attention mask, [B·heads, L, L]. */
  mask: Tensor;
}

/** Item vectors [n, d] and biases [n, 1] of the lists a training loss reads. */
interface LossVectors {
  pos: { e: Tensor; b: Tensor };
  neg?: { e: Tensor; b: Tensor };
  rows?: { e: Tensor; b: Tensor };
}

/** Zeroes the padding positions of the residual stream. */
const padOut = (x: Tensor, ctx: EncodeContext): Tensor => (ctx.valid ? tf.mul(x, ctx.valid) : x);

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
      [p + 'ln1/g', [d]], [p + 'ln1/b', [d]],
      [p + 'wq', [d, d]], [p + 'wk', [d, d]], [p + 'wv', [d, d]], [p + 'wo', [d, d]],
      [p + 'ln2/g', [d]], [p + 'ln2/b', [d]],
      [p + 'w1', [d, c.ffnDim]], [p + 'b1', [c.ffnDim]],
      [p + 'w2', [c.ffnDim, d]], [p + 'b2', [d]],
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

/** Dropout masks come from a pool of random bytes read at random offsets: cheap and seeded. */
class DropoutPool {
  private bytes: Uint8Array;
  private filled = 0;
  constructor(
    private rand: () => number,
    size: number,
  ) {
    this.bytes = new Uint8Array(size);
  }

  get full(): boolean {
    return this.filled === this.bytes.length;
  }

  /** Draws up to `n` more bytes of the pool, in order: the same pool however it is cut. */
  fill(n = Infinity): void {
    const end = Math.min(this.bytes.length, this.filled + n);
    for (let i = this.filled; i < end; i += 4) {
      const r = (this.rand() * 4294967296) >>> 0;
      this.bytes[i] = r & 255;
      this.bytes[i + 1] = (r >>> 8) & 255;
      this.bytes[i + 2] = (r >>> 16) & 255;
      this.bytes[i + 3] = r >>> 24;
    }
    this.filled = end;
  }

  mask(n: number, rate: number): Float32Array {
    if (!this.full) this.fill();
    const out = new Float32Array(n);
    const keep = 1 / (1 - rate);
    const cut = Math.round(rate * 256);
    let at = Math.floor(this.rand() * this.bytes.length);
    for (let i = 0; i < n; i++) {
      if (at >= this.bytes.length) at = 0;
      out[i] = this.bytes[at++] >= cut ? keep : 0;
    }
    return out;
  }
}

/**
 * Bytes of the dropout pool for a first mask of `n` values: 64× a mask, at most 4 MB. A visitor's
 * own training step (a few thousand values a mask) fills a pool of some 100 KB, and batches of
 * thousands of positions get the full pool.
 */
const poolSize = (n: number): number => Math.min(1 << 22, 2 ** Math.ceil(Math.log2(Math.max(1024, n * 64))));

export class Network {
  readonly weights = new Map<string, Variable>();
  /**
   * Adam's state: per lookup table (updated row-sparse), and for all other weights together, one
   * flat vector each, in `weights` order (one update of a dozen kernels instead of a dozen per
   * weight; on the page each kernel costs microseconds of JavaScript).
   */
  private adam?: { m: Map<string, Variable>; v: Map<string, Variable>; dm: Variable; dv: Variable; decay: Tensor; parts: Tensor[]; t: number };
  /** Adam's state while it is being made, a part at a time. */
  private making?: Generator<void, NonNullable<Network['adam']>, void>;
  /** During a training step: the rows of each lookup table the batch touches, as their own variables. */
  private sparse?: Map<string, { rows: Variable; remap: Int32Array }>;
  private remaps = new Map<string, Int32Array>();
  private rand: () => number;
  private drop: DropoutPool | undefined;
  /** Memory touched ahead of the first step (WASM), freed for the step to take once there is enough. */
  private heap?: { made: Tensor[]; done: boolean };
  /** During a step cut into parts: its dropout masks, by place in the network. */
  private masks?: Map<string, Tensor>;
  /** The last visitor vectors, the batch they came from and the data of every weight then. */
  private visitor?: { batch: SeqBatch; data: unknown[]; u: Tensor };
  private causal?: { L: number; t: Tensor };
  /** The last candidates' vectors, their list and the data of every weight then. */
  private candidates?: { list: CodeList; data: unknown[]; e: Tensor; b: Tensor };
  /** The folded weights for scoring, the data of every weight they came from, and what to dispose. */
  private folded?: { data: unknown[]; t: Folded; own: Tensor[] };
  /** A folding under way in parts (`prepare`), for the weights of `data`. */
  private folding?: { data: unknown[]; parts: Generator<void, { t: Folded; own: Tensor[] }, void> };

  /** The network with weights `values` (any missing are drawn from the seed). */
  constructor(readonly config: ModelConfig, values?: Map<string, Float32Array>, later = false) {
    registerGradients();
    this.rand = mulberry32(config.seed);
    if (!later) runParts(this.makeWeights(values));
  }

  /**
   * The network made a part at a time, `pause()` between parts: on the page, copying megabytes of
   * weights into the backend's memory is a long task.
   */
  static async build(config: ModelConfig, values: Map<string, Float32Array> | undefined): Promise<Network> {
    const net = new Network(config, undefined, true);
    try {
      await runSliced(net.makeWeights(values));
    } catch (error) {
      net.dispose();
      throw error;
    }
    return net;
  }

  /** Makes the weights' tensors, yielding after every SLICE·8 values. */
  private *makeWeights(values?: Map<string, Float32Array>): Generator<void, void, void> {
    const initRand = mulberry32(this.config.seed ^ 0x5eed); // the same draws as `initialWeights`
    let since = 0;
    for (const [name, shape] of weightShapes(this.config)) {
      const data = values?.get(name) ?? initValues(name, shape, initRand);
      // The initial tensor goes at once: a variable shares its data, which would outlive dispose().
      this.weights.set(name, tf.tidy(() => tf.variable(tf.tensor(data, shape, 'float32'), true, `attnflow/${name}/${uid()}`)));
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

  /**
   * Makes Adam's state a part at a time (a generator that yields between parts): the flat state of
   * the dense weights, then each table's. A table's state is the size of the table (megabytes for
   * the id table), which on the page is a task of its own.
   */
  private *optimizerParts(): Generator<void, NonNullable<Network['adam']>, void> {
    const m = new Map<string, Variable>();
    const v = new Map<string, Variable>();
    const dense = [...this.weights].filter(([name]) => !TABLES.includes(name)).map(([, w]) => w);
    const decay = new Float32Array(dense.reduce((n, w) => n + w.size, 0));
    // Each weight's place in the flat vector, as indices to gather: the WASM backend's slice and
    // split copy the whole vector out of its heap for every part they cut.
    const parts: Tensor[] = [];
    let at = 0;
    for (const w of dense) {
      const idx = new Int32Array(w.size);
      for (let i = 0; i < idx.length; i++) idx[i] = at + i;
      parts.push(tf.tensor1d(idx, 'int32'));
      // Decoupled weight decay (AdamW) on matrices only, not on norms and biases.
      if (w.rank > 1) decay.fill(1, at, at + w.size);
      at += w.size;
    }
    const zeros = () => tf.tidy(() => tf.variable(tf.zeros([decay.length]), false));
    const state = { m, v, dm: zeros(), dv: zeros(), decay: tf.tensor1d(decay), parts, t: 0 };
    let done = false;
    try {
      for (const name of TABLES) {
        const w = this.weights.get(name);
        if (!w) continue;
        // A table's first and second moments, a part each: new memory is slow to touch the first
        // time on some systems, megabytes of it a long task.
        for (const into of [m, v]) {
          yield;
          into.set(name, tf.tidy(() => tf.variable(tf.zerosLike(w), false)));
        }
      }
      done = true;
      return state;
    } finally {
      // Left unfinished (the network was disposed): what was made goes with it.
      if (!done) tf.dispose([...m.values(), ...v.values(), state.dm, state.dv, state.decay, ...parts]);
    }
  }

  private w(name: string): Variable {
    return this.weights.get(name) as Variable;
  }

  /** Rows `idx` of lookup table `name`: the whole table, or during a step only its touched rows. */
  private lookupIn(name: string, idx: Int32Array, w: Float32Array, n: number, k: number, plain: boolean): Tensor {
    const s = this.sparse?.get(name);
    if (!s) return lookup(this.w(name), idx, w, n, k, plain);
    const local = new Int32Array(idx.length);
    for (let i = 0; i < idx.length; i++) local[i] = w[i] !== 0 ? s.remap[idx[i]] : 0;
    return lookup(s.rows, local, w, n, k);
  }

  /** Item vectors [n, d] and biases [n, 1]; `plain` (no gradient needed) skips the custom gradients. */
  itemVectors(list: CodeList, plain = false): { e: Tensor; b: Tensor } {
    return { e: this.itemEmbeddings(list, plain), b: this.lookupIn('item/bias', list.idIdx, list.idW, list.n, list.idK, plain) };
  }

  /** Item vectors [n, d] alone (the encoder's input, which has no use for the biases). */
  private itemEmbeddings(list: CodeList, plain: boolean): Tensor {
    const c = this.config;
    const { n } = list;
    let e = this.lookupIn('item/id', list.idIdx, list.idW, n, list.idK, plain);
    if (c.topicBuckets > 0 && list.topicK > 0) {
      e = tf.add(e, this.lookupIn('item/topic', list.topicIdx, list.topicW, n, list.topicK, plain));
    }
    if (c.itemVectorDim > 0 && list.vectors) {
      e = tf.add(e, mm(tf.tensor2d(list.vectors, [n, c.itemVectorDim]), this.w('item/vector')));
    }
    return e;
  }

  private dropout(x: Tensor, training: boolean, key: string): Tensor {
    const rate = this.config.dropout;
    if (!training || rate <= 0) return x;
    // A step cut into parts draws each mask once, in its forward pass, and uses it again when a
    // part runs its piece of the network a second time to take the gradient.
    const kept = this.masks?.get(key);
    if (kept) return tf.mul(x, kept);
    // Sized by the first mask (the input's), unless `prepare` made it before the step.
    this.drop ??= new DropoutPool(this.rand, poolSize(x.size));
    const mask = tf.tensor(this.drop.mask(x.size, rate), x.shape);
    this.masks?.set(key, tf.keep(mask));
    return tf.mul(x, mask);
  }

  /**
   * Visitor encoder: outputs [B·L, d], row b·L + l summarising the sequence up to column l; with
   * `lastOnly` (scoring, no gradient) [B, d], the last column only: the last block then attends
   * from that column alone, and batches without padding skip their masking.
   */
  encode(batch: SeqBatch, training: boolean, lastOnly = false): Tensor {
    const c = this.config;
    // Scoring needs no gradient: plain ops, without the custom-gradient bookkeeping.
    const ctx = this.encodeContext(batch, training, lastOnly && !training);
    let x = this.encodeInput(batch, ctx);
    for (let i = 0; i < c.blocks; i++) x = this.encodeBlock(i, x, ctx);
    return this.encodeOut(x, ctx, lastOnly);
  }

  /** What the encoder's parts share for a batch: sizes, the padding and the attention mask. */
  private encodeContext(batch: SeqBatch, training: boolean, plain: boolean): EncodeContext {
    const { B, L } = batch;
    const heads = this.config.heads;
    // Padding positions are zeroed after each step; a batch without padding skips that.
    const valid = batch.valid.some((v) => v === 0) ? tf.tensor2d(batch.valid, [B * L, 1]) : undefined;
    // Causal mask plus key padding, additive: 0 where column j may be attended from row i.
    const maskData = new Float32Array(B * L * L);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < L; i++) {
        const row = (b * L + i) * L;
        for (let j = 0; j < L; j++) maskData[row + j] = j <= i && batch.valid[b * L + j] > 0 ? 0 : -1e9;
      }
    }
    let mask = tf.tensor3d(maskData, [B, L, L]);
    if (heads > 1) {
      const one = mask;
      mask = tf.tidy(() => tf.reshape(tf.tile(tf.reshape(one, [B, 1, L, L]), [1, heads, 1, 1]), [B * heads, L, L]));
      one.dispose();
    }
    return { B, L, training, plain, valid, mask };
  }

  private norm(x: Tensor, name: string, plain: boolean): Tensor {
    return layerNorm(x, this.w(name + '/g'), this.w(name + '/b'), 1e-6, plain);
  }

  /** The residual stream's start [B·L, d]: item vectors, positions and attention features. */
  private encodeInput(batch: SeqBatch, ctx: EncodeContext): Tensor {
    const c = this.config;
    const { B, L, plain } = ctx;
    const d = c.dim;
    const posIdx = new Int32Array(L);
    for (let l = 0; l < L; l++) posIdx[l] = c.maxLen - L + l;
    const pos = takeRows(this.w('seq/pos'), posIdx, plain);
    // Item vectors enter the residual stream scaled by √d (as in SASRec): the blocks' outputs come
    // from layer-normed inputs, and unscaled item vectors would be drowned by them early in training.
    let x = tf.mul(this.itemEmbeddings(batch.items, plain), Math.sqrt(d));
    x = tf.reshape(tf.add(tf.reshape(x, [B, L, d]), pos), [B * L, d]);
    x = tf.add(x, mm(tf.tensor2d(batch.features, [B * L, FEATURES]), this.w('seq/features')));
    return padOut(this.dropout(x, ctx.training, 'input'), ctx);
  }

  /** Self-attention block `i` on the residual stream `x` [B·L, d]. */
  private encodeBlock(i: number, x: Tensor, ctx: EncodeContext): Tensor {
    return this.encodeFeedForward(i, this.encodeAttention(i, x, ctx), ctx);
  }

  /** Block `i`'s first half: self-attention, added to the residual stream `x`. */
  private encodeAttention(i: number, x: Tensor, ctx: EncodeContext): Tensor {
    const { B, L, training, plain } = ctx;
    const d = this.config.dim;
    const heads = this.config.heads;
    const dh = d / heads;
    const scale = 1 / Math.sqrt(dh);
    const split = (t: Tensor): Tensor =>
      heads === 1
        ? tf.reshape(t, [B, L, d])
        : tf.reshape(tf.transpose(tf.reshape(t, [B, L, heads, dh]), [0, 2, 1, 3]), [B * heads, L, dh]);
    const merge = (t: Tensor): Tensor =>
      heads === 1
        ? tf.reshape(t, [B * L, d])
        : tf.reshape(tf.transpose(tf.reshape(t, [B, heads, L, dh]), [0, 2, 1, 3]), [B * L, d]);
    const p = `block${i}/`;
    const h = this.norm(x, p + 'ln1', plain);
    const q = split(mm(h, this.w(p + 'wq')));
    const k = split(mm(h, this.w(p + 'wk')));
    const v = split(mm(h, this.w(p + 'wv')));
    const s = tf.add(tf.mul(tf.matMul(q, tf.transpose(k, [0, 2, 1])), scale), ctx.mask);
    const o = mm(merge(tf.matMul(tf.softmax(s), v)), this.w(p + 'wo'));
    return tf.add(x, this.dropout(o, training, p + 'attention'));
  }

  /** Block `i`'s second half: the point-wise feed-forward layer, added to the residual stream `x`. */
  private encodeFeedForward(i: number, x: Tensor, ctx: EncodeContext): Tensor {
    const { training, plain } = ctx;
    const p = `block${i}/`;
    const h = this.norm(x, p + 'ln2', plain);
    const f1 = tf.relu(tf.add(mm(h, this.w(p + 'w1')), this.w(p + 'b1')));
    const f2 = tf.add(mm(this.dropout(f1, training, p + 'hidden'), this.w(p + 'w2')), this.w(p + 'b2'));
    return padOut(tf.add(x, this.dropout(f2, training, p + 'output')), ctx);
  }

  /** The encoder's output: the stream's final norm, at every position or the last column only. */
  private encodeOut(x: Tensor, ctx: EncodeContext, lastOnly: boolean): Tensor {
    const out = this.norm(x, 'out/ln', ctx.plain);
    if (!lastOnly) return out;
    const lastRows = new Int32Array(ctx.B);
    for (let b = 0; b < ctx.B; b++) lastRows[b] = b * ctx.L + ctx.L - 1;
    return takeRows(out, lastRows, ctx.plain);
  }

  /**
   * Makes, when missing, what a call needs before its own work, a part per call: for scoring, the
   * folded weights (after a change of weights; a block a part) and then the vectors of the
   * candidates `list`; for
   * training, the optimizer's state (at the first step), the memory the first step takes (WASM),
   * then the dropout pool, sized for `batch` (up to 4 MB of random bytes). True when it did work:
   * a caller on the page can let the page run before the rest (each part is a task of its own
   * there).
   */
  prepare(what: 'score' | 'train', list?: CodeList, batch?: SeqBatch): boolean {
    if (what === 'train') {
      if (!this.config.trainable) return false;
      if (!this.adam) {
        const r = (this.making ??= this.optimizerParts()).next();
        if (r.done) {
          this.adam = r.value;
          this.making = undefined;
        }
        return true;
      }
      if (this.warmHeap()) return true;
      if (!batch || this.config.dropout <= 0) return false;
      this.drop ??= new DropoutPool(this.rand, poolSize(batch.B * batch.L * this.config.dim));
      if (this.drop.full) return false;
      this.drop.fill(1 << 16);
      return true;
    }
    const data = this.weightData();
    const f = this.folded;
    if (!f || data.some((x, i) => x !== f.data[i])) {
      this.foldPart(data);
      return true;
    }
    const k = this.candidates;
    if (!list || !this.keeps(list) || (k && k.list === list && data.every((x, i) => x === k.data[i]))) return false;
    tf.tidy(() => void this.candidateVectors(list));
    return true;
  }

  /**
   * On the WASM backend, a part of touching the memory the first step will take, 256 KB at a time,
   * freed together once there is enough: four times the tables, for their new values and two
   * moments and the rest of the step. Memory the backend's heap has never used is slow to touch
   * the first time on some systems (on a 2-core virtual machine, about 13 ms a megabyte), and the
   * first step's writes of whole tables into it were long tasks on the page. False once done, and
   * on other backends.
   */
  private warmHeap(): boolean {
    const h = (this.heap ??= { made: [], done: tf.getBackend() !== 'wasm' });
    if (h.done) return false;
    const SLICE = 1 << 16;
    const need = 4 * TABLES.reduce((n, name) => n + (this.weights.get(name)?.size ?? 0), 0);
    h.made.push(tf.zeros([SLICE]));
    if (h.made.length * SLICE >= need) this.freeHeap();
    return true;
  }

  private freeHeap(): void {
    if (!this.heap) return;
    tf.dispose(this.heap.made);
    this.heap.made = [];
    this.heap.done = true;
  }

  /** The additive causal mask [L, L] (0 where column ≤ row, else -1e9), kept for the last L. */
  private causalMask(L: number): Tensor {
    if (this.causal?.L !== L) {
      this.causal?.t.dispose();
      const m = new Float32Array(L * L);
      for (let r = 0; r < L; r++) m.fill(-1e9, r * L + r + 1, r * L + L);
      this.causal = { L, t: tf.keep(tf.tensor2d(m, [L, L])) };
    }
    return this.causal.t;
  }

  /** The data of every weight, in order: it changes with every training step or new weights. */
  private weightData(): unknown[] {
    return [...this.weights.values()].map((w) => w.dataId);
  }

  /** The folded weights of the current weights, made again only after a weight changed. */
  private foldedWeights(): Folded {
    const data = this.weightData();
    const f = this.folded;
    if (f && data.every((x, i) => x === f.data[i])) return f.t;
    this.stopFolding();
    this.setFolded(data, runParts(this.foldParts()));
    return this.folded!.t;
  }

  /**
   * A part of folding the current weights (`prepare`): a block a part, then the rest. A folding
   * begun for weights that have changed since is dropped and begun again.
   */
  private foldPart(data: unknown[]): void {
    if (this.folding && !data.every((x, i) => x === this.folding!.data[i])) this.stopFolding();
    const run = (this.folding ??= { data, parts: this.foldParts() });
    const r = run.parts.next();
    if (!r.done) return;
    this.folding = undefined;
    this.setFolded(data, r.value);
  }

  private setFolded(data: unknown[], made: { t: Folded; own: Tensor[] }): void {
    if (this.folded) for (const t of this.folded.own) t.dispose();
    this.folded = { data, ...made };
  }

  private stopFolding(): void {
    this.folding?.parts.return(undefined as never);
    this.folding = undefined;
  }

  /**
   * The folded weights, in parts (a block a part, then the rest: on the page the first call runs
   * code the browser has yet to compile), each tensor kept (`tf.keep`) and listed in `own`; a
   * folding left unfinished disposes what it made.
   */
  private *foldParts(): Generator<void, { t: Folded; own: Tensor[] }, void> {
    const c = this.config;
    const d = c.dim;
    const own: Tensor[] = [];
    let done = false;
    const keepAll = <T extends Record<string, Tensor | undefined>>(o: T): T => {
      for (const x of Object.values(o)) if (x) own.push(tf.keep(x));
      return o;
    };
    const col = (v: Tensor): Tensor => tf.reshape(v, [-1, 1]);
    const row = (v: Tensor): Tensor => tf.reshape(v, [1, -1]);
    // A bias of a fused product must have data of rank 1: the WASM backend checks the shape its
    // data was made with, which a reshape keeps. Adding 0 makes new data of the vector's shape.
    const vec = (v: Tensor): Tensor => tf.add(tf.reshape(v, [-1]), 0);
    // m·(I − 1/d): every output row of the product then sums to zero.
    const centred = (m: Tensor): Tensor => tf.sub(m, tf.mean(m, 1, true));
    const scale = 1 / Math.sqrt(d);
    const as3 = (m: Tensor): Tensor => tf.reshape(m, [1, ...m.shape]);
    try {
      const blocks: Folded['blocks'] = [];
      for (let i = 0; i < c.blocks; i++) {
        if (i > 0) yield;
        const p = `block${i}/`;
        const block = tf.tidy(() => {
          const g = this.w(p + 'ln1/g');
          const b = row(this.w(p + 'ln1/b'));
          const qk = tf.mul(tf.matMul(this.w(p + 'wq'), this.w(p + 'wk'), false, true), scale);
          const qkg = tf.mul(qk, row(g));
          // Centred outputs (see `Folded`): the value-output product and the FFN's last layer.
          const vo = centred(tf.matMul(this.w(p + 'wv'), this.w(p + 'wo')));
          const g2 = this.w(p + 'ln2/g');
          const w1 = this.w(p + 'w1');
          return {
            aq: as3(tf.mul(col(g), qkg)),
            cq: vec(tf.matMul(b, qkg)),
            wv: as3(tf.mul(col(g), vo)),
            cv: vec(tf.matMul(b, vo)),
            w1: as3(tf.mul(col(g2), w1)),
            c1: vec(tf.add(tf.matMul(row(this.w(p + 'ln2/b')), w1), row(this.w(p + 'b1')))),
            w2: as3(centred(this.w(p + 'w2'))),
            b2: vec(centred(row(this.w(p + 'b2')))),
          };
        });
        blocks.push(keepAll(block));
      }
      if (c.blocks > 0) yield;
      const rest = tf.tidy(() => {
        const eye = tf.eye(d);
        return {
          center: as3(tf.sub(eye, 1 / d)),
          meanCol: tf.fill([1, d, 1], 1 / d),
          eps: tf.tensor1d([1e-6]),
          small: tf.concat([...(c.topicBuckets > 0 ? [this.w('item/topic')] : []), this.w('seq/pos'), this.w('seq/features')], 0),
          vectors: c.itemVectorDim > 0 ? as3(tf.mul(this.w('item/vector'), Math.sqrt(d))) : undefined,
          outG: as3(tf.mul(eye, row(this.w('out/ln/g')))),
          outB: vec(this.w('out/ln/b')),
        };
      });
      keepAll(rest);
      done = true;
      return { t: { ...rest, blocks }, own };
    } finally {
      if (!done) tf.dispose(own);
    }
  }

  /**
   * Σ of each item's table rows, weighted, times `scale`: [n, d] (no gradient). Id rows come from
   * the id table, topic rows and `extra` more rows per item (set by `more`) from the small table.
   */
  private itemSum(
    list: CodeList,
    scale: number,
    small: Tensor,
    extra = 0,
    more?: (i: number, idx: Int32Array, iAt: number, w: Float32Array, wAt: number) => void,
  ): Tensor {
    const { n, idK, topicK } = list;
    const d = this.config.dim;
    const tk = this.config.topicBuckets > 0 ? topicK : 0;
    const sk = tk + extra;
    const K = idK + sk;
    // Small-table indices and every row's weight, in one buffer (see `codeList`).
    const buf = new ArrayBuffer(4 * n * (sk + K));
    const idx = new Int32Array(buf, 0, n * sk);
    const w = new Float32Array(buf, 4 * n * sk, n * K);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < idK; j++) w[i * K + j] = list.idW[i * idK + j] * scale;
      for (let j = 0; j < tk; j++) {
        idx[i * sk + j] = list.topicIdx[i * topicK + j];
        w[i * K + idK + j] = list.topicW[i * topicK + j] * scale;
      }
      more?.(i, idx, i * sk + tk, w, i * K + idK + tk);
    }
    const gather = (table: Tensor, at: Int32Array, k: number): Tensor =>
      tf.reshape(tf.gatherND(table, tf.tensor2d(at, [n * k, 1], 'int32')), [n, k, d]);
    let rows = gather(this.w('item/id'), list.idIdx, idK);
    if (sk > 0) rows = tf.concat([rows, gather(small, idx, sk)], 1);
    return tf.sum(tf.mul(rows, tf.tensor3d(w, [n, K, 1])), 1);
  }

  /**
   * The scoring encoder of a one-head model: the last column of `encode` for each visitor [B, d],
   * computed from the folded weights with about half the kernels (see `Folded`). Padding rows are
   * not zeroed between blocks: they are masked as keys, and only the last column is read. Cut in
   * parts (the input, then each block) for a caller on the page; the result is kept (`tf.keep`),
   * the caller disposes it.
   */
  private *encodeLastParts(batch: SeqBatch, f: Folded): Generator<void, Tensor, void> {
    const c = this.config;
    const { B, L } = batch;
    const d = c.dim;
    const n = B * L;
    // Tensors kept from one part to the next; the result is kept for the caller.
    const held: Tensor[] = [];
    const hold = <T extends Tensor>(t: T): T => (held.push(tf.keep(t)), t);
    try {
      // Padded keys (shorter visitors in a batch, an empty history) are masked for every query.
      const padded = batch.valid.some((v) => v === 0);
      const keyMask = padded ? hold(tf.tensor3d(batch.valid.map((v) => (v > 0 ? 0 : -1e9)), [B, 1, L])) : undefined;
      const last = hold(tf.tensor2d(Int32Array.from({ length: B }, (_, b) => b * L + L - 1), [B, 1], 'int32'));
      const lastRows = (t: Tensor): Tensor => tf.reshape(tf.gatherND(tf.reshape(t, [n, d]), last), [1, B, d]);
      const norm = (t: Tensor): Tensor => tf.mul(t, tf.rsqrt(dense(tf.square(t), f.meanCol, f.eps)));
      // Rows live as [1, B·L, d]: every product with a weight is then one fused kernel, no reshape.
      // Inputs: item vectors·√d plus the row's position and attention features, which are rows of
      // the small table too (the position with weight 1, the features' weights with the feature
      // values), then the site's item vectors.
      let x = hold(
        tf.tidy(() => {
          const tb = c.topicBuckets > 0 ? c.topicBuckets : 0;
          const first = tb + c.maxLen - L;
          let x0 = tf.reshape(
            this.itemSum(batch.items, Math.sqrt(d), f.small, 1 + FEATURES, (i, idx, iAt, w, wAt) => {
              idx[iAt] = first + (i % L);
              w[wAt] = 1;
              for (let k = 0; k < FEATURES; k++) {
                idx[iAt + 1 + k] = tb + c.maxLen + k;
                w[wAt + 1 + k] = batch.features[i * FEATURES + k];
              }
            }),
            [1, n, d],
          );
          if (f.vectors && batch.items.vectors) x0 = tf.add(x0, dense(tf.tensor3d(batch.items.vectors, [1, n, c.itemVectorDim]), f.vectors));
          // The residual stream is kept centred (each row sums to zero): the inputs are centred
          // once, and everything added to them comes from centred weights. A layer norm then needs
          // no centring of its own, and every norm ignores a row's mean anyway, so nothing else
          // changes.
          return dense(x0, f.center);
        }),
      );
      for (let i = 0; i < c.blocks; i++) {
        // A part per block: on the page, the first call runs code the browser has not compiled yet.
        yield;
        const k = f.blocks[i];
        const xi = x;
        x = hold(
          tf.tidy(() => {
            const h = norm(xi);
            const h3 = tf.reshape(h, [B, L, d]);
            if (i < c.blocks - 1) {
              // Every column, causal. (A transposed operand is several times slower in the WASM
              // kernel than a transpose and a plain product.)
              const q = tf.reshape(dense(h, k.aq, k.cq), [B, L, d]);
              let s = tf.add(dense(q, tf.transpose(h3, [0, 2, 1])), this.causalMask(L));
              if (keyMask) s = tf.add(s, keyMask);
              const y = tf.add(xi, dense(tf.reshape(dense(tf.softmax(s), h3), [1, n, d]), k.wv, k.cv));
              return tf.add(y, dense(dense(norm(y), k.w1, k.c1, true), k.w2, k.b2));
            }
            // The last block reads from the last column only: its query against every key, its own FFN.
            const q = tf.reshape(dense(lastRows(h), k.aq, k.cq), [B, 1, d]);
            let s = dense(q, h3, undefined, false, true);
            if (keyMask) s = tf.add(s, keyMask);
            const y = tf.add(lastRows(xi), dense(tf.reshape(dense(tf.softmax(s), h3), [1, B, d]), k.wv, k.cv));
            return tf.add(y, dense(dense(norm(y), k.w1, k.c1, true), k.w2, k.b2));
          }),
        );
      }
      const xl = x;
      return tf.keep(
        tf.tidy(() => {
          const y = c.blocks === 0 ? lastRows(xl) : xl;
          // A visitor without history has only padding: the training encoder zeroes it, so its
          // vector is the output norm's bias.
          const lastValid = Float32Array.from({ length: B }, (_, b) => batch.valid[b * L + L - 1]);
          const z = lastValid.some((v) => v === 0) ? tf.mul(y, tf.tensor3d(lastValid, [1, B, 1])) : y;
          return tf.reshape(dense(norm(z), f.outG, f.outB), [B, d]);
        }),
      );
    } finally {
      tf.dispose(held);
    }
  }

  /** Mean loss of a training batch (a scalar tensor). */
  loss(batch: TrainBatch, training = true): Tensor {
    return this.lossAt(this.encode(batch, training), batch);
  }

  /** The item vectors and biases a training batch's loss reads: its targets, shared negatives and row negatives. */
  private lossVectors(batch: TrainBatch): LossVectors {
    return {
      pos: this.itemVectors(batch.targets),
      neg: batch.negatives.n > 0 ? this.itemVectors(batch.negatives) : undefined,
      rows: batch.K > 0 && batch.rowNegatives ? this.itemVectors(batch.rowNegatives) : undefined,
    };
  }

  /** Mean loss of a training batch, given the encoder's output `H` [B·L, d] (and the item vectors, when made before). */
  private lossAt(H: Tensor, batch: TrainBatch, v: LossVectors = this.lossVectors(batch)): Tensor {
    const { pos, neg } = this.logitsAt(H, batch, v);
    return this.lossOf(pos, neg);
  }

  /** The loss of positive logits [T] against negative logits [T, M]. */
  private lossOf(pos: Tensor, neg: Tensor): Tensor {
    return this.config.loss === 'softmax' ? softmaxLoss(pos, neg) : bceLoss(pos, neg);
  }

  /** Each target's logit [T] and its negatives' logits [T, M] (masked ones at -1e9). */
  private logitsAt(H: Tensor, batch: TrainBatch, v: LossVectors): { pos: Tensor; neg: Tensor } {
    const T = batch.targetPos.length;
    const N = batch.negatives.n;
    const d = this.config.dim;
    const hT = takeRows(H, batch.targetPos);
    const pos = v.pos;
    const posLogit = tf.add(tf.sum(tf.mul(hT, pos.e), 1), tf.reshape(pos.b, [T]));
    const parts: Tensor[] = [];
    if (N > 0 && v.neg) {
      const neg = v.neg;
      let logits = tf.add(mm(hT, neg.e, false, true), tf.reshape(neg.b, [1, N]));
      // A shared negative that is the row's own positive is masked out.
      const where = new Map<number, number[]>();
      for (let n = 0; n < N; n++) {
        const key = batch.negativeKeys[n];
        const list = where.get(key);
        if (list) list.push(n);
        else where.set(key, [n]);
      }
      const hits: number[] = [];
      for (let t = 0; t < T; t++) {
        const cols = where.get(batch.targetKeys[t]);
        if (cols) for (const col of cols) hits.push(t, col);
      }
      if (hits.length > 0) {
        const m = tf.scatterND(tf.tensor2d(hits, [hits.length / 2, 2], 'int32'), tf.fill([hits.length / 2], -1e9), [T, N]);
        logits = tf.add(logits, m);
      }
      parts.push(logits);
    }
    if (batch.K > 0 && v.rows && batch.rowNegativeMask) {
      const K = batch.K;
      const rn = v.rows;
      const dots = tf.sum(tf.mul(tf.reshape(hT, [T, 1, d]), tf.reshape(rn.e, [T, K, d])), 2);
      parts.push(tf.add(tf.add(dots, tf.reshape(rn.b, [T, K])), tf.tensor2d(batch.rowNegativeMask, [T, K])));
    }
    const negLogits = parts.length === 0 ? tf.fill([T, 1], -1e9) : parts.length === 1 ? parts[0] : tf.concat(parts, 1);
    return { pos: posLogit, neg: negLogits };
  }

  /** Table rows a batch touches (entries with weight 0 are padding and touch nothing). */
  private touched(batch: TrainBatch, name: string): Int32Array {
    const lists = [batch.items, batch.targets, batch.negatives, batch.rowNegatives].filter(Boolean) as CodeList[];
    const topic = name === 'item/topic';
    const buckets = this.weights.get(name)?.shape[0] as number;
    let mark = this.remaps.get(name);
    if (!mark) this.remaps.set(name, (mark = new Int32Array(buckets).fill(-1)));
    const rows: number[] = [];
    for (const l of lists) {
      const idx = topic ? l.topicIdx : l.idIdx;
      const w = topic ? l.topicW : l.idW;
      for (let i = 0; i < idx.length; i++) {
        if (w[i] !== 0 && mark[idx[i]] < 0) {
          mark[idx[i]] = rows.length;
          rows.push(idx[i]);
        }
      }
    }
    return Int32Array.from(rows);
  }

  /**
   * One Adam step; returns the batch loss. Lookup tables get lazy (row-sparse) Adam: only rows the
   * batch touches are read and written, so a step costs the same however large the tables are.
   */
  step(batch: TrainBatch, learningRate = this.config.learningRate): number {
    return runParts(this.stepParts(batch, learningRate, false));
  }

  /**
   * The step of `step`, as parts to run one at a time (a generator that yields between them).
   * With `cut`, the step is cut where the page needs it: on the main thread a whole step is a
   * long task (hundreds of kernels, each some µs of JavaScript), so the forward pass runs piece by
   * piece (input, then each block) keeping the residual stream between pieces, and the backward
   * pass runs the pieces again in reverse, each taking its gradient from the one after it
   * (`engine.gradients` with `dy`). Dropout masks are drawn once and used again, so the result is
   * the step's own, at the cost of a second forward pass. Without `cut`, one part takes every
   * gradient at once. Either way the update follows in parts: the dense weights, then each table.
   */
  *stepParts(batch: TrainBatch, learningRate: number, cut: boolean): Generator<void, number, void> {
    if (!this.config.trainable) throw new Error('attnflow: this model was loaded with trainable: false');
    // The optimizer's state (two zero tensors per weight) waits for the first step: a model that
    // only scores never allocates it, and the first score comes sooner.
    if (batch.targetPos.length === 0) return NaN;
    while (!this.adam) this.prepare('train');
    const adam = this.adam;
    adam.t += 1;
    const sparse = new Map<string, { rows: Variable; remap: Int32Array; idx: Int32Array }>();
    for (const name of TABLES) {
      const table = this.weights.get(name);
      if (!table) continue;
      const idx = this.touched(batch, name);
      if (idx.length === 0) continue;
      const rows = tf.tidy(() => tf.gatherND(table, tf.tensor2d(idx, [idx.length, 1], 'int32')));
      sparse.set(name, { rows: tf.variable(rows, true, `attnflow/rows/${name}/${uid()}`), remap: this.remaps.get(name) as Int32Array, idx });
      rows.dispose();
    }
    const vars: Variable[] = [...[...this.weights].filter(([name]) => !TABLES.includes(name)).map(([, w]) => w), ...[...sparse.values()].map((s) => s.rows)];
    // Gradients by variable name, summed over the parts that give one.
    const grads = new Map<string, Tensor>();
    const add = (xs: Tensor[], gs: (Tensor | undefined)[]) =>
      xs.forEach((x, i) => {
        const g = gs[i];
        if (!g) return;
        const name = (x as Variable).name;
        const before = grads.get(name);
        grads.set(name, tf.keep(before ? tf.add(before, g) : g));
        before?.dispose();
      });
    // Tensors kept between parts: the residual stream, masks, the incoming gradient, the loss.
    const held: Tensor[] = [];
    const hold = <T extends Tensor>(t: T): T => (held.push(tf.keep(t)), t);
    let loss: Tensor | undefined;
    // Each part sees the step's table rows and masks; a score between parts sees neither.
    const part = (fn: () => void) => {
      this.sparse = sparse;
      this.masks = masks;
      try {
        tf.tidy(fn);
      } finally {
        this.sparse = undefined;
        this.masks = undefined;
      }
    };
    const masks = cut ? new Map<string, Tensor>() : undefined;
    let ctx: EncodeContext | undefined;
    try {
      if (!cut) {
        part(() => {
          const { value, grads: g } = tf.variableGrads(() => this.loss(batch, true) as tf.Scalar, vars);
          add(vars, vars.map((v) => g[v.name]));
          loss = hold(value);
        });
        yield;
      } else {
        ctx = this.encodeContext(batch, true, false);
        const c = ctx;
        // The encoder's pieces after its input: each block's attention and feed-forward halves.
        const pieces: ((x: Tensor) => Tensor)[] = [];
        for (let i = 0; i < this.config.blocks; i++) {
          pieces.push((x) => this.encodeAttention(i, x, c), (x) => this.encodeFeedForward(i, x, c));
        }
        // Forward: the residual stream after the input and after each piece, then the output.
        const xs: Tensor[] = [];
        part(() => void xs.push(hold(this.encodeInput(batch, c))));
        for (const piece of pieces) {
          yield;
          part(() => void xs.push(hold(piece(xs[xs.length - 1]!))));
        }
        const last = xs[pieces.length]!;
        yield;
        let H: Tensor | undefined;
        part(() => void (H = hold(this.encodeOut(last, c, false))));
        // The item vectors the loss reads, then the logits.
        yield;
        let V: LossVectors | undefined;
        part(() => {
          V = this.lossVectors(batch);
          for (const x of Object.values(V)) if (x) (hold(x.e), hold(x.b));
        });
        const flat = (v: LossVectors) => Object.values(v).flatMap((x: LossVectors['pos'] | undefined) => (x ? [x.e, x.b] : []));
        const vs = flat(V!);
        yield;
        let logits: Tensor[] = [];
        part(() => {
          const l = this.logitsAt(H!, batch, V!);
          logits = [hold(l.pos), hold(l.neg)];
        });
        // Backward: each piece again, with the gradient of its output from the piece after it.
        // `grad` adds what a part gives the weights, and keeps the gradients of `xs` for the next.
        const lossOf = () => this.lossOf(logits[0]!, logits[1]!);
        const grad = (f: () => Tensor, xs: Tensor[], dy?: Tensor): Tensor[] => {
          const r = tf.engine().gradients(f, [...xs, ...vars], dy, true);
          add(vars, r.grads.slice(xs.length));
          if (f === lossOf) loss = hold(r.value);
          return xs.map((x, i) => hold(r.grads[i] ?? tf.zerosLike(x)));
        };
        const drop = (ts: Tensor[]) => ts.forEach((t) => held.splice(held.indexOf(t), 1)[0]!.dispose());
        // Σ y·dy: its gradient is the pieces' gradient given dy, for pieces with several outputs.
        const dot = (ys: Tensor[], dys: Tensor[]): Tensor => ys.map((y, i) => tf.sum(tf.mul(y, dys[i]!))).reduce((a, b) => tf.add(a, b));
        yield;
        let dlogits: Tensor[] = [];
        part(() => void (dlogits = grad(lossOf, logits)));
        yield;
        let dx: Tensor[] = [];
        let dvs: Tensor[] = [];
        part(() => {
          const g = grad(() => {
            const l = this.logitsAt(H!, batch, V!);
            return dot([l.pos, l.neg], dlogits);
          }, [H!, ...vs]);
          [dx, dvs] = [g.slice(0, 1), g.slice(1)];
        });
        drop(dlogits);
        yield;
        // The item vectors' gradients into their table rows: the vectors again.
        part(() => void grad(() => dot(flat(this.lossVectors(batch)), dvs), []));
        drop(dvs);
        const back = (f: () => Tensor, x: Tensor) => {
          const dy = dx[0];
          part(() => void (dx = grad(f, [x], dy)));
          if (dy) drop([dy]);
        };
        yield;
        back(() => this.encodeOut(last, c, false), last);
        for (let j = pieces.length - 1; j >= 0; j--) {
          yield;
          back(() => pieces[j]!(xs[j]!), xs[j]!);
        }
        yield;
        const dy = dx[0]!;
        part(() => void grad(() => this.encodeInput(batch, c), [], dy));
        drop([dy]);
        yield;
      }
      // The new values are made in parts (each table in one of its own: its update writes the whole
      // table, megabytes for ids), then take their places at once: between parts the network is
      // the one before the step, never half of each.
      const writes: [Variable, Tensor][] = [];
      const write = (to: Variable, value: Tensor) => void writes.push([to, hold(value)]);
      yield* this.updateDense(grads, learningRate, part, write);
      for (const [name, s] of sparse) {
        yield;
        yield* this.updateTable(name, s, grads.get(s.rows.name), learningRate, part, write);
      }
      for (const [to, value] of writes) to.assign(value);
      return (loss as Tensor).dataSync()[0];
    } finally {
      for (const s of sparse.values()) {
        s.rows.dispose();
        for (let i = 0; i < s.idx.length; i++) s.remap[s.idx[i]] = -1;
      }
      tf.dispose([...grads.values(), ...held, ...(masks?.values() ?? [])]);
      if (ctx) tf.dispose([ctx.mask, ...(ctx.valid ? [ctx.valid] : [])]);
    }
  }

  /** Adam's bias-corrected step size at the current step. */
  private adamRate(learningRate: number): number {
    const t = this.adam!.t;
    return (learningRate * Math.sqrt(1 - ADAM_B2 ** t)) / (1 - ADAM_B1 ** t);
  }

  /**
   * Adam (AdamW with `weightDecay`) on every weight but the tables, as one flat vector: the new
   * flat values and state, then (a part of its own) each weight's values gathered back, for `write`.
   */
  private *updateDense(
    grads: Map<string, Tensor>,
    learningRate: number,
    part: (fn: () => void) => void,
    write: (to: Variable, value: Tensor) => void,
  ): Generator<void, void, void> {
    const adam = this.adam!;
    const c = this.config;
    const dense = [...this.weights].filter(([name]) => !TABLES.includes(name)).map(([, w]) => w);
    let next: Tensor | undefined;
    part(() => {
      // A weight without a gradient keeps its values and state.
      const flat = (ts: Tensor[]): Tensor => tf.concat(ts.map((t) => tf.reshape(t, [-1])), 0);
      const missing = dense.filter((x) => !grads.has(x.name));
      const wf = flat(dense);
      const gf = flat(dense.map((x) => grads.get(x.name) ?? tf.zerosLike(x)));
      let [wf2, mf2, vf2] = adamMove(wf, gf, adam.dm, adam.dv, this.adamRate(learningRate), c.epsilon);
      if (c.weightDecay > 0) wf2 = tf.sub(wf2, tf.mul(tf.mul(wf, adam.decay), learningRate * c.weightDecay));
      if (missing.length > 0) {
        const has = tf.concat(dense.map((x) => tf.fill([x.size], grads.has(x.name) ? 1 : 0)), 0);
        const keep = (after: Tensor, old: Tensor): Tensor => tf.add(old, tf.mul(tf.sub(after, old), has));
        [wf2, mf2, vf2] = [keep(wf2, wf), keep(mf2, adam.dm), keep(vf2, adam.dv)];
      }
      write(adam.dm, mf2);
      write(adam.dv, vf2);
      next = tf.keep(wf2);
    });
    try {
      yield;
      part(() => dense.forEach((x, i) => write(x, tf.reshape(tf.gather(next!, adam.parts[i]!), x.shape))));
    } finally {
      next?.dispose();
    }
  }

  /**
   * Lazy Adam on the rows of table `name` the step touched (`s`), given their gradient `g`: the new
   * rows of the table and of its moments, each written into a new whole table by its own part
   * (a table of ids is megabytes), for `write`.
   */
  private *updateTable(
    name: string,
    s: { rows: Variable; idx: Int32Array },
    g: Tensor | undefined,
    learningRate: number,
    part: (fn: () => void) => void,
    write: (to: Variable, value: Tensor) => void,
  ): Generator<void, void, void> {
    if (!g) return;
    const adam = this.adam!;
    const at = tf.tensor2d(s.idx, [s.idx.length, 1], 'int32');
    const tables = [this.w(name), adam.m.get(name) as Variable, adam.v.get(name) as Variable];
    try {
      let rows: Tensor[] = [];
      part(() => {
        const rate = this.adamRate(learningRate) * this.config.tableLearningRate;
        rows = adamMove(s.rows, g, tf.gatherND(tables[1]!, at), tf.gatherND(tables[2]!, at), rate, this.config.epsilon).map((t) => tf.keep(t));
      });
      try {
        for (let i = 0; i < 3; i++) {
          yield;
          part(() => write(tables[i]!, tf.tensorScatterUpdate(tables[i]!, at, rows[i]!)));
        }
      } finally {
        tf.dispose(rows);
      }
    } finally {
      at.dispose();
    }
  }

  /**
   * Scores C candidates per visitor: `cands` holds B·C items, row b's candidates at b·C..b·C+C-1.
   * The visitor vector is the encoder output at the last column.
   */
  scoreTensor(batch: SeqBatch, cands: CodeList, C: number): Tensor {
    return runParts(this.scoreParts(batch, cands, C));
  }

  /** `scoreTensor` in parts (the visitor's encoder cut by `encodeLastParts`), for the page. */
  *scoreParts(batch: SeqBatch, cands: CodeList, C: number): Generator<void, Tensor, void> {
    const u = yield* this.visitorVectors(batch);
    return tf.tidy(() => {
      const { B } = batch;
      const d = this.config.dim;
      const it = this.candidateVectors(cands);
      return tf.add(tf.reshape(dense(tf.reshape(it.e, [B, C, d]), tf.reshape(u, [B, d, 1])), [B, C]), tf.reshape(it.b, [B, C]));
    });
  }

  /**
   * Item vectors and biases of the candidates, kept from the last call for the same list and
   * weights: a page scoring its items again for a visitor who read on needs only the visitor.
   * Lists of more than 64K values (site-wide evaluation batches) are not kept.
   */
  private candidateVectors(list: CodeList): { e: Tensor; b: Tensor } {
    const data = this.weightData();
    const k = this.candidates;
    if (k && k.list === list && data.every((x, i) => x === k.data[i])) return k;
    if (k) tf.dispose([k.e, k.b]);
    this.candidates = undefined;
    let e = this.itemSum(list, 1, this.foldedWeights().small);
    const V = this.config.itemVectorDim;
    if (V > 0 && list.vectors) e = tf.add(e, tf.matMul(tf.tensor2d(list.vectors, [list.n, V]), this.w('item/vector')));
    const b = this.lookupIn('item/bias', list.idIdx, list.idW, list.n, list.idK, true);
    if (this.keeps(list)) this.candidates = { list, data, e: tf.keep(e), b: tf.keep(b) };
    return { e, b };
  }

  /** Whether the vectors of candidates `list` are kept for the next call (not for huge lists). */
  private keeps(list: CodeList): boolean {
    return list.n * this.config.dim <= 65536;
  }

  /**
   * The visitor vectors [B, d] of `batch` (the encoder's last column), kept from the last call
   * while the batch and every weight are the same: a visitor scored again (another container,
   * more items of a feed) costs only the candidates. Every change of a weight (a training step,
   * new weights) gives it new data, so nothing stale is ever used.
   */
  private *visitorVectors(batch: SeqBatch): Generator<void, Tensor, void> {
    const data = this.weightData();
    const v = this.visitor;
    if (v && !v.u.isDisposed && sameBatch(v.batch, batch) && data.every((d, i) => d === v.data[i])) return v.u;
    v?.u.dispose();
    this.visitor = undefined;
    const u = yield* this.encodeVisitor(batch);
    this.visitor = { batch, data, u };
    return u;
  }

  /** The visitor vectors [B, d] of `batch`, kept (`tf.keep`): `encode`'s last column, folded for one head. */
  private *encodeVisitor(batch: SeqBatch): Generator<void, Tensor, void> {
    if (this.config.heads === 1) return yield* this.encodeLastParts(batch, this.foldedWeights());
    return tf.keep(tf.tidy(() => this.encode(batch, false, true)));
  }

  score(batch: SeqBatch, cands: CodeList, C: number): Float32Array {
    const t = this.scoreTensor(batch, cands, C);
    const out = t.dataSync() as Float32Array;
    t.dispose();
    return out;
  }

  /** Sets item biases so that item k's summed bias buckets equal `prior[k]` (shared buckets average). */
  setBiasPrior(prior: Float32Array, codes: readonly ItemCode[]): void {
    const table = this.w('item/bias');
    const sum = new Float32Array(table.shape[0] as number);
    const cnt = new Float32Array(sum.length);
    for (let k = 0; k < codes.length; k++) {
      const ids = codes[k].ids;
      for (let j = 0; j < ids.length; j++) {
        sum[ids[j]] += prior[k] / ids.length;
        cnt[ids[j]] += 1;
      }
    }
    for (let i = 0; i < sum.length; i++) if (cnt[i] > 1) sum[i] /= cnt[i];
    tf.tidy(() => table.assign(tf.tensor2d(sum, [sum.length, 1])));
  }

  /** Sets item id rows so that item k's summed buckets equal `vectors[k]` (shared buckets average). */
  setItemVectors(vectors: Float32Array, codes: readonly ItemCode[]): void {
    const table = this.w('item/id');
    const d = this.config.dim;
    const rows = table.shape[0] as number;
    const sum = Float32Array.from(table.dataSync() as Float32Array);
    const cnt = new Float32Array(rows);
    for (let k = 0; k < codes.length; k++) for (const r of codes[k].ids) if (cnt[r]++ === 0) sum.fill(0, r * d, r * d + d);
    for (let k = 0; k < codes.length; k++) {
      const ids = codes[k].ids;
      for (const r of ids) for (let j = 0; j < d; j++) sum[r * d + j] += vectors[k * d + j] / ids.length / cnt[r];
    }
    tf.tidy(() => table.assign(tf.tensor2d(sum, [rows, d])));
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
    this.freeHeap();
    this.making?.return(undefined as never);
    this.making = undefined;
    this.visitor?.u.dispose();
    this.visitor = undefined;
    this.stopFolding();
    if (this.folded) for (const t of this.folded.own) t.dispose();
    this.folded = undefined;
    if (this.candidates) tf.dispose([this.candidates.e, this.candidates.b]);
    this.candidates = undefined;
    this.causal?.t.dispose();
    this.causal = undefined;
    for (const w of this.weights.values()) w.dispose();
    this.weights.clear();
    if (this.adam) {
      for (const t of [...this.adam.m.values(), ...this.adam.v.values(), this.adam.dm, this.adam.dv, this.adam.decay, ...this.adam.parts]) t.dispose();
      this.adam = undefined;
    }
  }
}

const ADAM_B1 = 0.9;
const ADAM_B2 = 0.98;

/** One Adam move of weights `w` with gradient `g` and moments `m`, `v`: the new [w, m, v]. */
function adamMove(w: Tensor, g: Tensor, m: Tensor, v: Tensor, rate: number, epsilon: number): [Tensor, Tensor, Tensor] {
  const m2 = tf.add(tf.mul(m, ADAM_B1), tf.mul(g, 1 - ADAM_B1));
  const v2 = tf.add(tf.mul(v, ADAM_B2), tf.mul(tf.square(g), 1 - ADAM_B2));
  return [tf.sub(w, tf.mul(tf.div(m2, tf.add(tf.sqrt(v2), epsilon)), rate)), m2, v2];
}

/**
 * a·b (+ a bias, then ReLU) of 3-D operands: the fused kernel itself. `tf.fused.matMul` adds
 * gradient bookkeeping and reshapes that cost as much as a product of this size; scoring needs none.
 */
function dense(a: Tensor, b: Tensor, bias?: Tensor, relu = false, transposeB = false): Tensor {
  const attrs = { transposeA: false, transposeB, activation: relu ? 'relu' : 'linear', leakyreluAlpha: 0 };
  return tf.engine().runKernel(tf._FusedMatMul, bias ? { a, b, bias } : { a, b }, attrs) as Tensor;
}

let counter = 0;
function uid(): number {
  return ++counter;
}

const sameArray = (a: ArrayLike<number> | undefined, b: ArrayLike<number> | undefined): boolean => {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/** Whether two sequence batches hold the same visitors. */
function sameBatch(a: SeqBatch, b: SeqBatch): boolean {
  const x = a.items;
  const y = b.items;
  return (
    a.B === b.B && a.L === b.L && x.n === y.n && x.idK === y.idK && x.topicK === y.topicK &&
    sameArray(x.idIdx, y.idIdx) && sameArray(x.idW, y.idW) && sameArray(x.topicIdx, y.topicIdx) && sameArray(x.topicW, y.topicW) &&
    sameArray(x.vectors, y.vectors) && sameArray(a.features, b.features) && sameArray(a.valid, b.valid)
  );
}
