/**
 * Randomized response over k answers (k-RR, Warner 1965; Kairouz et al. 2016): the randomizer a
 * device applies to its one answer, and the collector's unbiased share of each answer among all
 * devices from the answers of those asked. With k = 2 it is the classic yes/no randomized response.
 * See the report format v2 contract (mechanism and estimator).
 */

/** Probability that a report keeps the true answer: p = e^ε / (e^ε + k − 1); each other answer has q = 1 / (e^ε + k − 1). */
export function rrKeep(epsilon: number, k: number): number {
  const e = Math.exp(epsilon);
  return e / (e + k - 1);
}

/**
 * Randomizes `answer` (an integer in [0, k)) at `epsilon`: kept with probability p, otherwise one of
 * the other k − 1 answers, uniformly. `rand` ([0, 1)) is the only randomness.
 */
export function rrPerturb(answer: number, k: number, epsilon: number, rand: () => number): number {
  if (rand() < rrKeep(epsilon, k)) return answer;
  const r = Math.min(k - 2, Math.floor(rand() * (k - 1)));
  return r >= answer ? r + 1 : r;
}

/** An unbiased estimate and its variance. */
export interface Estimate {
  estimate: number;
  variance: number;
}

/** The standard normal's 97.5% quantile. */
const Z = 1.959963984540054;

/**
 * The unbiased share of each answer in the population, from `counts[y]` reports with answer y among
 * the n = Σ counts devices that were asked (a uniform sample of the population), all at `epsilon`:
 * f̂ = (c/n − q)/(p − q). Its variance is P(1 − P)/(n·(p − q)²), which counts both the noise and which
 * devices were asked; P, the chance of answer y, is taken as (c + z²/2)/(n + z²) (z = 1.96, as
 * Agresti and Coull do for a binomial) within [q, p], where the true one lies: with a handful of
 * answers a share of 0 or 1 does not make the interval collapse. No reports: shares 0 with infinite
 * variance.
 */
export function rrShares(counts: readonly number[], epsilon: number): Estimate[] {
  const k = counts.length;
  const n = counts.reduce((s, c) => s + c, 0);
  if (n <= 0) return counts.map(() => ({ estimate: 0, variance: Number.POSITIVE_INFINITY }));
  const p = rrKeep(epsilon, k);
  const q = (1 - p) / (k - 1);
  return counts.map((c) => {
    const P = Math.min(p, Math.max(q, (c + (Z * Z) / 2) / (n + Z * Z)));
    return { estimate: (c / n - q) / (p - q), variance: (P * (1 - P)) / (n * (p - q) * (p - q)) };
  });
}

/** How much a report at `epsilon` of a k-answer question tells: (p − q)², the weight its group gets when groups are pooled. */
export function rrInformation(epsilon: number, k: number): number {
  const p = rrKeep(epsilon, k);
  const q = (1 - p) / (k - 1);
  return (p - q) * (p - q);
}

/**
 * A uniform number in [0, 1) from the platform's cryptographic generator (53 random bits); pass it as
 * `rand` in production. Throws where the platform has none: a predictable generator would void the privacy.
 */
export function cryptoRandom(): number {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c?.getRandomValues) throw new Error('attnflow: private reports need crypto.getRandomValues');
  const w = c.getRandomValues(new Uint32Array(2));
  return (w[0]! * 2097152 + (w[1]! >>> 11)) / 9007199254740992;
}
