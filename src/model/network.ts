/**
 * The network: hashed item encoder, SASRec-style causal self-attention visitor encoder, dot-product
 * scorer with item bias, and its training step (sampled negatives, Adam with explicit epsilon).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { FEATURES, type CodeList, type ItemCode, type SeqBatch, type TrainBatch } from './encode';
import { fillNormal, mulberry32 } from './hash';
import { bceLoss, layerNorm, lookup, mm, registerGradients, softmaxLoss, takeRows } from './ops';

const TABLES = ['item/id', 'item/bias', 'item/topic'];
import type { ModelConfig } from './types';

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

function initValues(name: string, shape: number[], rand: () => number): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(size);
  if (name.endsWith('/g')) return v.fill(1);
  if (name.endsWith('/b') || name === 'item/bias' || /\/b[12]$/.test(name)) return v;
  // Small item vectors at first, so that a popularity prior in the biases is not drowned in noise.
  if (name === 'item/id' || name === 'item/topic') return fillNormal(v, rand, 0.02);
  if (name === 'seq/pos') return fillNormal(v, rand, 0.02);
  // Residual branches start at zero: at first the visitor vector is its last item's vector.
  // Attention features start silent too, so they cannot drown the item vectors; they grow if useful.
  if (/\/(wo|w2)$/.test(name) || name === 'seq/features') return v;
  // Glorot uniform for dense kernels.
  const limit = Math.sqrt(6 / (shape[0] + shape[shape.length - 1]));
  for (let i = 0; i < size; i++) v[i] = (rand() * 2 - 1) * limit;
  return v;
}

/** Dropout masks come from a pool of random bytes read at random offsets: cheap and seeded. */
class DropoutPool {
  private bytes: Uint8Array;
  constructor(private rand: () => number, size: number) {
    this.bytes = new Uint8Array(size);
    for (let i = 0; i < size; i += 4) {
      const r = (rand() * 4294967296) >>> 0;
      this.bytes[i] = r & 255;
      this.bytes[i + 1] = (r >>> 8) & 255;
      this.bytes[i + 2] = (r >>> 16) & 255;
      this.bytes[i + 3] = r >>> 24;
    }
  }
  mask(n: number, rate: number): Float32Array {
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

export class Network {
  readonly weights = new Map<string, Variable>();
  private adam?: { m: Map<string, Variable>; v: Map<string, Variable>; t: number };
  /** During a training step: the rows of each lookup table the batch touches, as their own variables. */
  private sparse?: Map<string, { rows: Variable; remap: Int32Array }>;
  private remaps = new Map<string, Int32Array>();
  private rand: () => number;
  private drop: DropoutPool | undefined;
  /** The last visitor vectors, the batch they came from and the data of every weight then. */
  private visitor?: { batch: SeqBatch; data: unknown[]; u: Tensor };

  constructor(readonly config: ModelConfig, values?: Map<string, Float32Array>) {
    registerGradients();
    this.rand = mulberry32(config.seed);
    const initRand = mulberry32(config.seed ^ 0x5eed);
    for (const [name, shape] of weightShapes(config)) {
      const given = values?.get(name);
      const data = given ?? initValues(name, shape, initRand);
      // The initial tensor goes at once: a variable shares its data, which would outlive dispose().
      this.weights.set(name, tf.tidy(() => tf.variable(tf.tensor(data, shape, 'float32'), true, `attnflow/${name}/${uid()}`)));
    }
  }

  get numParams(): number {
    let n = 0;
    for (const w of this.weights.values()) n += w.size;
    return n;
  }

  private newOptimizer(): NonNullable<Network['adam']> {
    const m = new Map<string, Variable>();
    const v = new Map<string, Variable>();
    for (const [name, w] of this.weights) {
      m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(w), false)));
      v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(w), false)));
    }
    return { m, v, t: 0 };
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

  private dropout(x: Tensor, training: boolean): Tensor {
    const rate = this.config.dropout;
    if (!training || rate <= 0) return x;
    // Sized by the first mask: 64× a mask, at most 4 MB. A visitor's own training step (a few
    // thousand values a mask) then fills a pool of some 100 KB, not a long task of 4 MB, and
    // batches of thousands of positions get the full pool.
    this.drop ??= new DropoutPool(this.rand, Math.min(1 << 22, 2 ** Math.ceil(Math.log2(Math.max(1024, x.size * 64)))));
    return tf.mul(x, tf.tensor(this.drop.mask(x.size, rate), x.shape));
  }

  /**
   * Visitor encoder: outputs [B·L, d], row b·L + l summarising the sequence up to column l; with
   * `lastOnly` (scoring, no gradient) [B, d], the last column only: the last block then attends
   * from that column alone, and batches without padding skip their masking.
   */
  encode(batch: SeqBatch, training: boolean, lastOnly = false): Tensor {
    const c = this.config;
    const { B, L } = batch;
    // Scoring needs no gradient: plain ops, without the custom-gradient bookkeeping.
    const plain = lastOnly && !training;
    const norm = (t: Tensor, g: string, b: string): Tensor => layerNorm(t, this.w(g), this.w(b), 1e-6, plain);
    const rows = (t: Tensor, idx: Int32Array): Tensor => takeRows(t, idx, plain);
    const d = c.dim;
    const heads = c.heads;
    const dh = d / heads;
    const valid = tf.tensor2d(batch.valid, [B * L, 1]);
    // Padding positions are zeroed after each step; a batch without padding skips that.
    const padded = batch.valid.some((v) => v === 0);
    const keep = (t: Tensor): Tensor => (padded ? tf.mul(t, valid) : t);
    // Causal mask plus key padding, additive: 0 where column j may be attended from row i.
    const maskData = new Float32Array(B * L * L);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < L; i++) {
        const row = (b * L + i) * L;
        for (let j = 0; j < L; j++) maskData[row + j] = j <= i && batch.valid[b * L + j] > 0 ? 0 : -1e9;
      }
    }
    let mask = tf.tensor3d(maskData, [B, L, L]);
    if (heads > 1) mask = tf.reshape(tf.tile(tf.reshape(mask, [B, 1, L, L]), [1, heads, 1, 1]), [B * heads, L, L]);

    const posIdx = new Int32Array(L);
    for (let l = 0; l < L; l++) posIdx[l] = c.maxLen - L + l;
    const pos = rows(this.w('seq/pos'), posIdx);
    // Item vectors enter the residual stream scaled by √d (as in SASRec): the blocks' outputs come
    // from layer-normed inputs, and unscaled item vectors would be drowned by them early in training.
    let x = tf.mul(this.itemEmbeddings(batch.items, plain), Math.sqrt(d));
    x = tf.reshape(tf.add(tf.reshape(x, [B, L, d]), pos), [B * L, d]);
    x = tf.add(x, mm(tf.tensor2d(batch.features, [B * L, FEATURES]), this.w('seq/features')));
    x = keep(this.dropout(x, training));

    const scale = 1 / Math.sqrt(dh);
    const split = (t: Tensor): Tensor =>
      heads === 1
        ? tf.reshape(t, [B, L, d])
        : tf.reshape(tf.transpose(tf.reshape(t, [B, L, heads, dh]), [0, 2, 1, 3]), [B * heads, L, dh]);
    const merge = (t: Tensor): Tensor =>
      heads === 1
        ? tf.reshape(t, [B * L, d])
        : tf.reshape(tf.transpose(tf.reshape(t, [B, heads, L, dh]), [0, 2, 1, 3]), [B * L, d]);

    const lastRows = new Int32Array(B);
    for (let b = 0; b < B; b++) lastRows[b] = b * L + L - 1;
    for (let i = 0; i < c.blocks; i++) {
      const p = `block${i}/`;
      if (plain && heads === 1 && i === c.blocks - 1) {
        // Scoring reads the last column only: its query against every key, then its own FFN.
        const h = norm(x, p + 'ln1/g', p + 'ln1/b');
        const q = tf.reshape(mm(rows(h, lastRows), this.w(p + 'wq')), [B, 1, d]);
        const k = tf.reshape(mm(h, this.w(p + 'wk')), [B, L, d]);
        const v = tf.reshape(mm(h, this.w(p + 'wv')), [B, L, d]);
        let s = tf.mul(mm(q, k, false, true), scale);
        if (padded) s = tf.add(s, tf.reshape(rows(tf.reshape(mask, [B * L, L]), lastRows), [B, 1, L]));
        const o = mm(tf.reshape(tf.matMul(tf.softmax(s), v), [B, d]), this.w(p + 'wo'));
        let xl = tf.add(rows(x, lastRows), o);
        const h2 = norm(xl, p + 'ln2/g', p + 'ln2/b');
        const f1 = tf.relu(tf.add(mm(h2, this.w(p + 'w1')), this.w(p + 'b1')));
        xl = tf.add(xl, tf.add(mm(f1, this.w(p + 'w2')), this.w(p + 'b2')));
        return norm(xl, 'out/ln/g', 'out/ln/b');
      }
      let h = norm(x, p + 'ln1/g', p + 'ln1/b');
      const q = split(mm(h, this.w(p + 'wq')));
      const k = split(mm(h, this.w(p + 'wk')));
      const v = split(mm(h, this.w(p + 'wv')));
      const s = tf.add(tf.mul(tf.matMul(q, tf.transpose(k, [0, 2, 1])), scale), mask);
      const o = mm(merge(tf.matMul(tf.softmax(s), v)), this.w(p + 'wo'));
      x = tf.add(x, this.dropout(o, training));
      h = norm(x, p + 'ln2/g', p + 'ln2/b');
      const f1 = tf.relu(tf.add(mm(h, this.w(p + 'w1')), this.w(p + 'b1')));
      const f2 = tf.add(mm(this.dropout(f1, training), this.w(p + 'w2')), this.w(p + 'b2'));
      x = keep(tf.add(x, this.dropout(f2, training)));
    }
    const out = norm(x, 'out/ln/g', 'out/ln/b');
    return lastOnly ? rows(out, lastRows) : out;
  }

  /** Mean loss of a training batch (a scalar tensor). */
  loss(batch: TrainBatch, training = true): Tensor {
    const T = batch.targetPos.length;
    const N = batch.negatives.n;
    const d = this.config.dim;
    const H = this.encode(batch, training);
    const hT = takeRows(H, batch.targetPos);
    const pos = this.itemVectors(batch.targets);
    const posLogit = tf.add(tf.sum(tf.mul(hT, pos.e), 1), tf.reshape(pos.b, [T]));
    const parts: Tensor[] = [];
    if (N > 0) {
      const neg = this.itemVectors(batch.negatives);
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
    if (batch.K > 0 && batch.rowNegatives && batch.rowNegativeMask) {
      const K = batch.K;
      const rn = this.itemVectors(batch.rowNegatives);
      const dots = tf.sum(tf.mul(tf.reshape(hT, [T, 1, d]), tf.reshape(rn.e, [T, K, d])), 2);
      parts.push(tf.add(tf.add(dots, tf.reshape(rn.b, [T, K])), tf.tensor2d(batch.rowNegativeMask, [T, K])));
    }
    const negLogits = parts.length === 0 ? tf.fill([T, 1], -1e9) : parts.length === 1 ? parts[0] : tf.concat(parts, 1);
    return this.config.loss === 'softmax' ? softmaxLoss(posLogit, negLogits) : bceLoss(posLogit, negLogits);
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
    if (!this.config.trainable) throw new Error('attnflow: this model was loaded with trainable: false');
    // The optimizer's state (two zero tensors per weight) waits for the first step: a model that
    // only scores never allocates it, and the first score comes sooner.
    if (batch.targetPos.length === 0) return NaN;
    const adam = (this.adam ??= this.newOptimizer());
    const c = this.config;
    adam.t += 1;
    const b1 = 0.9;
    const b2 = 0.98;
    const lrT = (learningRate * Math.sqrt(1 - b2 ** adam.t)) / (1 - b1 ** adam.t);
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
    this.sparse = sparse;
    const dense = [...this.weights].filter(([name]) => !TABLES.includes(name));
    const vars = [...dense.map(([, w]) => w), ...[...sparse.values()].map((s) => s.rows)];
    const adamUpdate = (w: Tensor, g: Tensor, m: Tensor, v: Tensor, decay: boolean, rate = lrT): [Tensor, Tensor, Tensor] => {
      const m2 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
      const v2 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
      let w2 = tf.sub(w, tf.mul(tf.div(m2, tf.add(tf.sqrt(v2), c.epsilon)), rate));
      // Decoupled weight decay (AdamW) on matrices only, not on norms and biases.
      if (decay && c.weightDecay > 0) w2 = tf.sub(w2, tf.mul(w, learningRate * c.weightDecay));
      return [w2, m2, v2];
    };
    let lossValue: Tensor;
    try {
      lossValue = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => this.loss(batch, true) as tf.Scalar, vars);
        for (const [name, w] of dense) {
          const g = grads[w.name];
          if (!g) continue;
          const m = adam.m.get(name) as Variable;
          const v = adam.v.get(name) as Variable;
          const [w2, m2, v2] = adamUpdate(w, g, m, v, w.rank > 1);
          w.assign(w2);
          m.assign(m2);
          v.assign(v2);
        }
        for (const [name, s] of sparse) {
          const g = grads[s.rows.name];
          if (!g) continue;
          const at = tf.tensor2d(s.idx, [s.idx.length, 1], 'int32');
          const w = this.w(name);
          const m = adam.m.get(name) as Variable;
          const v = adam.v.get(name) as Variable;
          const [w2, m2, v2] = adamUpdate(s.rows, g, tf.gatherND(m, at), tf.gatherND(v, at), false, lrT * c.tableLearningRate);
          w.assign(tf.tensorScatterUpdate(w, at, w2));
          m.assign(tf.tensorScatterUpdate(m, at, m2));
          v.assign(tf.tensorScatterUpdate(v, at, v2));
        }
        return value;
      });
    } finally {
      this.sparse = undefined;
      for (const s of sparse.values()) {
        s.rows.dispose();
        for (let i = 0; i < s.idx.length; i++) s.remap[s.idx[i]] = -1;
      }
    }
    const out = lossValue.dataSync()[0];
    lossValue.dispose();
    return out;
  }

  /**
   * Scores C candidates per visitor: `cands` holds B·C items, row b's candidates at b·C..b·C+C-1.
   * The visitor vector is the encoder output at the last column.
   */
  scoreTensor(batch: SeqBatch, cands: CodeList, C: number): Tensor {
    return tf.tidy(() => {
      const { B } = batch;
      const d = this.config.dim;
      const u = this.visitorVectors(batch);
      const it = this.itemVectors(cands, true);
      const dots = tf.sum(tf.mul(tf.reshape(u, [B, 1, d]), tf.reshape(it.e, [B, C, d])), 2);
      return tf.add(dots, tf.reshape(it.b, [B, C]));
    });
  }

  /**
   * The visitor vectors [B, d] of `batch` (the encoder's last column), kept from the last call
   * while the batch and every weight are the same: a visitor scored again (another container,
   * more items of a feed) costs only the candidates. Every change of a weight (a training step,
   * new weights) gives it new data, so nothing stale is ever used.
   */
  private visitorVectors(batch: SeqBatch): Tensor {
    const data = [...this.weights.values()].map((w) => w.dataId);
    const v = this.visitor;
    if (v && !v.u.isDisposed && sameBatch(v.batch, batch) && data.every((d, i) => d === v.data[i])) return v.u;
    v?.u.dispose();
    const u = tf.keep(this.encode(batch, false, true));
    this.visitor = { batch, data, u };
    return u;
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
    this.visitor?.u.dispose();
    this.visitor = undefined;
    for (const w of this.weights.values()) w.dispose();
    this.weights.clear();
    if (this.adam) {
      for (const t of [...this.adam.m.values(), ...this.adam.v.values()]) t.dispose();
      this.adam = undefined;
    }
  }
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
