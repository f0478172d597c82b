/**
 * The few differentiable operations the model is built from, with gradients written for speed on
 * every backend. tfjs-core's Node bundle registers no gradients and the full set would bloat the
 * browser chunk, so only the kernels the model uses get one here (registered only where missing).
 *
 * Two backend facts shape this file: the WASM backend has no UnsortedSegmentSum (the gradient of
 * `gather`) and its matMul with a transposed operand is ~12x slower than a plain one. So lookups
 * use sparseSegmentSum / gatherND forward and scatterND backward, and every matMul in a gradient is
 * an explicit transpose followed by a plain product.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';

const { getReductionAxes, assertAndGetBroadcastShape } = tf.backend_util;

function unbroadcast(dy: Tensor, shape: number[], outShape: number[]): Tensor {
  const axes = getReductionAxes(shape, outShape);
  const r = axes.length > 0 ? tf.sum(dy, axes) : dy;
  return tf.reshape(r, shape);
}

function swapLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  const n = perm.length;
  perm[n - 1] = n - 2;
  perm[n - 2] = n - 1;
  return tf.transpose(x, perm);
}

/** a·b with no transposed operand inside the kernel (see the file comment). */
export function mm(a: Tensor, b: Tensor, transposeA = false, transposeB = false): Tensor {
  return tf.matMul(transposeA ? swapLast(a) : a, transposeB ? swapLast(b) : b);
}

const GRADIENTS: GradConfig[] = [
  {
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const [a, b] = saved;
      const d = dy as Tensor;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      // Batch dims of a and b match in this model (no broadcasting batch matmul).
      if (!transposeA && !transposeB) return { a: () => mm(d, b, false, true), b: () => mm(a, d, true, false) };
      if (!transposeA && transposeB) return { a: () => mm(d, b), b: () => mm(d, a, true, false) };
      if (transposeA && !transposeB) return { a: () => mm(b, d, false, true), b: () => mm(a, d) };
      return { a: () => mm(b, d, true, true), b: () => mm(d, a, true, true) };
    },
  },
  {
    kernelName: 'Add',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const out = assertAndGetBroadcastShape(a.shape, b.shape);
      return { a: () => unbroadcast(dy as Tensor, a.shape, out), b: () => unbroadcast(dy as Tensor, b.shape, out) };
    },
  },
  {
    kernelName: 'Sub',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const out = assertAndGetBroadcastShape(a.shape, b.shape);
      return {
        a: () => unbroadcast(dy as Tensor, a.shape, out),
        b: () => tf.neg(unbroadcast(dy as Tensor, b.shape, out)),
      };
    },
  },
  {
    kernelName: 'Multiply',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const out = assertAndGetBroadcastShape(a.shape, b.shape);
      return {
        a: () => unbroadcast(tf.mul(dy as Tensor, b), a.shape, out),
        b: () => unbroadcast(tf.mul(dy as Tensor, a), b.shape, out),
      };
    },
  },
  {
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const [x] = saved;
      const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x.shape);
      const keep = x.shape.slice();
      for (const ax of axes) keep[ax] = 1;
      return { x: () => tf.mul(tf.reshape(dy as Tensor, keep), tf.onesLike(x)) };
    },
  },
  {
    kernelName: 'Reshape',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.reshape(dy as Tensor, saved[0].shape) }),
  },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _saved, attrs: NamedAttrMap) => {
      const perm = (attrs as unknown as { perm: number[] }).perm;
      const undo = tf.backend_util.getUndoAxesPermutation(perm);
      return { x: () => tf.transpose(dy as Tensor, undo) };
    },
  },
  {
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as Tensor, tf.step(saved[0])) }),
  },
  {
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const [y] = saved;
      const dim = (attrs as unknown as { dim: number }).dim;
      return {
        logits: () => {
          const dyy = tf.mul(dy as Tensor, y);
          return tf.sub(dyy, tf.mul(tf.sum(dyy, [dim], true), y));
        },
      };
    },
  },
  {
    kernelName: 'Concat',
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const axis = tf.util.parseAxisParam((attrs as unknown as { axis: number }).axis, saved[0].shape)[0];
      const parts = tf.split(
        dy as Tensor,
        saved.map((t) => t.shape[axis]),
        axis,
      );
      return parts.map((t) => () => t) as unknown as Record<string, () => Tensor>;
    },
  },
  {
    kernelName: 'Neg',
    gradFunc: (dy) => ({ x: () => tf.neg(dy as Tensor) }),
  },
];

type CustomFn = (...args: never[]) => { value: Tensor; gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor[] };
/** tf.customGrad with the argument types the functions below actually have. */
function customGrad(f: CustomFn): (...xs: Tensor[]) => Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (...xs: Tensor[]) => Tensor;
}

let registered = false;
/** Registers the gradients above for kernels that have none yet; idempotent. */
export function registerGradients(): void {
  if (registered) return;
  registered = true;
  for (const g of GRADIENTS) if (!tf.getGradient(g.kernelName)) tf.registerGradient(g);
}

/**
 * Weighted sums of k table rows per output row: out[i] = Σ_j w[i·k+j] · table[idx[i·k+j]].
 * gatherND forward, scatterND backward (the WASM backend lacks gather's gradient kernel and the
 * WebGL one lacks sparseSegmentSum).
 */
export function lookup(table: Tensor, idx: Int32Array, w: Float32Array, n: number, k: number, plain = false): Tensor {
  const width = table.shape[1] as number;
  if (n === 0 || k === 0) return tf.zeros([n, width]);
  if (plain) {
    const rows = tf.reshape(tf.gatherND(table, tf.tensor2d(idx, [n * k, 1], 'int32')), [n, k, width]);
    // Every weight 1 (item ids without padding): a plain sum.
    return tf.sum(w.every((v) => v === 1) ? rows : tf.mul(rows, tf.tensor3d(w, [n, k, 1])), 1);
  }
  const f = customGrad((t: Tensor, save: tf.GradSaveFunc) => {
    const idxT = tf.tensor2d(idx, [n * k, 1], 'int32');
    const wT = tf.tensor3d(w, [n, k, 1]);
    save([idxT, wT]);
    const rows = tf.reshape(tf.gatherND(t, idxT), [n, k, width]);
    return {
      value: tf.sum(tf.mul(rows, wT), 1),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const d = tf.reshape(tf.mul(tf.reshape(dy, [n, 1, width]), saved[1]), [n * k, width]);
        return [tf.scatterND(saved[0], d, t.shape)];
      },
    };
  });
  return f(table) as Tensor;
}

/** Rows `idx` of a 2-D tensor (gatherND forward, scatterND backward). */
export function takeRows(x: Tensor, idx: Int32Array, plain = false): Tensor {
  if (plain) return tf.gatherND(x, tf.tensor2d(idx, [idx.length, 1], 'int32'));
  const f = customGrad((t: Tensor, save: tf.GradSaveFunc) => {
    const idxT = tf.tensor2d(idx, [idx.length, 1], 'int32');
    save([idxT]);
    return {
      value: tf.gatherND(t, idxT),
      gradFunc: (dy: Tensor, saved: Tensor[]) => [tf.scatterND(saved[0], dy, t.shape)],
    };
  });
  return f(x) as Tensor;
}

/** Layer normalisation over the last axis of a 2-D tensor, with its gradient in closed form. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-6, plain = false): Tensor {
  if (plain) {
    const xc = tf.sub(x, tf.mean(x, -1, true));
    return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps))), gamma), beta);
  }
  const f = customGrad((xi: Tensor, g: Tensor, b: Tensor, save: tf.GradSaveFunc) => {
    const mu = tf.mean(xi, -1, true);
    const xc = tf.sub(xi, mu);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps));
    const xhat = tf.mul(xc, rstd);
    save([xhat, rstd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xh, rs, gg] = saved;
        const dxhat = tf.mul(dy, gg);
        const m1 = tf.mean(dxhat, -1, true);
        const m2 = tf.mean(tf.mul(dxhat, xh), -1, true);
        const dx = tf.mul(rs, tf.sub(tf.sub(dxhat, m1), tf.mul(xh, m2)));
        return [dx, tf.sum(tf.mul(dy, xh), 0), tf.sum(dy, 0)];
      },
    };
  });
  return f(x, gamma, beta) as Tensor;
}

/**
 * Sampled-softmax cross-entropy, mean over rows: each row's positive logit against its negative
 * logits (already masked with large negative values where a negative is the positive itself).
 */
export function softmaxLoss(pos: Tensor, neg: Tensor): Tensor {
  const rows = pos.shape[0] as number;
  const f = customGrad((p: Tensor, n: Tensor, save: tf.GradSaveFunc) => {
    const p2 = tf.reshape(p, [rows, 1]);
    const m = tf.maximum(tf.max(n, 1, true), p2);
    const ep = tf.exp(tf.sub(p2, m));
    const en = tf.exp(tf.sub(n, m));
    const z = tf.add(ep, tf.sum(en, 1, true));
    const loss = tf.mean(tf.sub(tf.add(tf.log(z), m), p2));
    save([ep, en, z]);
    return {
      value: loss,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [e1, e2, zz] = saved;
        const k = tf.div(dy, rows);
        const dp = tf.mul(tf.sub(tf.div(e1, zz), 1), k);
        const dn = tf.mul(tf.div(e2, zz), k);
        return [tf.reshape(dp, [rows]), dn];
      },
    };
  });
  return f(pos, neg) as Tensor;
}

/**
 * Binary cross-entropy, mean over rows: -log σ(pos) - w·Σ log(1-σ(neg)) with w = 1/#negatives,
 * so every row weighs the same however many negatives it has. Masked negatives (≤ -1e8) add 0.
 */
export function bceLoss(pos: Tensor, neg: Tensor): Tensor {
  const rows = pos.shape[0] as number;
  const cols = Math.max(1, neg.shape[1] as number);
  const f = customGrad((p: Tensor, n: Tensor, save: tf.GradSaveFunc) => {
    const lp = tf.sum(tf.softplus(tf.neg(p)));
    const ln = tf.sum(tf.softplus(n));
    save([p, n]);
    return {
      value: tf.div(tf.add(lp, tf.div(ln, cols)), rows),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const k = tf.div(dy, rows);
        const dp = tf.mul(tf.neg(tf.sigmoid(tf.neg(saved[0]))), k);
        const dn = tf.mul(tf.sigmoid(saved[1]), tf.div(k, cols));
        return [dp, dn];
      },
    };
  });
  return f(pos, neg) as Tensor;
}
