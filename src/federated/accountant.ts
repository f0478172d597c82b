/**
 * Privacy budget of federated averaging with user-level differential privacy (DP-FedAvg): each round
 * the collector sums the clipped updates (L2 norm ≤ C) of a Poisson sample of the users, each one in
 * with probability q, and adds Gaussian noise of standard deviation z·C. This module tracks the Rényi
 * DP (RDP) of that sampled Gaussian mechanism over the rounds (Mironov, Talwar & Zhang 2019) and turns
 * it into an (ε, δ) guarantee (Balle et al. 2020, Proposition 12; Canonne, Kamath & Steinke 2020), with
 * the same formulas as Google's dp_accounting / TensorFlow Privacy RDP accountant. Pure arithmetic.
 */

/** The RDP orders α tracked by default: fine below 5, every integer to 64, then 128 to 1024. */
export const RDP_ORDERS: readonly number[] = Object.freeze(
  [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5].concat(
    Array.from({ length: 60 }, (_, i) => i + 5),
    [128, 256, 512, 1024],
  ),
);

/** Throws a RangeError naming `name` unless `ok`. */
function check(ok: boolean, name: string, value: unknown, what: string): void {
  if (!ok) throw new RangeError(`attnflow: ${name} must be ${what} (got ${String(value)})`);
}

const checkQ = (q: number): void => check(q >= 0 && q <= 1, 'q (sampling rate)', q, 'in [0, 1]');
const checkZ = (z: number): void => check(Number.isFinite(z) && z >= 0, 'z (noise multiplier)', z, 'a finite number ≥ 0');
const checkDelta = (delta: number): void => check(delta > 0 && delta < 1, 'delta', delta, 'in (0, 1)');
const checkOrder = (order: number): void => check(Number.isFinite(order) && order > 1, 'order', order, 'a finite number > 1');
const checkCount = (n: number, name: string): void => check(Number.isSafeInteger(n) && n >= 0, name, n, 'a whole number ≥ 0');

/** log(e^a + e^b), with −Infinity standing for log 0. */
function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  if (hi === Number.NEGATIVE_INFINITY) return hi;
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

/** log(e^a − e^b) for a ≥ b, with −Infinity standing for log 0. */
function logSub(a: number, b: number): number {
  if (a < b) throw new RangeError('attnflow: RDP series lost precision (negative difference)');
  if (b === Number.NEGATIVE_INFINITY) return a;
  if (a === b) return Number.NEGATIVE_INFINITY;
  return a + Math.log(-Math.expm1(b - a));
}

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);

/**
 * log(erfc(x)) for any real x, to about 1e-14 relative: no underflow far in the right tail (erfc(30)
 * is 1e-393) and log 2 in the left. Below 1.5: 1 − erf from erf's everywhere-positive series
 * erf(x) = 2x·e^(−x²)/√π · Σ (2x²)ⁿ/(1·3·…·(2n+1)); from 1.5 on, Laplace's continued fraction
 * erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), by the modified Lentz method.
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return Math.log(2 - Math.exp(logErfc(-x)));
  if (x < 1.5) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; term > sum * 1e-17; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
    }
    return Math.log1p(-((2 * Math.exp(-x2)) / Math.sqrt(Math.PI)) * sum);
  }
  if (x === Number.POSITIVE_INFINITY) return Number.NEGATIVE_INFINITY;
  // f = x + a1/(x + a2/(x + …)) with a_n = n/2; erfc = e^(−x²)/(√π·f).
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? 1 / tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const step = c * d;
    f *= step;
    if (Math.abs(step - 1) < 1e-16) break;
  }
  return -x * x - LOG_SQRT_PI - Math.log(f);
}

/**
 * log A_α for integer α and 0 < q < 1: A_α = Σᵢ C(α,i) qⁱ(1−q)^(α−i) e^((i²−i)/(2z²)). As the binomial
 * weights sum to 1, A_α − 1 is the sum from i = 2 of the weights times e^((i²−i)/(2z²)) − 1, all
 * positive: summed in log space, a tiny RDP (much noise, few sampled) keeps its relative precision.
 */
function logAInt(q: number, z: number, alpha: number): number {
  const lq = Math.log(q);
  const l1q = Math.log1p(-q);
  let logBinom = Math.log(alpha);
  let logRest = Number.NEGATIVE_INFINITY; // log(A_α − 1)
  for (let i = 2; i <= alpha; i++) {
    logBinom += Math.log((alpha - i + 1) / i);
    const x = (i * i - i) / (2 * z * z);
    const logExpm1 = x > 1 ? x + Math.log(-Math.expm1(-x)) : Math.log(Math.expm1(x));
    logRest = logAdd(logRest, logBinom + i * lq + (alpha - i) * l1q + logExpm1);
  }
  return logRest > 0 ? logRest + Math.log1p(Math.exp(-logRest)) : Math.log1p(Math.exp(logRest));
}

/** log A_α for fractional α and 0 < q < 1: the two integrals split at z₀, each as a series with erfc. */
function logAFrac(q: number, z: number, alpha: number): number {
  const lq = Math.log(q);
  const l1q = Math.log1p(-q);
  const z0 = z * z * Math.log(1 / q - 1) + 0.5;
  const s2 = Math.SQRT2 * z;
  let logA0 = Number.NEGATIVE_INFINITY;
  let logA1 = Number.NEGATIVE_INFINITY;
  let logBinom = 0; // log |C(α, i)|
  let positive = true; // sign of C(α, i)
  for (let i = 0; i < 100000; i++) {
    if (i > 0) {
      const f = (alpha - i + 1) / i;
      logBinom += Math.log(Math.abs(f));
      if (f < 0) positive = !positive;
    }
    const j = alpha - i;
    const s0 = logBinom + i * lq + j * l1q + (i * i - i) / (2 * z * z) + Math.log(0.5) + logErfc((i - z0) / s2);
    const s1 = logBinom + j * lq + i * l1q + (j * j - j) / (2 * z * z) + Math.log(0.5) + logErfc((z0 - j) / s2);
    if (positive) {
      logA0 = logAdd(logA0, s0);
      logA1 = logAdd(logA1, s1);
    } else {
      logA0 = logSub(logA0, s0);
      logA1 = logSub(logA1, s1);
    }
    // Stop once the terms are negligible, but not before the bulk of them (i ≤ α) is in.
    if (i > alpha && Math.max(s0, s1) < -30) break;
  }
  return logAdd(logA0, logA1);
}

/**
 * The RDP ε(α) that one round spends at order `order` (α > 1), for sampling rate `q` and noise
 * multiplier `z`: 0 when nobody is sampled, α/(2z²) when everyone is, Infinity without noise.
 */
export function sampledGaussianRdp(q: number, z: number, order: number): number {
  checkQ(q);
  checkZ(z);
  checkOrder(order);
  if (q === 0) return 0;
  if (z === 0) return Number.POSITIVE_INFINITY;
  if (q === 1) return order / (2 * z * z);
  const logA = Number.isInteger(order) ? logAInt(q, z, order) : logAFrac(q, z, order);
  return Math.max(0, logA / (order - 1));
}

/**
 * The (ε, δ) guarantee of an RDP curve (`rdp[k]` at `orders[k]`): the smallest
 * ε = rdp + log(1 − 1/α) − log(δα)/(α − 1) over the orders (0 where δ² > 1 − e^(−rdp)), and the
 * order that gives it (orders up to 1.01 count through that 0 only). Orders where the RDP is infinite are
 * skipped; none left: ε = Infinity, order NaN.
 */
export function rdpToDp(rdp: readonly number[], orders: readonly number[], delta: number): { epsilon: number; order: number } {
  check(rdp.length === orders.length, 'rdp', rdp.length, `as long as orders (${orders.length})`);
  checkDelta(delta);
  let epsilon = Number.POSITIVE_INFINITY;
  let order = Number.NaN;
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k]!;
    const r = rdp[k]!;
    checkOrder(a);
    if (!Number.isFinite(r)) continue;
    check(r >= 0, 'rdp', r, '≥ 0');
    let e: number;
    if (delta * delta + Math.expm1(-r) > 0) e = 0;
    else if (a > 1.01) e = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    else continue;
    if (e < epsilon) (epsilon = e), (order = a);
  }
  return { epsilon: Math.max(0, epsilon), order };
}

/** A running privacy budget: the RDP spent so far over a fixed set of orders, round by round. */
export class PrivacyAccountant {
  readonly orders: readonly number[];
  #rdp: number[];
  #rounds = 0;

  constructor(orders: readonly number[] = RDP_ORDERS) {
    check(orders.length > 0, 'orders', orders.length, 'non-empty');
    for (const a of orders) checkOrder(a);
    this.orders = Object.freeze([...orders]);
    this.#rdp = orders.map(() => 0);
  }

  /** Records `rounds` rounds at sampling rate `q` and noise multiplier `z`; rounds may differ in q and z. */
  addRounds(q: number, z: number, rounds = 1): void {
    checkQ(q);
    checkZ(z);
    checkCount(rounds, 'rounds');
    if (rounds === 0) return;
    this.orders.forEach((a, k) => {
      this.#rdp[k]! += rounds * sampledGaussianRdp(q, z, a);
    });
    this.#rounds += rounds;
  }

  /** The ε spent so far at `delta`. */
  epsilon(delta: number): number {
    return rdpToDp(this.#rdp, this.orders, delta).epsilon;
  }

  /** How many rounds have been recorded. */
  get rounds(): number {
    return this.#rounds;
  }

  /** The state to store between restarts (an infinite RDP becomes null in JSON text; fromJSON reads it back). */
  toJSON(): { rounds: number; rdp: number[]; orders: number[] } {
    return { rounds: this.#rounds, rdp: [...this.#rdp], orders: [...this.orders] };
  }

  /** The accountant stored by toJSON; without `orders` the state is taken to be over RDP_ORDERS. Throws a TypeError if malformed. */
  static fromJSON(j: unknown): PrivacyAccountant {
    const bad = (why: string): TypeError => new TypeError(`attnflow: malformed privacy accountant state: ${why}`);
    if (typeof j !== 'object' || j === null) throw bad('not an object');
    const { rounds, rdp, orders = RDP_ORDERS } = j as { rounds?: unknown; rdp?: unknown; orders?: unknown };
    if (!Number.isSafeInteger(rounds) || (rounds as number) < 0) throw bad('rounds is not a whole number ≥ 0');
    if (!Array.isArray(orders) || orders.length === 0 || !orders.every((a) => typeof a === 'number' && Number.isFinite(a) && a > 1)) {
      throw bad('orders are not finite numbers > 1');
    }
    if (!Array.isArray(rdp) || rdp.length !== orders.length) throw bad(`rdp is not an array of ${orders.length} values`);
    const values = rdp.map((r) => (r === null ? Number.POSITIVE_INFINITY : r));
    if (!values.every((r) => typeof r === 'number' && r >= 0)) throw bad('rdp values are not numbers ≥ 0');
    const acc = new PrivacyAccountant(orders as number[]);
    acc.#rdp = values as number[];
    acc.#rounds = rounds as number;
    return acc;
  }
}

/** RDP spent by one round at each of RDP_ORDERS. */
function perRound(q: number, z: number): number[] {
  return RDP_ORDERS.map((a) => sampledGaussianRdp(q, z, a));
}

/** RDP spent by `rounds` such rounds (none: nothing, even without noise). */
function times(one: readonly number[], rounds: number): number[] {
  return one.map((r) => (rounds === 0 ? 0 : r * rounds));
}

/** The ε at `delta` after `rounds` rounds at sampling rate `q` and noise multiplier `z` (over RDP_ORDERS). */
export function epsilonOf(q: number, z: number, rounds: number, delta: number): number {
  checkCount(rounds, 'rounds');
  return rdpToDp(times(perRound(q, z), rounds), RDP_ORDERS, delta).epsilon;
}

/**
 * The smallest noise multiplier z in [0.05, 200] (to 0.1%, rounded up) that keeps ε at `delta` within
 * `targetEpsilon` after `rounds` rounds at sampling rate `q`. Throws a RangeError if z = 200 does not.
 */
export function noiseMultiplierFor(targetEpsilon: number, q: number, rounds: number, delta: number): number {
  check(targetEpsilon > 0, 'targetEpsilon', targetEpsilon, '> 0');
  checkQ(q);
  checkCount(rounds, 'rounds');
  checkDelta(delta);
  const fits = (z: number): boolean => epsilonOf(q, z, rounds, delta) <= targetEpsilon;
  const MIN = 0.05;
  const MAX = 200;
  if (fits(MIN)) return MIN;
  if (!fits(MAX)) {
    throw new RangeError(
      `attnflow: no noise multiplier up to ${MAX} keeps epsilon within ${targetEpsilon} over ${rounds} rounds at q = ${q}`,
    );
  }
  // Bracket by doubling, then bisect: ε(lo) > target ≥ ε(hi).
  let lo = MIN;
  let hi = Math.min(MAX, 2 * MIN);
  while (!fits(hi)) (lo = hi), (hi = Math.min(MAX, 2 * hi));
  while (hi - lo > 1e-3 * hi) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** How many rounds at sampling rate `q` and noise multiplier `z` fit in `targetEpsilon` at `delta` (at most `maxRounds`; 0 if not one). */
export function roundsWithin(targetEpsilon: number, q: number, z: number, delta: number, maxRounds = 100000): number {
  check(targetEpsilon >= 0, 'targetEpsilon', targetEpsilon, '≥ 0');
  checkDelta(delta);
  checkCount(maxRounds, 'maxRounds');
  const one = perRound(q, z);
  const fits = (t: number): boolean => rdpToDp(times(one, t), RDP_ORDERS, delta).epsilon <= targetEpsilon;
  if (fits(maxRounds)) return maxRounds;
  // fits(lo) and not fits(hi).
  let lo = 0;
  let hi = maxRounds;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}
