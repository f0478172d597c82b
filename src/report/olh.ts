/**
 * Optimal Local Hashing (Wang et al., USENIX Security 2017): the randomizer a device applies to the
 * one value it reports, and the server's unbiased count of a value from the reports. The hash is
 * MurmurHash3 x86 32-bit over UTF-8 bytes, so the page and the collector agree bit for bit.
 * See the report format v1 contract (mechanism and estimator).
 */

import { finish, mixK, step } from '../lib/murmur';

const encoder = new TextEncoder();

/** The seed-free half of MurmurHash3: each 4-byte block (and the tail) of `bytes` mixed on its own. */
function mixBlocks(bytes: Uint8Array): Int32Array {
  const len = bytes.length;
  const out = new Int32Array((len + 3) >>> 2);
  for (let i = 0, j = 0; i < len; i += 4, j++) {
    out[j] = mixK(bytes[i]! | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24));
  }
  return out;
}

/** The seeded half of MurmurHash3 over the mixed blocks of `len` bytes: the unsigned 32-bit hash. */
function fold(mixed: Int32Array, len: number, seed: number): number {
  const full = len >>> 2;
  let h = seed | 0;
  for (let j = 0; j < full; j++) h = step(h, mixed[j]!);
  if (len & 3) h ^= mixed[full]!;
  return finish(h, len);
}

/** MurmurHash3 x86 32-bit of `bytes` with `seed`, as an unsigned 32-bit integer. */
export function murmur3(bytes: Uint8Array, seed: number): number {
  return fold(mixBlocks(bytes), bytes.length, seed);
}

/**
 * MurmurHash3 x86 32-bit of the UTF-8 bytes of `value`, as a function of the seed: the seed-free work
 * is done once, for counting one value's supports over many reports.
 */
export function murmur3Of(value: string): (seed: number) => number {
  const bytes = encoder.encode(value);
  const mixed = mixBlocks(bytes);
  const len = bytes.length;
  return (seed) => fold(mixed, len, seed);
}

/** The hash range for a report at `epsilon`: g = max(2, round(e^ε + 1)), the variance-optimal choice. */
export function olhDomain(epsilon: number): number {
  return Math.max(2, Math.round(Math.exp(epsilon) + 1));
}

/** The hash of `value` (UTF-8) under `seed`, in [0, g). */
export function olhHash(seed: number, value: string, g: number): number {
  return murmur3(encoder.encode(value), seed >>> 0) % g;
}

/** Probability that a report keeps the true hash: p = e^ε / (e^ε + g − 1). */
export function olhKeep(epsilon: number, g: number = olhDomain(epsilon)): number {
  const e = Math.exp(epsilon);
  return e / (e + g - 1);
}

/**
 * Randomizes one value at `epsilon`: a fresh uint32 seed `s`, the value's hash h in [0, g), and `y` = h
 * with probability p, otherwise uniform among the other g − 1. `rand` ([0, 1)) is the only randomness.
 */
export function olhPerturb(value: string, epsilon: number, rand: () => number): { g: number; s: number; y: number } {
  const g = olhDomain(epsilon);
  const s = Math.floor(rand() * 4294967296) >>> 0;
  const h = olhHash(s, value, g);
  if (rand() < olhKeep(epsilon, g)) return { g, s, y: h };
  const r = Math.min(g - 2, Math.floor(rand() * (g - 1)));
  return { g, s, y: r >= h ? r + 1 : r };
}

/** Whether a report supports `value`: the value hashes, under the report's seed, to the reported `y`. */
export function olhSupports(report: { s: number; y: number; g: number }, value: string): boolean {
  return olhHash(report.s, value, report.g) === report.y;
}

/**
 * Unbiased estimate of how many devices' bounded sets hold a value, from C supports among n reports at (ε, m).
 * count = m·(C − n·q)/(p − q) with q = 1/g. Its variance is that of the support count given which slot each
 * device drew, m²·(n·q(1−q) + n_v·(p(1−p) − q(1−q)))/(p−q)² with n_v = count/m the reports whose slot holds
 * the value, plus the spread of the slot draw itself, count·(m − 1); the count is estimated, clipped to [0, n].
 */
export function olhEstimate(supports: number, n: number, epsilon: number, m: number): { estimate: number; variance: number } {
  if (n <= 0) return { estimate: 0, variance: 0 };
  const g = olhDomain(epsilon);
  const p = olhKeep(epsilon, g);
  const q = 1 / g;
  const estimate = (m * (supports - n * q)) / (p - q);
  const holders = Math.min(n, Math.max(0, estimate));
  const variance = ((m * m) / ((p - q) * (p - q))) * (n * q * (1 - q) + (holders / m) * (p * (1 - p) - q * (1 - q))) + holders * (m - 1);
  return { estimate, variance };
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
