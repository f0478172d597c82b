/**
 * The collector's half of a round (DP-FedAvg): the sum of the round's clipped updates, Gaussian
 * noise on the sum (central differential privacy: its standard deviation is the noise multiplier
 * times the clip norm, on every value of every weight, rows nobody touched included), the mean,
 * and the server's step from it to the next round's weights (FedAvg, with momentum, or FedAdam).
 * Pure: no storage, no network; the evaluation runs the same code.
 */
import { fillNormal } from '../model/hash';
import type { Delta, WeightSpec } from './update';

export { secureRandom } from './update';

/** The server's optimizer: plain FedAvg, FedAvg with server momentum, or FedAdam (Reddi et al. 2021). */
export type ServerOptimizer = 'fedavg' | 'momentum' | 'fedadam';

export interface ServerSettings {
  optimizer: ServerOptimizer;
  /** Server learning rate; default 1 (FedAvg, momentum) or 0.01 (FedAdam). */
  learningRate?: number;
  /** Momentum (and FedAdam's β1); default 0.9. */
  momentum?: number;
  /** FedAdam's β2; default 0.99. */
  beta2?: number;
  /** FedAdam's τ (its epsilon, the adaptivity's floor); default 1e-3. */
  tau?: number;
  /**
   * Leave values whose mean change is exactly 0 as they are, moments included (lazy, like the
   * row-sparse Adam of training: rows nobody touched keep still). Only without noise, where a
   * row nobody touched has no change at all. Default false.
   */
  lazy?: boolean;
}

/** Sums a round's updates into whole weights. */
export class Aggregate {
  readonly sums = new Map<string, Float32Array>();
  /** Updates added. */
  count = 0;

  constructor(private readonly specs: ReadonlyMap<string, WeightSpec>) {
    for (const [name, spec] of specs) this.sums.set(name, new Float32Array(spec.shape.reduce((a, b) => a * b, 1)));
  }

  /** Adds one (decoded, clipped) update. */
  add(delta: Delta): void {
    for (const [name, v] of delta.dense) {
      const s = this.sums.get(name);
      if (!s || s.length !== v.length) throw new Error(`attnflow: ${name} does not fit the round's model`);
      for (let i = 0; i < v.length; i++) s[i]! += v[i]!;
    }
    for (const [name, { idx, values }] of delta.rows) {
      const s = this.sums.get(name);
      const spec = this.specs.get(name);
      if (!s || !spec) throw new Error(`attnflow: ${name} does not fit the round's model`);
      const width = spec.shape[1] ?? 1;
      for (let r = 0; r < idx.length; r++) {
        const at = idx[r]! * width;
        for (let j = 0; j < width; j++) s[at + j]! += values[r * width + j]!;
      }
    }
    this.count++;
  }

  /**
   * The round's mean change: (sum + N(0, noiseStd²) on every value) ÷ `divisor`. The sums are
   * consumed (the mean is computed in place).
   */
  mean(noiseStd: number, divisor: number, rand: () => number): Map<string, Float32Array> {
    if (!(divisor > 0)) throw new Error('attnflow: a round is averaged over at least one update');
    const noise = new Float32Array(1 << 16);
    for (const s of this.sums.values()) {
      for (let at = 0; at < s.length; at += noise.length) {
        const n = Math.min(noise.length, s.length - at);
        if (noiseStd > 0) fillNormal(noise.subarray(0, n), rand, noiseStd);
        for (let i = 0; i < n; i++) s[at + i] = (s[at + i]! + (noiseStd > 0 ? noise[i]! : 0)) / divisor;
      }
    }
    return this.sums;
  }
}

/**
 * The server's step, in place: `weights` move by the round's mean change `mean` as the optimizer
 * says; `state` holds its moments between rounds (`m/NAME`, `v/NAME`), made on first use.
 */
export function serverStep(
  weights: Map<string, Float32Array>,
  mean: ReadonlyMap<string, Float32Array>,
  state: Map<string, Float32Array>,
  settings: ServerSettings,
): void {
  const opt = settings.optimizer;
  const lr = settings.learningRate ?? (opt === 'fedadam' ? 0.01 : 1);
  const b1 = settings.momentum ?? 0.9;
  const b2 = settings.beta2 ?? 0.99;
  const tau = settings.tau ?? 1e-3;
  const lazy = settings.lazy ?? false;
  for (const [name, d] of mean) {
    const w = weights.get(name);
    if (!w || w.length !== d.length) throw new Error(`attnflow: ${name} does not fit the model`);
    if (opt === 'fedavg') {
      for (let i = 0; i < w.length; i++) w[i]! += lr * d[i]!;
      continue;
    }
    const m = state.get(`m/${name}`) ?? state.set(`m/${name}`, new Float32Array(w.length)).get(`m/${name}`)!;
    if (opt === 'momentum') {
      for (let i = 0; i < w.length; i++) {
        if (lazy && d[i] === 0) continue;
        m[i] = b1 * m[i]! + d[i]!;
        w[i]! += lr * m[i]!;
      }
      continue;
    }
    const v = state.get(`v/${name}`) ?? state.set(`v/${name}`, new Float32Array(w.length)).get(`v/${name}`)!;
    for (let i = 0; i < w.length; i++) {
      if (lazy && d[i] === 0) continue;
      m[i] = b1 * m[i]! + (1 - b1) * d[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * d[i]! * d[i]!;
      w[i]! += (lr * m[i]!) / (Math.sqrt(v[i]!) + tau);
    }
  }
}
