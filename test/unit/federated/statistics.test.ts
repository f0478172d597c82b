/**
 * The statistics round: a device's counts of what it read, their wire format and its checks, the
 * collector's sums, and the first training round's start made from them (biases from counts, item
 * vectors from pairs read together, identical to `attnflow-train`'s co-occurrence start).
 */
import { describe, expect, it } from 'vitest';
import { startFromStatistics } from '../../../src/collect/rounds';
import {
  countStatistics,
  decodeStatistics,
  encodeStatistics,
  logCountPrior,
  normalTail,
  pairThreshold,
  readsOf,
  STAT_MAX_BYTES,
  STAT_MAX_READS,
  StatisticsSum,
} from '../../../src/federated/statistics';
import { UpdateError } from '../../../src/federated/update';
import { resolveConfig } from '../../../src/model/config';
import { ItemCoder } from '../../../src/model/encode';
import { mulberry32 } from '../../../src/model/hash';
import { spectralFromPairLists, spectralItemVectors } from '../../../src/offline/spectral';

const N = 10;

describe('a device’s counts', () => {
  it('reads are the attended events (a second, or a click) of items on the round’s list, in order', () => {
    const items = ['a', 'b', 'c'].map((itemId) => ({ itemId }));
    const events = [
      { itemId: 'c', attentionMs: 4000 },
      { itemId: 'a', attentionMs: 300 }, // scrolled past
      { itemId: 'x', attentionMs: 9000 }, // not on the list
      { itemId: 'b', attentionMs: 200, clicks: 1 },
      { itemId: 'a', attentionMs: 1000 },
      { itemId: 'c' },
    ];
    expect(readsOf(events, items)).toEqual([2, 1, 0]);
  });

  it('counts reads per item and pairs within three reads, weighted 1/distance, once per unordered pair', () => {
    const s = countStatistics(3, [0, 1, 2, 1, 7], N, false);
    expect(s.round).toBe(3);
    expect([...s.items].sort((a, b) => a[0] - b[0])).toEqual([
      [0, 1],
      [1, 2],
      [2, 1],
      [7, 1],
    ]);
    const pair = (a: number, b: number) => s.pairs.get(a * N + b) ?? 0;
    expect(pair(0, 1)).toBeCloseTo(1 + 1 / 3); // 0→1 at distance 1, 0→1 (4th read) at 3
    expect(pair(0, 2)).toBeCloseTo(1 / 2);
    expect(pair(1, 2)).toBeCloseTo(2); // 1→2 and 2→1, both adjacent
    expect(pair(1, 7)).toBeCloseTo(1 + 1 / 3); // 1(4th)→7 adjacent, 1(2nd)→7 at 3
    expect(pair(2, 7)).toBeCloseTo(1 / 2);
    expect(pair(0, 7)).toBe(0); // four reads apart
    expect(s.pairs.size).toBe(5);
  });

  it('counts only the last reads, so no device weighs more than another', () => {
    const reads = Array.from({ length: STAT_MAX_READS + 50 }, (_, i) => (i < 50 ? 9 : i % 3));
    const s = countStatistics(1, reads, N, false);
    expect(s.items.has(9)).toBe(false);
    expect([...s.items.values()].reduce((a, b) => a + b)).toBe(STAT_MAX_READS);
    expect(encodeStatistics(s, N).byteLength).toBeLessThanOrEqual(STAT_MAX_BYTES);
  });

  it('under noise sends which items were read, scaled to norm 1, and its pairs, scaled to norm 1', () => {
    const reads = [4, 4, 4, 5, 6, 7];
    const s = countStatistics(1, reads, N, true);
    expect([...s.items.keys()].sort()).toEqual([4, 5, 6, 7]);
    for (const c of s.items.values()) expect(c).toBeCloseTo(0.5);
    const counts = countStatistics(1, reads, N, false);
    expect([...s.pairs.keys()]).toEqual([...counts.pairs.keys()]);
    const norm = Math.sqrt([...s.pairs.values()].reduce((a, w) => a + w * w, 0));
    expect(norm).toBeCloseTo(1, 6);
    // The same pairs in the same proportions: (4, 5) read next to each other and two and three apart.
    const scale = s.pairs.get(4 * N + 5)! / counts.pairs.get(4 * N + 5)!;
    expect(counts.pairs.get(4 * N + 5)).toBeCloseTo(1 + 1 / 2 + 1 / 3);
    for (const [k, w] of counts.pairs) expect(s.pairs.get(k)).toBeCloseTo(w * scale, 6);
  });
});

describe('the wire format', () => {
  const s = countStatistics(12, [0, 3, 3, 5, 9, 0], N, false);

  it('round-trips, and sizes stay small', () => {
    const bytes = encodeStatistics(s, N);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('ATNS');
    const back = decodeStatistics(bytes, N, false);
    expect(back.round).toBe(12);
    expect(back.items).toEqual(s.items);
    expect([...back.pairs.keys()]).toEqual([...s.pairs.keys()].sort((a, b) => a - b));
    for (const [k, w] of s.pairs) expect(back.pairs.get(k)).toBeCloseTo(w, 6);
    expect(bytes.byteLength).toBe(20 + 8 * s.items.size + 12 * s.pairs.size);
  });

  const malformed = (bytes: Uint8Array, n = N, presence = false, why: RegExp) => {
    let error: unknown;
    try {
      decodeStatistics(bytes, n, presence);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UpdateError);
    expect((error as UpdateError).kind).toBe('malformed');
    expect((error as Error).message).toMatch(why);
  };

  it('refuses what no device of the round could send', () => {
    const good = encodeStatistics(s, N);
    const copy = () => new Uint8Array(good);
    const view = (b: Uint8Array) => new DataView(b.buffer);
    // Another format (a model update's magic).
    const other = copy();
    other.set(new TextEncoder().encode('ATNU'), 0);
    malformed(other, N, false, /not an attnflow statistics body/);
    // An item off the list: the same body read against a shorter list.
    malformed(good, 6, false, /off the list/);
    // Counts in a round that takes them scaled, and the other way round.
    malformed(good, N, true, /takes counts scaled to norm 1/);
    malformed(encodeStatistics(countStatistics(1, [1, 2], N, true), N), N, false, /takes counts/);
    // More reads than a device counts.
    const big = countStatistics(1, [1, 2], N, false);
    big.items.set(1, STAT_MAX_READS);
    malformed(encodeStatistics(big, N), N, false, /past one device/);
    // A presence vector longer than norm 1.
    const loud = countStatistics(1, [1, 2], N, true);
    loud.items.set(1, 1);
    malformed(encodeStatistics(loud, N), N, true, /past one device/);
    // Scaled pairs longer than norm 1; scaled ones within it pass.
    const scaled = countStatistics(1, [1, 2, 3, 1], N, true);
    expect(decodeStatistics(encodeStatistics(scaled, N), N, true).pairs.size).toBe(3);
    scaled.pairs.set(1 * N + 2, 0.9);
    scaled.pairs.set(2 * N + 3, 0.9);
    malformed(encodeStatistics(scaled, N), N, true, /pair weights past one device/);
    // A pair written b, a.
    const swapped = copy();
    const at = 20 + 8 * s.items.size;
    const a = view(swapped).getUint32(at, true);
    view(swapped).setUint32(at, view(swapped).getUint32(at + 4, true), true);
    view(swapped).setUint32(at + 4, a, true);
    malformed(swapped, N, false, /unordered or repeated/);
    // A negative count, a truncated body.
    const negative = copy();
    view(negative).setFloat32(24, -1, true);
    malformed(negative, N, false, /positive number/);
    malformed(good.subarray(0, good.byteLength - 4), N, false, /length/);
  });
});

describe('the collector’s sums and the start they give', () => {
  const rand = mulberry32(7);
  /** Devices of two tastes over 40 items: evens read with evens, odds with odds; item 0 by everyone. */
  const devices = Array.from({ length: 300 }, (_, d) =>
    Int32Array.from({ length: 12 }, (_, i) => (i === 0 ? 0 : 2 * Math.floor(rand() * 20) + (d % 2))),
  );

  /** Items of one taste start closer to each other than to the other taste's (mean cosine, by 0.5). */
  const expectTastesApart = (vec: (i: number) => Float32Array) => {
    const cos = (a: Float32Array, b: Float32Array) => {
      let ab = 0;
      let aa = 0;
      let bb = 0;
      for (let j = 0; j < a.length; j++) {
        ab += a[j]! * b[j]!;
        aa += a[j]! ** 2;
        bb += b[j]! ** 2;
      }
      return ab / Math.sqrt(aa * bb);
    };
    let same = 0;
    let other = 0;
    for (let i = 2; i < 40; i += 2) {
      same += cos(vec(i), vec(i === 38 ? 2 : i + 2));
      other += cos(vec(i), vec(i + 1));
    }
    expect(same / 19).toBeGreaterThan(other / 19 + 0.5);
  };

  it('sums of devices’ pairs give the co-occurrence vectors attnflow-train computes from all sequences', () => {
    const sum = new StatisticsSum(40);
    for (const keys of devices) sum.add(countStatistics(1, keys, 40, false));
    expect(sum.count).toBe(300);
    const fromDevices = spectralFromPairLists(sum.pairLists(), 40, 8, { seed: 3 });
    const central = spectralItemVectors(
      devices.map((keys) => ({ keys })),
      40,
      8,
      { seed: 3 },
    );
    let worst = 0;
    for (let i = 0; i < central.length; i++) worst = Math.max(worst, Math.abs(fromDevices[i]! - central[i]!));
    expect(worst).toBeLessThan(1e-4);
  });

  it('the first training round: biases rank items by reads, and items read together start close', () => {
    const config = resolveConfig({ dim: 8, ffnDim: 8, idBuckets: 1024, seed: 1 });
    const items = Array.from({ length: 40 }, (_, i) => ({ itemId: `item-${i}`, topics: [] }));
    const sum = new StatisticsSum(40);
    for (const keys of devices) sum.add(countStatistics(1, keys, 40, false));
    const weights = new Map([
      ['item/bias', new Float32Array(1024)],
      ['item/id', Float32Array.from({ length: 1024 * 8 }, () => rand() - 0.5)],
    ]);
    startFromStatistics(config, weights, sum, items, 0, rand);
    const coder = new ItemCoder(config);
    const code = (i: number) => coder.code(items[i]!.itemId).ids;
    const bias = (i: number) => [...code(i)].reduce((s, r) => s + weights.get('item/bias')![r]!, 0);
    const vec = (i: number) => {
      const v = new Float32Array(8);
      for (const r of code(i)) for (let j = 0; j < 8; j++) v[j]! += weights.get('item/id')![r * 8 + j]!;
      return v;
    };
    const prior = logCountPrior(sum.items);
    // Item 0, read by every device, has the largest bias; biases follow the counts (up to shared buckets).
    for (let i = 1; i < 40; i++) expect(bias(0)).toBeGreaterThan(bias(i));
    expect(bias(2)).toBeCloseTo(prior[2]!, 1);
    expectTastesApart(vec);
  });

  it('under noise: biases from the noisy counts, and vectors from the pairs whose noisy sums clear the threshold', () => {
    const config = resolveConfig({ dim: 8, ffnDim: 8, idBuckets: 1024, seed: 1 });
    const items = Array.from({ length: 40 }, (_, i) => ({ itemId: `item-${i}`, topics: [] }));
    const exact = new StatisticsSum(40);
    const noisy = new StatisticsSum(40);
    for (const keys of devices) {
      exact.add(countStatistics(1, keys, 40, true));
      noisy.add(countStatistics(1, keys, 40, true));
    }
    const table = Float32Array.from({ length: 1024 * 8 }, () => rand() - 0.5);
    const weights = new Map([
      ['item/bias', new Float32Array(1024)],
      ['item/id', table.slice()],
    ]);
    startFromStatistics(config, weights, noisy, items, 0.5, mulberry32(5));
    const diffs = [...noisy.items].map((x, i) => x - exact.items[i]!);
    const std = Math.sqrt(diffs.reduce((s, d) => s + d * d, 0) / diffs.length);
    expect(std).toBeGreaterThan(0.35);
    expect(std).toBeLessThan(0.7);
    // Each taste's pairs clear the threshold; hardly any pair across tastes does (noise alone).
    const across = [...noisy.pairs.keys()].filter((k) => Math.floor(k / 40) % 2 !== (k % 40) % 2 && Math.floor(k / 40) !== 0);
    expect(noisy.pairs.size).toBeGreaterThan(300);
    expect(across.length).toBeLessThan(15);
    const coder = new ItemCoder(config);
    const vec = (i: number) => {
      const v = new Float32Array(8);
      for (const r of coder.code(items[i]!.itemId).ids) for (let j = 0; j < 8; j++) v[j]! += weights.get('item/id')![r * 8 + j]!;
      return v;
    };
    expectTastesApart(vec);
  });
});

describe('the privacy round’s noise', () => {
  it('keeps each unread pair as often as its own Gaussian noise would clear the threshold, at the tail’s values', () => {
    const n = 30;
    const t = pairThreshold(n);
    // Noise alone clears it on about n/10 of the n·(n−1)/2 pairs.
    expect(normalTail(t) * ((n * (n - 1)) / 2)).toBeCloseTo(n / 10, 6);
    const rand = mulberry32(21);
    const trials = 3000;
    const hits = new Float64Array(n * n);
    let kept = 0;
    let values = 0;
    let rows = 0;
    for (let k = 0; k < trials; k++) {
      const sum = new StatisticsSum(n);
      expect(sum.noise(1, rand)).toBe(sum.pairs.size);
      for (const [key, v] of sum.pairs) {
        const a = Math.floor(key / n);
        const b = key % n;
        expect(a).toBeLessThan(b);
        expect(v).toBeGreaterThan(t);
        hits[key]!++;
        kept++;
        values += v;
        rows += a;
      }
    }
    const cells = (n * (n - 1)) / 2;
    const p = normalTail(t);
    // As often as per-pair noise: kept / (trials · cells) ≈ P(Z > t), within 4 standard errors.
    expect(Math.abs(kept / (trials * cells) - p)).toBeLessThan(4 * Math.sqrt(p / (trials * cells)));
    // At the tail's mean, E[Z | Z > t] = φ(t) / P(Z > t).
    const tailMean = Math.exp(-(t * t) / 2) / Math.sqrt(2 * Math.PI) / p;
    expect(values / kept).toBeCloseTo(tailMean, 1);
    // Spread evenly over the pairs: the mean row of a pair of the upper triangle is (n − 2)/3.
    expect(rows / kept).toBeGreaterThan((n - 2) / 3 - 0.6);
    expect(rows / kept).toBeLessThan((n - 2) / 3 + 0.6);
    expect(hits[0 * n + 1]).toBeGreaterThan(0);
    expect(hits[(n - 2) * n + n - 1]).toBeGreaterThan(0);
  });

  it('noises every item and every read pair: a pair many read stays, a pair one device read seldom does', () => {
    const n = 200;
    const rand = mulberry32(4);
    let faint = 0;
    let unread = 0;
    const itemNoise: number[] = [];
    const loud: number[] = [];
    for (let k = 0; k < 200; k++) {
      const sum = new StatisticsSum(n);
      sum.pairs.set(0 * n + 1, 40);
      sum.pairs.set(2 * n + 3, 0.3);
      unread += sum.noise(1, rand);
      expect(sum.pairs.get(1)).toBeGreaterThan(40 - 5);
      expect(sum.pairs.get(1)).toBeLessThan(40 + 5);
      loud.push(sum.pairs.get(1)! - 40);
      if (sum.pairs.has(2 * n + 3)) faint++;
      for (const x of sum.items) itemNoise.push(x);
    }
    expect(faint / 200).toBeLessThan(0.02);
    expect(unread / 200).toBeGreaterThan(n / 10 - 3);
    expect(unread / 200).toBeLessThan(n / 10 + 3);
    const rms = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0) / xs.length);
    expect(rms(itemNoise)).toBeCloseTo(1, 1);
    expect(rms(loud)).toBeGreaterThan(0.8);
    expect(rms(loud)).toBeLessThan(1.2);
    // Without noise, nothing changes.
    const quiet = new StatisticsSum(n);
    quiet.pairs.set(2 * n + 3, 0.3);
    expect(quiet.noise(0, rand)).toBe(0);
    expect([...quiet.pairs]).toEqual([[2 * n + 3, 0.3]]);
    expect(quiet.items.every((x) => x === 0)).toBe(true);
  });
});
