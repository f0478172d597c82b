/**
 * The folded weights: the weights rearranged for scoring (`Folded`), and their making, a block a
 * part.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
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
export interface Folded {
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

/**
 * The folded weights of a network with config `c` and weights `w`, in parts (a block a part, then
 * the rest: on the page the first call runs code the browser has yet to compile), each tensor kept
 * (`tf.keep`) and listed in `own`; a folding left unfinished disposes what it made.
 */
export function* foldParts(c: ModelConfig, w: (name: string) => Tensor): Generator<void, { t: Folded; own: Tensor[] }, void> {
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
        const g = w(p + 'ln1/g');
        const b = row(w(p + 'ln1/b'));
        const qk = tf.mul(tf.matMul(w(p + 'wq'), w(p + 'wk'), false, true), scale);
        const qkg = tf.mul(qk, row(g));
        // Centred outputs (see `Folded`): the value-output product and the FFN's last layer.
        const vo = centred(tf.matMul(w(p + 'wv'), w(p + 'wo')));
        const g2 = w(p + 'ln2/g');
        const w1 = w(p + 'w1');
        return {
          aq: as3(tf.mul(col(g), qkg)),
          cq: vec(tf.matMul(b, qkg)),
          wv: as3(tf.mul(col(g), vo)),
          cv: vec(tf.matMul(b, vo)),
          w1: as3(tf.mul(col(g2), w1)),
          c1: vec(tf.add(tf.matMul(row(w(p + 'ln2/b')), w1), row(w(p + 'b1')))),
          w2: as3(centred(w(p + 'w2'))),
          b2: vec(centred(row(w(p + 'b2')))),
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
        small: tf.concat([...(c.topicBuckets > 0 ? [w('item/topic')] : []), w('seq/pos'), w('seq/features')], 0),
        vectors: c.itemVectorDim > 0 ? as3(tf.mul(w('item/vector'), Math.sqrt(d))) : undefined,
        outG: as3(tf.mul(eye, row(w('out/ln/g')))),
        outB: vec(w('out/ln/b')),
      };
    });
    keepAll(rest);
    done = true;
    return { t: { ...rest, blocks }, own };
  } finally {
    if (!done) tf.dispose(own);
  }
}
