/**
 * The visitor encoder as trained: hashed item vectors, positions and attention features into a
 * SASRec-style causal self-attention stack, with dropout, in pieces a step cut into parts runs one
 * at a time; and the item vectors and biases, read from the tables or from a step's own rows.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { DropoutPool, poolSize } from './dropout';
import { FEATURES, type CodeList, type SeqBatch } from './encode';
import { mulberry32 } from './hash';
import { layerNorm, lookup, mm, takeRows } from './ops';
import { Weights } from './weights';

/** What the encoder's parts share for one batch. */
export interface EncodeContext {
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

/** Zeroes the padding positions of the residual stream. */
const padOut = (x: Tensor, ctx: EncodeContext): Tensor => (ctx.valid ? tf.mul(x, ctx.valid) : x);

/** The weights with the training encoder over them. */
export class TrainEncoder extends Weights {
  protected rand = mulberry32(this.config.seed);
  protected drop: DropoutPool | undefined;
  /** During a training step: the rows of each lookup table the batch touches, as their own variables. */
  protected sparse?: Map<string, { rows: Variable; remap: Int32Array }>;
  /** During a step cut into parts: its dropout masks, by place in the network. */
  protected masks?: Map<string, Tensor>;

  /** Rows `idx` of lookup table `name`: the whole table, or during a step only its touched rows. */
  protected lookupIn(name: string, idx: Int32Array, w: Float32Array, n: number, k: number, plain: boolean): Tensor {
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
  protected encodeContext(batch: SeqBatch, training: boolean, plain: boolean): EncodeContext {
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
  protected encodeInput(batch: SeqBatch, ctx: EncodeContext): Tensor {
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
  protected encodeAttention(i: number, x: Tensor, ctx: EncodeContext): Tensor {
    const { B, L, training, plain } = ctx;
    const d = this.config.dim;
    const heads = this.config.heads;
    const dh = d / heads;
    const scale = 1 / Math.sqrt(dh);
    const split = (t: Tensor): Tensor =>
      heads === 1 ? tf.reshape(t, [B, L, d]) : tf.reshape(tf.transpose(tf.reshape(t, [B, L, heads, dh]), [0, 2, 1, 3]), [B * heads, L, dh]);
    const merge = (t: Tensor): Tensor =>
      heads === 1 ? tf.reshape(t, [B * L, d]) : tf.reshape(tf.transpose(tf.reshape(t, [B, heads, L, dh]), [0, 2, 1, 3]), [B * L, d]);
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
  protected encodeFeedForward(i: number, x: Tensor, ctx: EncodeContext): Tensor {
    const { training, plain } = ctx;
    const p = `block${i}/`;
    const h = this.norm(x, p + 'ln2', plain);
    const f1 = tf.relu(tf.add(mm(h, this.w(p + 'w1')), this.w(p + 'b1')));
    const f2 = tf.add(mm(this.dropout(f1, training, p + 'hidden'), this.w(p + 'w2')), this.w(p + 'b2'));
    return padOut(tf.add(x, this.dropout(f2, training, p + 'output')), ctx);
  }

  /** The encoder's output: the stream's final norm, at every position or the last column only. */
  protected encodeOut(x: Tensor, ctx: EncodeContext, lastOnly: boolean): Tensor {
    const out = this.norm(x, 'out/ln', ctx.plain);
    if (!lastOnly) return out;
    const lastRows = new Int32Array(ctx.B);
    for (let b = 0; b < ctx.B; b++) lastRows[b] = b * ctx.L + ctx.L - 1;
    return takeRows(out, lastRows, ctx.plain);
  }
}
