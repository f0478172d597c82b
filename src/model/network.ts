/**
 * The network: hashed item encoder, SASRec-style causal self-attention visitor encoder, dot-product
 * scorer with item bias, and its training step (sampled negatives, Adam with explicit epsilon).
 * Each job has a module of its own, each a class built on the one before: the weights
 * (`weights.ts`), the encoder as trained (`train-encoder.ts`), the scoring encoder on folded weights
 * (`score-encoder.ts`), the training step (`step.ts`). `Network` completes them: scoring, with the
 * visitor and candidate vectors it keeps, and what a call needs made before it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { runParts, runSliced } from '../lib/pause';
import type { CodeList, SeqBatch } from './encode';
import { registerGradients } from './ops';
import { dense } from './score-encoder';
import { TrainStep } from './step';
import type { ModelConfig } from './types';

export { initialWeights, weightShapes } from './weights';

export class Network extends TrainStep {
  /** The last visitor vectors, the batch they came from and the data of every weight then. */
  private visitor?: { batch: SeqBatch; data: unknown[]; u: Tensor };
  /** The last candidates' vectors, their list and the data of every weight then. */
  private candidates?: { list: CodeList; data: unknown[]; e: Tensor; b: Tensor };

  /** The network with weights `values` (any missing are drawn from the seed). */
  constructor(config: ModelConfig, values?: Map<string, Float32Array>, later = false) {
    super(config);
    registerGradients();
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
    if (what === 'train') return this.prepareTrain(batch);
    const data = this.weightData();
    if (this.foldPart(data)) return true;
    const k = this.candidates;
    if (!list || !this.keeps(list) || (k && k.list === list && data.every((x, i) => x === k.data[i]))) return false;
    tf.tidy(() => void this.candidateVectors(list));
    return true;
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

  override dispose(): void {
    this.visitor?.u.dispose();
    this.visitor = undefined;
    if (this.candidates) tf.dispose([this.candidates.e, this.candidates.b]);
    this.candidates = undefined;
    super.dispose();
  }
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
    a.B === b.B &&
    a.L === b.L &&
    x.n === y.n &&
    x.idK === y.idK &&
    x.topicK === y.topicK &&
    sameArray(x.idIdx, y.idIdx) &&
    sameArray(x.idW, y.idW) &&
    sameArray(x.topicIdx, y.topicIdx) &&
    sameArray(x.topicW, y.topicW) &&
    sameArray(x.vectors, y.vectors) &&
    sameArray(a.features, b.features) &&
    sameArray(a.valid, b.valid)
  );
}
