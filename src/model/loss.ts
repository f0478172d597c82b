/**
 * The training loss: the logits of a batch's targets against its sampled negatives (shared and
 * per row, a row's own positive masked out), and the loss of those logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { TrainBatch } from './encode';
import { bceLoss, mm, softmaxLoss, takeRows } from './ops';
import type { ModelConfig } from './types';

/** Item vectors [n, d] and biases [n, 1] of the lists a training loss reads. */
export interface LossVectors {
  pos: { e: Tensor; b: Tensor };
  neg?: { e: Tensor; b: Tensor };
  rows?: { e: Tensor; b: Tensor };
}

/** The loss (`kind`) of positive logits [T] against negative logits [T, M]. */
export function lossOf(kind: ModelConfig['loss'], pos: Tensor, neg: Tensor): Tensor {
  return kind === 'softmax' ? softmaxLoss(pos, neg) : bceLoss(pos, neg);
}

/**
 * Each target's logit [T] and its negatives' logits [T, M] (masked ones at -1e9), given the
 * encoder's output `H` [B·L, d] and the item vectors `v`.
 */
export function logitsAt(H: Tensor, batch: TrainBatch, v: LossVectors, d: number): { pos: Tensor; neg: Tensor } {
  const T = batch.targetPos.length;
  const N = batch.negatives.n;
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
