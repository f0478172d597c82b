/**
 * The scoring encoder of a one-head model: the visitor encoder's last column computed from the
 * folded weights (kept while the weights stay the same), in parts, and the weighted sums of table
 * rows that give its input and the candidates' vectors.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { runParts } from '../lib/pause';
import { FEATURES, type CodeList, type SeqBatch } from './encode';
import { foldParts, type Folded } from './fold';
import { TrainEncoder } from './train-encoder';

/**
 * a·b (+ a bias, then ReLU) of 3-D operands: the fused kernel itself. `tf.fused.matMul` adds
 * gradient bookkeeping and reshapes that cost as much as a product of this size; scoring needs none.
 */
export function dense(a: Tensor, b: Tensor, bias?: Tensor, relu = false, transposeB = false): Tensor {
  const attrs = { transposeA: false, transposeB, activation: relu ? 'relu' : 'linear', leakyreluAlpha: 0 };
  return tf.engine().runKernel(tf._FusedMatMul, bias ? { a, b, bias } : { a, b }, attrs) as Tensor;
}

/** The training encoder, and beside it the scoring encoder on folded weights. */
export class ScoreEncoder extends TrainEncoder {
  private causal?: { L: number; t: Tensor };
  /** The folded weights for scoring, the data of every weight they came from, and what to dispose. */
  private folded?: { data: unknown[]; t: Folded; own: Tensor[] };
  /** A folding under way in parts (`prepare`), for the weights of `data`. */
  private folding?: { data: unknown[]; parts: Generator<void, { t: Folded; own: Tensor[] }, void> };

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

  /** The folded weights of the current weights, made again only after a weight changed. */
  protected foldedWeights(): Folded {
    const data = this.weightData();
    const f = this.folded;
    if (f && data.every((x, i) => x === f.data[i])) return f.t;
    this.stopFolding();
    this.setFolded(data, runParts(foldParts(this.config, (name) => this.w(name))));
    return this.folded!.t;
  }

  /**
   * A part of folding the weights of `data` (`prepare`), unless the folded weights are theirs
   * already: a block a part, then the rest. A folding begun for weights that have changed since is
   * dropped and begun again. False when there was nothing to do.
   */
  protected foldPart(data: unknown[]): boolean {
    const f = this.folded;
    if (f && data.every((x, i) => x === f.data[i])) return false;
    if (this.folding && !data.every((x, i) => x === this.folding!.data[i])) this.stopFolding();
    const run = (this.folding ??= { data, parts: foldParts(this.config, (name) => this.w(name)) });
    const r = run.parts.next();
    if (r.done) {
      this.folding = undefined;
      this.setFolded(data, r.value);
    }
    return true;
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
   * Σ of each item's table rows, weighted, times `scale`: [n, d] (no gradient). Id rows come from
   * the id table, topic rows and `extra` more rows per item (set by `more`) from the small table.
   */
  protected itemSum(
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
  protected *encodeLastParts(batch: SeqBatch, f: Folded): Generator<void, Tensor, void> {
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
      const keyMask = padded
        ? hold(
            tf.tensor3d(
              batch.valid.map((v) => (v > 0 ? 0 : -1e9)),
              [B, 1, L],
            ),
          )
        : undefined;
      const last = hold(
        tf.tensor2d(
          Int32Array.from({ length: B }, (_, b) => b * L + L - 1),
          [B, 1],
          'int32',
        ),
      );
      const lastRows = (t: Tensor): Tensor => tf.reshape(tf.gatherND(tf.reshape(t, [n, d]), last), [1, B, d]);
      const norm = (t: Tensor): Tensor => tf.mul(t, tf.rsqrt(dense(tf.square(t), f.meanCol, f.eps)));
      // Rows live as [1, B·L, d]: every product with a weight is then one fused kernel, no reshape.
      // Inputs: item vectors·√d plus the row's position and attention features, which are rows of
      // the small table too (the position with weight 1, the features' weights with the feature
      // values), then the site's item vectors.
      let x = hold(
        tf.tidy(() => {
          const tb = Math.max(c.topicBuckets, 0);
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
          if (f.vectors && batch.items.vectors)
            x0 = tf.add(x0, dense(tf.tensor3d(batch.items.vectors, [1, n, c.itemVectorDim]), f.vectors));
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

  override dispose(): void {
    this.stopFolding();
    if (this.folded) for (const t of this.folded.own) t.dispose();
    this.folded = undefined;
    this.causal?.t.dispose();
    this.causal = undefined;
    super.dispose();
  }
}
