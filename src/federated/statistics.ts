/**
 * The statistics round: what devices send when a site's federation starts without a model. A new
 * model's item vectors are random, and federated training from there spends hundreds of rounds
 * finding what plain counts already say. So the first round asks each device for counts from its
 * log instead of a model update: how often it read each item of the round's public list, and how
 * close together it read pairs of them (within `STAT_WINDOW` reads, weighted 1/distance, as the
 * co-occurrence start of `attnflow-train` counts them). The collector's sums give the first
 * training round its item biases (popularity) and item vectors (co-occurrence).
 *
 * A device counts its last `STAT_MAX_READS` reads, so none weighs more than that. Under
 * differential privacy (`scaled`) a device sends which items it read, scaled to an L2 norm of 1, and
 * its pairs, scaled to a norm of at most 1; the collector adds Gaussian noise to every item's sum
 * and to every pair of the list (`StatisticsSum.noise`), read or not, and keeps the pairs whose
 * noisy sum clears a threshold. Both sums together are one Gaussian mechanism of noise multiplier
 * z/√2 on the device's counts.
 *
 * Wire format (little-endian): `ATNS`, u8 version (1), u8 flags (bit 0: scaled), u16 0,
 * u32 round, u32 item count, u32 pair count; per item u32 index and f32 count; per pair u32 a,
 * u32 b (a < b) and f32 weight.
 */
import { isAttended } from '../rules';
import { fillNormal } from '../model/hash';
import { logErfc } from './accountant';
import { UpdateError } from './update';

/** Reads apart that still count as read together. */
export const STAT_WINDOW = 3;
/** A device's last reads that count. */
export const STAT_MAX_READS = 200;

const MAGIC = 0x534e5441; // "ATNS" little-endian
const VERSION = 1;
const FLAG_SCALED = 1;
const HEAD = 20;
/** Weight of all pairs one read can start: 1 + 1/2 + 1/3. */
const PAIR_WEIGHT_PER_READ = [...Array(STAT_WINDOW).keys()].reduce((s, d) => s + 1 / (d + 1), 0);

/** A device's counts: items by index into the round's list, and pairs (a < b) by `a · n + b`. */
export interface Statistics {
  round: number;
  /** The privacy round's form: each read item at 1/√k, pairs scaled to a norm of at most 1. */
  scaled: boolean;
  items: Map<number, number>;
  pairs: Map<number, number>;
}

/** The biggest statistics body there is (the collector's size limit for a statistics round). */
export const STAT_MAX_BYTES = HEAD + 8 * STAT_MAX_READS + 12 * STAT_WINDOW * STAT_MAX_READS;

/**
 * A device's reads in the order of its log, as indexes into the round's list: the events of items
 * on the list the visitor attended (the SDK's rule: a second of attention, or a click). Items only
 * scrolled past or skipped are not reads.
 */
export function readsOf(
  events: readonly { itemId: string; attentionMs?: number; clicks?: number }[],
  items: readonly { itemId: string }[],
): number[] {
  const at = new Map(items.map((item, i) => [item.itemId, i]));
  const reads: number[] = [];
  for (const e of events) {
    const i = at.get(e.itemId);
    if (i !== undefined && isAttended({ attentionMs: e.attentionMs ?? 0, clicks: e.clicks ?? 0 })) reads.push(i);
  }
  return reads;
}

/**
 * Counts of a device's reads, `indexes` in reading order (indexes into the round's list of `n`
 * items); the last `STAT_MAX_READS` count. With `scaled`, the privacy round's form described above.
 */
export function countStatistics(round: number, indexes: ArrayLike<number>, n: number, scaled: boolean): Statistics {
  const reads = Array.from(indexes).slice(-STAT_MAX_READS);
  const items = new Map<number, number>();
  const pairs = new Map<number, number>();
  for (const i of reads) items.set(i, (items.get(i) ?? 0) + 1);
  for (let i = 0; i < reads.length; i++) {
    for (let j = i + 1; j < Math.min(reads.length, i + 1 + STAT_WINDOW); j++) {
      const a = reads[i]!;
      const b = reads[j]!;
      if (a === b) continue;
      const key = a < b ? a * n + b : b * n + a;
      pairs.set(key, (pairs.get(key) ?? 0) + 1 / (j - i));
    }
  }
  if (scaled) {
    const w = 1 / Math.sqrt(Math.max(1, items.size));
    for (const i of items.keys()) items.set(i, w);
    let squares = 0;
    for (const x of pairs.values()) squares += x * x;
    const s = Math.min(1, 1 / Math.sqrt(squares || 1));
    for (const [k, x] of pairs) pairs.set(k, x * s);
  }
  return { round, scaled, items, pairs };
}

export function encodeStatistics(s: Statistics, n: number): Uint8Array {
  const out = new ArrayBuffer(HEAD + 8 * s.items.size + 12 * s.pairs.size);
  const v = new DataView(out);
  v.setUint32(0, MAGIC, true);
  v.setUint8(4, VERSION);
  v.setUint8(5, s.scaled ? FLAG_SCALED : 0);
  v.setUint32(8, s.round, true);
  v.setUint32(12, s.items.size, true);
  v.setUint32(16, s.pairs.size, true);
  let at = HEAD;
  for (const [i, c] of [...s.items].sort((x, y) => x[0] - y[0])) {
    v.setUint32(at, i, true);
    v.setFloat32(at + 4, c, true);
    at += 8;
  }
  for (const [key, w] of [...s.pairs].sort((x, y) => x[0] - y[0])) {
    v.setUint32(at, Math.floor(key / n), true);
    v.setUint32(at + 4, key % n, true);
    v.setFloat32(at + 8, w, true);
    at += 12;
  }
  return new Uint8Array(out);
}

/**
 * A device's statistics as the collector reads them, for a list of `n` items; throws an
 * `UpdateError` ('malformed') for anything a device of the round could not have sent: another
 * format or form than the round's, indexes off the list, pairs out of order or repeated, or counts
 * past a device's bound (in the scaled form: a norm over 1).
 */
export function decodeStatistics(bytes: Uint8Array, n: number, scaled: boolean): Statistics {
  const bad = (why: string): never => {
    throw new UpdateError('malformed', `statistics: ${why}`);
  };
  if (bytes.byteLength < HEAD || bytes.byteLength > STAT_MAX_BYTES) bad(`${bytes.byteLength} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== MAGIC || v.getUint8(4) !== VERSION) bad('not an attnflow statistics body');
  const isScaled = (v.getUint8(5) & FLAG_SCALED) !== 0;
  if (isScaled !== scaled) bad(scaled ? 'this round takes counts scaled to norm 1' : 'this round takes counts');
  const round = v.getUint32(8, true);
  const ni = v.getUint32(12, true);
  const np = v.getUint32(16, true);
  if (bytes.byteLength !== HEAD + 8 * ni + 12 * np) bad('its length does not match its counts');
  const items = new Map<number, number>();
  let at = HEAD;
  let last = -1;
  let total = 0;
  let squares = 0;
  for (let k = 0; k < ni; k++, at += 8) {
    const i = v.getUint32(at, true);
    const c = v.getFloat32(at + 4, true);
    if (i >= n || i <= last) bad('item indexes off the list or out of order');
    if (!(c > 0) || !Number.isFinite(c)) bad('an item count that is not a positive number');
    items.set(i, c);
    last = i;
    total += c;
    squares += c * c;
  }
  if (scaled ? squares > 1.0001 : total > STAT_MAX_READS || items.size > STAT_MAX_READS) bad('counts past one device’s bound');
  const pairs = new Map<number, number>();
  let lastKey = -1;
  let weight = 0;
  let pairSquares = 0;
  for (let k = 0; k < np; k++, at += 12) {
    const a = v.getUint32(at, true);
    const b = v.getUint32(at + 4, true);
    const w = v.getFloat32(at + 8, true);
    const key = a * n + b;
    if (a >= b || b >= n || key <= lastKey) bad('pairs off the list, unordered or repeated');
    if (!(w > 0) || !Number.isFinite(w)) bad('a pair weight that is not a positive number');
    pairs.set(key, w);
    lastKey = key;
    weight += w;
    pairSquares += w * w;
  }
  if (scaled ? pairSquares > 1.0001 : weight > STAT_MAX_READS * PAIR_WEIGHT_PER_READ * 1.0001) bad('pair weights past one device’s bound');
  return { round, scaled, items, pairs };
}

/** Item biases from read counts: log(count + 1), centred (negative counts, from noise, as 0). */
export function logCountPrior(counts: ArrayLike<number>): Float32Array {
  const out = new Float32Array(counts.length);
  let mean = 0;
  for (let i = 0; i < out.length; i++) mean += out[i] = Math.log1p(Math.max(0, counts[i]!));
  mean /= Math.max(1, out.length);
  for (let i = 0; i < out.length; i++) out[i]! -= mean;
  return out;
}

/** The sums of many devices' statistics. */
export class StatisticsSum {
  readonly items: Float64Array;
  readonly pairs = new Map<number, number>();
  count = 0;

  constructor(readonly n: number) {
    this.items = new Float64Array(n);
  }

  add(s: Statistics): void {
    for (const [i, c] of s.items) this.items[i]! += c;
    for (const [k, w] of s.pairs) this.pairs.set(k, (this.pairs.get(k) ?? 0) + w);
    this.count++;
  }

  /**
   * The privacy round's noise: N(0, std²) on every item's sum and on every pair of the list (n·(n−1)/2
   * of them, read or not); a pair is kept when its noisy sum clears `pairThreshold(n)`·std, the
   * others are dropped. Pairs nobody read are kept as often as noise alone clears the threshold,
   * with values drawn from that tail, which is the same outcome as noising each of them, at a cost
   * of the pairs kept rather than of all pairs. Returns the pairs kept that nobody read.
   */
  noise(std: number, rand: () => number): number {
    if (!(std > 0)) return 0;
    const itemNoise = fillNormal(new Float32Array(this.n), rand, std);
    for (let i = 0; i < this.n; i++) this.items[i]! += itemNoise[i]!;
    const n = this.n;
    const t = pairThreshold(n);
    const cells = (n * (n - 1)) / 2;
    const log1mp = Math.log1p(-normalTail(t));
    // Cells before row a of the upper triangle, a < b, in order.
    const before = (a: number): number => a * n - (a * (a + 1)) / 2;
    const unread: [number, number][] = [];
    for (let at = -1; ; ) {
      // The next cell whose noise alone clears the threshold (geometric gaps).
      at += 1 + Math.floor(Math.log(1 - rand()) / log1mp);
      if (!(at < cells)) break;
      let lo = 0;
      let hi = n - 2;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (before(mid) <= at) lo = mid;
        else hi = mid - 1;
      }
      const key = lo * n + lo + 1 + (at - before(lo));
      if (!this.pairs.has(key)) unread.push([key, std * tailBeyond(t, rand)]);
    }
    const pairNoise = fillNormal(new Float32Array(this.pairs.size), rand, std);
    let k = 0;
    for (const [key, w] of this.pairs) {
      const v = w + pairNoise[k++]!;
      if (v > t * std) this.pairs.set(key, v);
      else this.pairs.delete(key);
    }
    for (const [key, v] of unread) this.pairs.set(key, v);
    return unread.length;
  }

  /** The pairs as symmetric lists (both directions), for the co-occurrence start. */
  pairLists(): { a: Int32Array; b: Int32Array; w: Float32Array } {
    const m = this.pairs.size;
    const a = new Int32Array(2 * m);
    const b = new Int32Array(2 * m);
    const w = new Float32Array(2 * m);
    let k = 0;
    for (const [key, weight] of this.pairs) {
      const x = Math.floor(key / this.n);
      const y = key % this.n;
      a[k] = x;
      b[k] = y;
      w[k++] = weight;
      a[k] = y;
      b[k] = x;
      w[k++] = weight;
    }
    return { a, b, w };
  }
}

/**
 * The noisy pair sum, in deviations, a pair must clear to be kept: noise alone clears it on about
 * n/10 of a list of n items' n·(n−1)/2 pairs (and at least 2 deviations).
 */
export function pairThreshold(n: number): number {
  const p = Math.min(0.5, 1 / (5 * Math.max(1, n - 1)));
  // normalTail falls with t: bisect.
  let lo = 0;
  let hi = 40;
  for (let k = 0; k < 60; k++) {
    const mid = (lo + hi) / 2;
    if (normalTail(mid) > p) lo = mid;
    else hi = mid;
  }
  return Math.max(2, hi);
}

/** P(Z > t) for a standard normal Z. */
export function normalTail(t: number): number {
  return Math.exp(logErfc(t / Math.SQRT2)) / 2;
}

/** A standard normal draw beyond t > 0 (Marsaglia's tail method). */
function tailBeyond(t: number, rand: () => number): number {
  for (;;) {
    const x = Math.sqrt(t * t - 2 * Math.log(1 - rand()));
    if (rand() * x < t) return x;
  }
}
