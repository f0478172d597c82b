/**
 * The training step: one Adam step on a batch, whole or cut into parts run one at a time (on the
 * page, across frames), with lookup tables read and updated only at the rows the batch touches;
 * and what the first step needs made before it (Adam's state, warm memory, the dropout pool).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { runParts } from '../lib/pause';
import { Adam } from './adam';
import { DropoutPool, poolSize } from './dropout';
import type { CodeList, SeqBatch, TrainBatch } from './encode';
import { logitsAt, lossOf, type LossVectors } from './loss';
import { ScoreEncoder } from './score-encoder';
import type { EncodeContext } from './train-encoder';
import { denseWeights, TABLES, uid } from './weights';

/** A gradient (or a change) of the weights: dense weights whole, tables by the rows it touches. */
export interface Gradient {
  /** Mean loss of the batch it was taken on (NaN for a batch without targets). */
  loss: number;
  /** Every weight but the tables, by name. */
  dense: Map<string, Float32Array>;
  /** Per table: the rows, ascending, and their values (rows × width). */
  rows: Map<string, { idx: Int32Array; values: Float32Array }>;
}

/** The encoders, and the training step on their weights. */
export class TrainStep extends ScoreEncoder {
  /** Adam's state, made before the first step. */
  private adam?: Adam;
  /** Adam's state while it is being made, a part at a time. */
  private making?: Generator<void, Adam, void>;
  /** Per lookup table, each row's place among the rows a step touches (-1 when untouched). */
  private remaps = new Map<string, Int32Array>();
  /** Memory touched ahead of the first step (WASM), freed for the step to take once there is enough. */
  private heap?: { made: Tensor[]; done: boolean };

  /**
   * Makes, when missing, a part of what a step needs before it (see `prepare`): the optimizer's
   * state (at the first step), the memory the first step takes (WASM), then the dropout pool,
   * sized for `batch`. True when it did work.
   */
  protected prepareTrain(batch?: SeqBatch): boolean {
    if (!this.config.trainable) return false;
    if (!this.adam) {
      const r = (this.making ??= Adam.make(this.weights, this.config)).next();
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
    const { pos, neg } = logitsAt(H, batch, v, this.config.dim);
    return lossOf(this.config.loss, pos, neg);
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
    while (!this.adam) this.prepareTrain();
    const adam = this.adam;
    adam.t += 1;
    const sparse = new Map<string, { rows: Variable; remap: Int32Array; idx: Int32Array }>();
    for (const name of TABLES) {
      const table = this.weights.get(name);
      if (!table) continue;
      const idx = this.touched(batch, name);
      if (idx.length === 0) continue;
      const rows = tf.tidy(() => tf.gatherND(table, tf.tensor2d(idx, [idx.length, 1], 'int32')));
      sparse.set(name, {
        rows: tf.variable(rows, true, `attnflow/rows/${name}/${uid()}`),
        remap: this.remaps.get(name) as Int32Array,
        idx,
      });
      rows.dispose();
    }
    const vars: Variable[] = [...denseWeights(this.weights), ...[...sparse.values()].map((s) => s.rows)];
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
          add(
            vars,
            vars.map((v) => g[v.name]),
          );
          loss = hold(value);
        });
        yield;
      } else {
        ctx = this.encodeContext(batch, true, false);
        const c = ctx;
        // The encoder's pieces after its input: each block's attention and feed-forward halves.
        const pieces: ((x: Tensor) => Tensor)[] = [];
        for (let i = 0; i < this.config.blocks; i++) {
          pieces.push(
            (x) => this.encodeAttention(i, x, c),
            (x) => this.encodeFeedForward(i, x, c),
          );
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
          for (const x of Object.values(V)) if (x) hold(x.e), hold(x.b);
        });
        const flat = (v: LossVectors) => Object.values(v).flatMap((x: LossVectors['pos'] | undefined) => (x ? [x.e, x.b] : []));
        const vs = flat(V!);
        yield;
        let logits: Tensor[] = [];
        part(() => {
          const l = logitsAt(H!, batch, V!, this.config.dim);
          logits = [hold(l.pos), hold(l.neg)];
        });
        // Backward: each piece again, with the gradient of its output from the piece after it.
        // `grad` adds what a part gives the weights, and keeps the gradients of `xs` for the next.
        const logitLoss = () => lossOf(this.config.loss, logits[0]!, logits[1]!);
        const grad = (f: () => Tensor, xs: Tensor[], dy?: Tensor): Tensor[] => {
          const r = tf.engine().gradients(f, [...xs, ...vars], dy, true);
          add(vars, r.grads.slice(xs.length));
          if (f === logitLoss) loss = hold(r.value);
          return xs.map((x, i) => hold(r.grads[i] ?? tf.zerosLike(x)));
        };
        const drop = (ts: Tensor[]) => ts.forEach((t) => held.splice(held.indexOf(t), 1)[0]!.dispose());
        // Σ y·dy: its gradient is the pieces' gradient given dy, for pieces with several outputs.
        const dot = (ys: Tensor[], dys: Tensor[]): Tensor => ys.map((y, i) => tf.sum(tf.mul(y, dys[i]!))).reduce((a, b) => tf.add(a, b));
        yield;
        let dlogits: Tensor[] = [];
        part(() => void (dlogits = grad(logitLoss, logits)));
        yield;
        let dx: Tensor[] = [];
        let dvs: Tensor[] = [];
        part(() => {
          const g = grad(() => {
            const l = logitsAt(H!, batch, V!, this.config.dim);
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
      yield* adam.updateDense(grads, learningRate, part, write);
      for (const [name, s] of sparse) {
        yield;
        yield* adam.updateTable(name, s, grads.get(s.rows.name), learningRate, part, write);
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

  /**
   * The gradient of a batch's mean loss at the current weights, without a step: every weight but
   * the tables whole, and of each table the rows the batch touches (ascending). For local training
   * from a shared model (federated learning), where the caller takes the step.
   */
  gradients(batch: TrainBatch): Gradient {
    const out: Gradient = { loss: NaN, dense: new Map(), rows: new Map() };
    if (batch.targetPos.length === 0) return out;
    const sparse = new Map<string, { rows: Variable; remap: Int32Array; idx: Int32Array }>();
    const dense = denseWeights(this.weights);
    try {
      for (const name of TABLES) {
        const table = this.weights.get(name);
        if (!table) continue;
        const idx = this.touched(batch, name).sort();
        // The remap follows the sorted order.
        const remap = this.remaps.get(name) as Int32Array;
        for (let i = 0; i < idx.length; i++) remap[idx[i]] = i;
        if (idx.length === 0) continue;
        const rows = tf.tidy(() => tf.gatherND(table, tf.tensor2d(idx, [idx.length, 1], 'int32')));
        sparse.set(name, { rows: tf.variable(rows, true, `attnflow/rows/${name}/${uid()}`), remap, idx });
        rows.dispose();
      }
      const vars: Variable[] = [...dense, ...[...sparse.values()].map((s) => s.rows)];
      this.sparse = sparse;
      const { value, grads } = tf.variableGrads(() => this.loss(batch, true) as tf.Scalar, vars);
      try {
        out.loss = (value.dataSync() as Float32Array)[0]!;
        for (const w of dense) {
          const g = grads[w.name];
          out.dense.set(this.nameOf(w), g ? Float32Array.from(g.dataSync() as Float32Array) : new Float32Array(w.size));
        }
        for (const [name, s] of sparse) {
          const g = grads[s.rows.name];
          const values = g ? Float32Array.from(g.dataSync() as Float32Array) : new Float32Array(s.rows.size);
          out.rows.set(name, { idx: s.idx, values });
        }
      } finally {
        tf.dispose([value, ...Object.values(grads)]);
      }
      return out;
    } finally {
      this.sparse = undefined;
      for (const s of sparse.values()) {
        s.rows.dispose();
        for (let i = 0; i < s.idx.length; i++) s.remap[s.idx[i]] = -1;
      }
    }
  }

  /** The name a weight has in `weights` (and in weight files). */
  private nameOf(v: Variable): string {
    for (const [name, w] of this.weights) if (w === v) return name;
    throw new Error('attnflow: not a weight of this network');
  }

  /**
   * Adds `delta` to the weights: whole weights by name, and table rows at their indices (a table
   * is written once per call). Weights the delta does not name keep their values.
   */
  addToWeights(delta: Pick<Gradient, 'dense' | 'rows'>): void {
    tf.tidy(() => {
      for (const [name, d] of delta.dense) {
        const w = this.weights.get(name);
        if (!w) throw new Error(`attnflow: no weight ${name}`);
        w.assign(tf.add(w, tf.tensor(d, w.shape)));
      }
      for (const [name, { idx, values }] of delta.rows) {
        const w = this.weights.get(name);
        if (!w) throw new Error(`attnflow: no weight ${name}`);
        if (idx.length === 0) continue;
        const at = tf.tensor2d(idx, [idx.length, 1], 'int32');
        const width = w.shape[1] as number;
        const rows = tf.add(tf.gatherND(w, at), tf.tensor2d(values, [idx.length, width]));
        w.assign(tf.tensorScatterUpdate(w, at, rows));
      }
    });
  }

  override dispose(): void {
    this.freeHeap();
    this.making?.return(undefined as never);
    this.making = undefined;
    this.adam?.dispose();
    this.adam = undefined;
    super.dispose();
  }
}
