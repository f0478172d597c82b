/**
 * Adam with explicit epsilon: its state, made a part at a time; dense Adam (AdamW with
 * `weightDecay`) on every weight but the tables, as one flat vector; lazy (row-sparse) Adam on the
 * rows of each table a step touched.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { ModelConfig } from './types';
import { denseWeights, TABLES } from './weights';

const ADAM_B1 = 0.9;
const ADAM_B2 = 0.98;

/** Runs a part of a step, with the step's table rows and masks in place (see `stepParts`). */
export type RunPart = (fn: () => void) => void;
/** Keeps a new value of a variable, for the end of the step. */
export type Write = (to: Variable, value: Tensor) => void;

/** One Adam move of weights `w` with gradient `g` and moments `m`, `v`: the new [w, m, v]. */
function adamMove(w: Tensor, g: Tensor, m: Tensor, v: Tensor, rate: number, epsilon: number): [Tensor, Tensor, Tensor] {
  const m2 = tf.add(tf.mul(m, ADAM_B1), tf.mul(g, 1 - ADAM_B1));
  const v2 = tf.add(tf.mul(v, ADAM_B2), tf.mul(tf.square(g), 1 - ADAM_B2));
  return [tf.sub(w, tf.mul(tf.div(m2, tf.add(tf.sqrt(v2), epsilon)), rate)), m2, v2];
}

/**
 * Adam's state: per lookup table (updated row-sparse), and for all other weights together, one
 * flat vector each, in `weights` order (one update of a dozen kernels instead of a dozen per
 * weight; on the page each kernel costs microseconds of JavaScript).
 */
export class Adam {
  /** Steps taken. */
  t = 0;

  private constructor(
    private weights: Map<string, Variable>,
    private config: ModelConfig,
    /** Each table's moments. */
    private m: Map<string, Variable>,
    private v: Map<string, Variable>,
    /** The other weights' moments, flat. */
    private dm: Variable,
    private dv: Variable,
    /** 1 where the flat vector holds a matrix (the only weights that decay), else 0. */
    private decay: Tensor,
    /** Each weight's place in the flat vector, as indices to gather. */
    private parts: Tensor[],
  ) {}

  /**
   * Makes Adam's state for `weights` a part at a time (a generator that yields between parts): the
   * flat state of the dense weights, then each table's. A table's state is the size of the table
   * (megabytes for the id table), which on the page is a task of its own.
   */
  static *make(weights: Map<string, Variable>, config: ModelConfig): Generator<void, Adam, void> {
    const m = new Map<string, Variable>();
    const v = new Map<string, Variable>();
    const dense = denseWeights(weights);
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
    const state = new Adam(weights, config, m, v, zeros(), zeros(), tf.tensor1d(decay), parts);
    let done = false;
    try {
      for (const name of TABLES) {
        const w = weights.get(name);
        if (!w) continue;
        // A table's first and second moments, a part each: new memory is slow to touch the first
        // time on some systems, megabytes of it a long task.
        for (const into of [m, v]) {
          yield;
          into.set(
            name,
            tf.tidy(() => tf.variable(tf.zerosLike(w), false)),
          );
        }
      }
      done = true;
      return state;
    } finally {
      // Left unfinished (the network was disposed): what was made goes with it.
      if (!done) state.dispose();
    }
  }

  /** Adam's bias-corrected step size at the current step. */
  private rate(learningRate: number): number {
    const t = this.t;
    return (learningRate * Math.sqrt(1 - ADAM_B2 ** t)) / (1 - ADAM_B1 ** t);
  }

  /**
   * Adam (AdamW with `weightDecay`) on every weight but the tables, as one flat vector: the new
   * flat values and state, then (a part of its own) each weight's values gathered back, for `write`.
   */
  *updateDense(grads: Map<string, Tensor>, learningRate: number, part: RunPart, write: Write): Generator<void, void, void> {
    const c = this.config;
    const dense = denseWeights(this.weights);
    let next: Tensor | undefined;
    part(() => {
      // A weight without a gradient keeps its values and state.
      const flat = (ts: Tensor[]): Tensor =>
        tf.concat(
          ts.map((t) => tf.reshape(t, [-1])),
          0,
        );
      const missing = dense.filter((x) => !grads.has(x.name));
      const wf = flat(dense);
      const gf = flat(dense.map((x) => grads.get(x.name) ?? tf.zerosLike(x)));
      let [wf2, mf2, vf2] = adamMove(wf, gf, this.dm, this.dv, this.rate(learningRate), c.epsilon);
      if (c.weightDecay > 0) wf2 = tf.sub(wf2, tf.mul(tf.mul(wf, this.decay), learningRate * c.weightDecay));
      if (missing.length > 0) {
        const has = tf.concat(
          dense.map((x) => tf.fill([x.size], grads.has(x.name) ? 1 : 0)),
          0,
        );
        const keep = (after: Tensor, old: Tensor): Tensor => tf.add(old, tf.mul(tf.sub(after, old), has));
        [wf2, mf2, vf2] = [keep(wf2, wf), keep(mf2, this.dm), keep(vf2, this.dv)];
      }
      write(this.dm, mf2);
      write(this.dv, vf2);
      next = tf.keep(wf2);
    });
    try {
      yield;
      part(() => dense.forEach((x, i) => write(x, tf.reshape(tf.gather(next!, this.parts[i]!), x.shape))));
    } finally {
      next?.dispose();
    }
  }

  /**
   * Lazy Adam on the rows of table `name` the step touched (`s`), given their gradient `g`: the new
   * rows of the table and of its moments, each written into a new whole table by its own part
   * (a table of ids is megabytes), for `write`.
   */
  *updateTable(
    name: string,
    s: { rows: Variable; idx: Int32Array },
    g: Tensor | undefined,
    learningRate: number,
    part: RunPart,
    write: Write,
  ): Generator<void, void, void> {
    if (!g) return;
    const at = tf.tensor2d(s.idx, [s.idx.length, 1], 'int32');
    const tables = [this.weights.get(name) as Variable, this.m.get(name) as Variable, this.v.get(name) as Variable];
    try {
      let rows: Tensor[] = [];
      part(() => {
        const rate = this.rate(learningRate) * this.config.tableLearningRate;
        rows = adamMove(s.rows, g, tf.gatherND(tables[1]!, at), tf.gatherND(tables[2]!, at), rate, this.config.epsilon).map((t) =>
          tf.keep(t),
        );
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

  dispose(): void {
    tf.dispose([...this.m.values(), ...this.v.values(), this.dm, this.dv, this.decay, ...this.parts]);
  }
}
