/**
 * k-ary randomized response: the device's randomizer keeps the true answer with probability
 * p = e^ε/(e^ε + k − 1) and otherwise gives one of the other answers uniformly, from `rand` alone; its
 * worst-case likelihood ratio is exactly e^ε; the collector's shares are unbiased, with the variance
 * they report, for yes/no and five-answer questions; the platform generator gives 53-bit uniforms.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { interval } from '../../../src/report/estimate';
import { cryptoRandom, rrInformation, rrKeep, rrPerturb, rrShares } from '../../../src/report/rr';
import { mulberry32 } from '../../../src/model/hash';
import { chi2, chi2Quantile999, counting, draw, scripted } from './fixtures';

const EPSILONS = [0.05, 0.5, 1, Math.LN2, 2, 4, 7.5, 10];
/** The standard normal's 97.5% quantile, written out: the z of the Agresti–Coull share and of the 95% intervals. */
const Z = 1.959963984540054;

describe('rrKeep', () => {
  it('is e^ε/(e^ε + k − 1), so that keeping over any one other answer is exactly e^ε', () => {
    expect(rrKeep(Math.log(3), 2)).toBeCloseTo(0.75, 15);
    expect(rrKeep(Math.log(4), 5)).toBeCloseTo(0.5, 15);
    expect(rrKeep(1e-12, 2)).toBeCloseTo(0.5, 10);
    expect(rrKeep(1e-12, 5)).toBeCloseTo(0.2, 10);
    for (const k of [2, 5]) {
      for (const epsilon of EPSILONS) {
        const p = rrKeep(epsilon, k);
        const q = (1 - p) / (k - 1);
        expect(p).toBeCloseTo(Math.exp(epsilon) / (Math.exp(epsilon) + k - 1), 14);
        // The privacy loss of one report: P(y | a) / P(y | a') is p/q, 1 or q/p, and p/q = e^ε.
        expect(Math.log(p / q)).toBeCloseTo(epsilon, 10);
        expect(p).toBeGreaterThan(1 / k);
        expect(p).toBeLessThan(1);
      }
    }
  });
});

describe('rrPerturb', () => {
  it('keeps the answer when the first draw is below p, with that one draw, for every k, ε and answer', () => {
    for (const k of [2, 5]) {
      for (const epsilon of EPSILONS) {
        const p = rrKeep(epsilon, k);
        for (let a = 0; a < k; a++) {
          for (const u of [0, p / 2, p * (1 - 1e-12)]) {
            const rand = scripted([u]);
            expect(rrPerturb(a, k, epsilon, rand)).toBe(a);
            expect(rand.used()).toBe(1);
          }
          // From p on, the answer changes, with a second draw.
          const rand = scripted([p, 0.5]);
          expect(rrPerturb(a, k, epsilon, rand)).not.toBe(a);
          expect(rand.used()).toBe(2);
        }
      }
    }
  });

  it('picks the other answer from the second draw: the k − 1 others in order, equally wide', () => {
    expect(rrPerturb(0, 2, 1, scripted([0.99, 0]))).toBe(1);
    expect(rrPerturb(1, 2, 1, scripted([0.99, 0.999]))).toBe(0);
    for (let a = 0; a < 5; a++) {
      const others = [0, 1, 2, 3, 4].filter((y) => y !== a);
      others.forEach((y, r) => {
        for (const u of [r / 4, (r + 0.5) / 4, (r + 1) / 4 - 1e-12]) expect(rrPerturb(a, 5, 1, scripted([0.999, u]))).toBe(y);
      });
      // A draw of 1 (outside [0, 1), as a bad generator might give) still lands on an answer.
      expect(rrPerturb(a, 5, 1, scripted([0.999, 1]))).toBe(others[3]);
    }
  });

  it('uses no randomness but rand, and the same rand gives the same answers', () => {
    const random = vi.spyOn(Math, 'random');
    const getRandomValues = vi.spyOn(globalThis.crypto, 'getRandomValues');
    const a = mulberry32(5);
    const b = mulberry32(5);
    const rand = counting(a);
    const out: number[] = [];
    for (let i = 0; i < 1000; i++) out.push(rrPerturb(i % 5, 5, 1, rand));
    expect(out).toEqual(Array.from({ length: 1000 }, (_, i) => rrPerturb(i % 5, 5, 1, b)));
    // One draw when kept, two when changed: between 1000 and 2000 in all, about 1000·(2 − p).
    expect(rand.count()).toBeGreaterThan(1000);
    expect(rand.count()).toBeLessThan(2000);
    expect(random).not.toHaveBeenCalled();
    expect(getRandomValues).not.toHaveBeenCalled();
    vi.restoreAllMocks();
  });

  it('gives the true answer with probability p and each other answer with (1 − p)/(k − 1), for k = 2 and 5 at several ε', () => {
    const rand = mulberry32(2026);
    const TRIALS = 40_000;
    const report: Record<string, number> = {};
    for (const k of [2, 5]) {
      for (const epsilon of [0.1, 1, 2, 4, 8]) {
        const p = rrKeep(epsilon, k);
        const q = (1 - p) / (k - 1);
        for (const a of k === 2 ? [0, 1] : [0, 2, 4]) {
          const counts = new Array<number>(k).fill(0);
          for (let i = 0; i < TRIALS; i++) counts[rrPerturb(a, k, epsilon, rand)]!++;
          const expected = counts.map((_, y) => (y === a ? p : q));
          // Each count within 4.5 binomial standard deviations (plus one, for the rarest answers)…
          counts.forEach((c, y) => {
            const e = expected[y]!;
            expect(Math.abs(c - TRIALS * e), `k ${k} ε ${epsilon} a ${a} y ${y}`).toBeLessThan(4.5 * Math.sqrt(TRIALS * e * (1 - e)) + 1);
          });
          // … and all together under the χ²'s 99.9% quantile.
          const x = chi2(counts, expected);
          report[`k${k} ε${epsilon} a${a}`] = x;
          expect(x, `k ${k} ε ${epsilon} a ${a}`).toBeLessThan(chi2Quantile999(k - 1));
        }
      }
    }
    if (process.env.ATTNFLOW_REPORT_SIM) console.log(JSON.stringify(report));
  });
});

describe('rrShares', () => {
  it('is (c/n − q)/(p − q) with variance P(1 − P)/(n(p − q)²), P = (c + z²/2)/(n + z²) (Agresti–Coull)', () => {
    const p = rrKeep(1, 2);
    const q = 1 - p;
    const [no, yes] = rrShares([30, 70], 1);
    expect(yes!.estimate).toBeCloseTo((0.7 - q) / (p - q), 14);
    expect(no!.estimate).toBeCloseTo((0.3 - q) / (p - q), 14);
    const P = (70 + (Z * Z) / 2) / (100 + Z * Z);
    expect(P).toBeLessThan(p);
    expect(yes!.variance).toBeCloseTo((P * (1 - P)) / (100 * (p - q) ** 2), 14);
    // Not the observed share's: (c + z²/2)/(n + z²) is pulled toward ½, and so is the variance up.
    expect(yes!.variance).toBeGreaterThan(((0.7 * 0.3) / (100 * (p - q) ** 2)) * 1.005);
    // P and 1 − P of the two answers are each other's: one variance.
    expect(no!.variance).toBeCloseTo(yes!.variance, 14);

    const p5 = rrKeep(2, 5);
    const q5 = (1 - p5) / 4;
    const counts = [10, 50, 20, 15, 5];
    rrShares(counts, 2).forEach((e, y) => {
      const share = counts[y]! / 100;
      const P = Math.min(p5, Math.max(q5, (counts[y]! + (Z * Z) / 2) / (100 + Z * Z)));
      expect(e.estimate).toBeCloseTo((share - q5) / (p5 - q5), 14);
      expect(e.variance).toBeCloseTo((P * (1 - P)) / (100 * (p5 - q5) ** 2), 14);
    });
  });

  it('gives shares that add up to 1, for every k and ε', () => {
    for (const k of [2, 3, 5]) {
      for (const epsilon of EPSILONS) {
        const rand = mulberry32(k * 100 + epsilon);
        const counts = Array.from({ length: k }, () => Math.floor(rand() * 50));
        counts[0]! += 1;
        const total = rrShares(counts, epsilon).reduce((s, e) => s + e.estimate, 0);
        expect(total).toBeCloseTo(1, 10);
      }
    }
  });

  it('takes P within [q, p]: a small sample of extreme answers keeps a variance', () => {
    const p = rrKeep(1, 2);
    const q = 1 - p;
    const floor = (p * (1 - p)) / (10 * (p - q) ** 2);
    for (const counts of [
      [0, 10],
      [10, 0],
    ]) {
      // (0 + z²/2)/(10 + z²) = 0.14 is below q = 0.27 at ε = 1, and its complement above p: held to [q, p].
      expect((0 + (Z * Z) / 2) / (10 + Z * Z)).toBeLessThan(q);
      const shares = rrShares(counts, 1);
      for (const e of shares) expect(e.variance).toBeCloseTo(floor, 14);
    }
    // Half and half: (5 + z²/2)/(10 + z²) is ½.
    expect(rrShares([5, 5], 1)[1]!.variance).toBeCloseTo(0.25 / (10 * (p - q) ** 2), 14);
    // At ε = 4, q is 1.8%: four reports all 0 (a share of 0) take P = (z²/2)/(4 + z²) = 0.245, not q, and
    // a variance over 10 times the one q would give.
    const p4 = rrKeep(4, 2);
    const q4 = 1 - p4;
    const P4 = (Z * Z) / 2 / (4 + Z * Z);
    expect(P4).toBeGreaterThan(q4);
    for (const e of rrShares([4, 0], 4)) expect(e.variance).toBeCloseTo((P4 * (1 - P4)) / (4 * (p4 - q4) ** 2), 14);
    expect(rrShares([4, 0], 4)[1]!.variance / ((q4 * (1 - q4)) / (4 * (p4 - q4) ** 2))).toBeGreaterThan(10);
    // One report alone.
    const [zero, one] = rrShares([0, 1], 4);
    expect(one!.estimate).toBeGreaterThan(1);
    expect(zero!.estimate).toBeLessThan(0);
    expect(one!.variance).toBeGreaterThan(0);
    expect(Number.isFinite(one!.variance)).toBe(true);
  });

  it('says nothing without reports: shares 0 with an infinite variance, an interval that is everything', () => {
    expect(rrShares([0, 0], 1)).toEqual([
      { estimate: 0, variance: Number.POSITIVE_INFINITY },
      { estimate: 0, variance: Number.POSITIVE_INFINITY },
    ]);
    expect(rrShares([0, 0, 0, 0, 0], 4)).toHaveLength(5);
    for (const e of rrShares([0, 0, 0, 0, 0], 4)) {
      expect(e).toEqual({ estimate: 0, variance: Number.POSITIVE_INFINITY });
      expect(interval(e)).toEqual({ estimate: 0, low: -Number.MAX_VALUE, high: Number.MAX_VALUE });
    }
  });

  it('is unbiased, with the variance it reports and 95% intervals that cover 95%, for k = 2 and 5 at ε = 1 and 4', () => {
    // Devices drawn from known shares (a fresh sample each time), each reporting its randomized answer.
    const DEVICES = 1000;
    const REPS = 200;
    const cases = [
      [0, 1],
      [0.97, 0.03],
      [0.5, 0.5],
      [0.1, 0.9],
      [0.1, 0.05, 0.3, 0.15, 0.4],
      [1, 0, 0, 0, 0],
    ];
    const rand = mulberry32(77);
    const measured: { k: number; epsilon: number; y: number; truth: number; z: number; varRatio: number }[] = [];
    let covered = 0;
    let trials = 0;
    for (const epsilon of [1, 4]) {
      for (const truths of cases) {
        const k = truths.length;
        const err = new Array<number>(k).fill(0);
        const sq = new Array<number>(k).fill(0);
        const formula = new Array<number>(k).fill(0);
        for (let r = 0; r < REPS; r++) {
          const counts = new Array<number>(k).fill(0);
          for (let i = 0; i < DEVICES; i++) counts[rrPerturb(draw(truths, rand), k, epsilon, rand)]!++;
          rrShares(counts, epsilon).forEach((e, y) => {
            const d = e.estimate - truths[y]!;
            err[y]! += d;
            sq[y]! += d * d;
            formula[y]! += e.variance;
            const { low, high } = interval(e);
            covered += +(truths[y]! >= low && truths[y]! <= high);
            trials++;
          });
        }
        truths.forEach((truth, y) => {
          const sd = Math.sqrt(formula[y]! / REPS);
          const z = err[y]! / REPS / (sd / Math.sqrt(REPS));
          measured.push({ k, epsilon, y, truth, z, varRatio: sq[y]! / formula[y]! });
        });
      }
    }
    // Bias: the mean error of each share within 4 standard errors of the mean, from the variance reported.
    for (const m of measured) expect(Math.abs(m.z), JSON.stringify(m)).toBeLessThan(4);
    const meanZ = measured.reduce((s, m) => s + m.z, 0) / measured.length;
    expect(Math.abs(meanZ)).toBeLessThan(4 / Math.sqrt(measured.length / 2));
    // Variance: the empirical mean squared error over the reported variance; each within χ²₂₀₀'s 99.9% range, 1 ± 0.1 on average.
    for (const m of measured) {
      expect(m.varRatio, JSON.stringify(m)).toBeGreaterThan(0.7);
      expect(m.varRatio, JSON.stringify(m)).toBeLessThan(1.35);
    }
    const varRatio = measured.reduce((s, m) => s + m.varRatio, 0) / measured.length;
    expect(Math.abs(varRatio - 1)).toBeLessThan(0.1);
    // Coverage of the 95% intervals (7,200 of them).
    expect(covered / trials).toBeGreaterThan(0.93);
    expect(covered / trials).toBeLessThan(0.97);
    if (process.env.ATTNFLOW_REPORT_SIM) console.log(JSON.stringify({ meanZ, varRatio, coverage: covered / trials, measured }));
  });

  it('gives 95% intervals that still cover about 95% with a handful of reports (n = 2, 4, 8 at ε = 4), where the observed share’s variance does not', () => {
    // A collector with few devices per question: each question answered by n devices drawn from a
    // population with share f of yes, at ε = 4 (q = 1.8%). With 4 reports the observed share is
    // often 0 or 1, and the variance at it (held to [q, p]) makes the interval far too narrow.
    const epsilon = 4;
    const p = rrKeep(epsilon, 2);
    const q = 1 - p;
    const TRIALS = 20_000;
    const SHARES = [0.02, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9];
    const rand = mulberry32(404);
    const summary: Record<string, { agrestiCoull: number; observed: number }> = {};
    for (const n of [2, 4, 8]) {
      let covered = 0;
      let coveredObserved = 0;
      let worst = 1;
      let worstObserved = 1;
      for (const f of SHARES) {
        let hits = 0;
        let hitsObserved = 0;
        for (let t = 0; t < TRIALS; t++) {
          const counts = [0, 0];
          for (let i = 0; i < n; i++) counts[rrPerturb(+(rand() < f), 2, epsilon, rand)]!++;
          const e = rrShares(counts, epsilon)[1]!;
          const { low, high } = interval(e);
          hits += +(low <= f && f <= high);
          // The same estimate with the variance at the observed share c/n, held to [q, p] (what it was).
          const P = Math.min(p, Math.max(q, counts[1]! / n));
          const half = Z * Math.sqrt((P * (1 - P)) / (n * (p - q) ** 2));
          hitsObserved += +(Math.abs(e.estimate - f) <= half);
        }
        worst = Math.min(worst, hits / TRIALS);
        worstObserved = Math.min(worstObserved, hitsObserved / TRIALS);
        covered += hits;
        coveredObserved += hitsObserved;
        summary[`n ${n} f ${f}`] = { agrestiCoull: hits / TRIALS, observed: hitsObserved / TRIALS };
      }
      const coverage = covered / (TRIALS * SHARES.length);
      const coverageObserved = coveredObserved / (TRIALS * SHARES.length);
      // About 95%, on the safe side, and not by intervals that hold everything: some miss.
      expect(coverage, `n ${n}`).toBeGreaterThan(0.94);
      expect(coverage, `n ${n}`).toBeLessThan(0.99);
      // No share is left far under: the worst is the discreteness of n answers (f = ½ at n = 4: 0.875).
      expect(worst, `n ${n}`).toBeGreaterThan(0.85);
      // The observed share's variance: 67% to 85% over these shares, under 65% for some.
      expect(coverageObserved, `n ${n}`).toBeLessThan(0.9);
      expect(worstObserved, `n ${n}`).toBeLessThan(0.65);
    }
    if (process.env.ATTNFLOW_REPORT_SIM) console.log(JSON.stringify(summary));
  });
});

describe('rrInformation', () => {
  it('is (p − q)² = ((e^ε − 1)/(e^ε + k − 1))², growing with ε from 0 toward 1', () => {
    expect(rrInformation(Math.log(3), 2)).toBeCloseTo(0.25, 15);
    expect(rrInformation(Math.log(4), 5)).toBeCloseTo((3 / 8) ** 2, 15);
    for (const k of [2, 5]) {
      for (const epsilon of EPSILONS) {
        const e = Math.exp(epsilon);
        expect(rrInformation(epsilon, k)).toBeCloseTo(((e - 1) / (e + k - 1)) ** 2, 14);
      }
    }
    expect(rrInformation(1e-9, 2)).toBeLessThan(1e-18);
    expect(rrInformation(1, 2)).toBeLessThan(rrInformation(4, 2));
    expect(rrInformation(10, 2)).toBeGreaterThan(0.999);
  });

  it('scales the variance of a share: rrShares from m reports has variance P(1 − P)/(m·rrInformation)', () => {
    for (const epsilon of [0.5, 1, 4]) {
      // Half and half: P = (50 + z²/2)/(100 + z²) is ½, within [q, p].
      expect(rrShares([50, 50], epsilon)[1]!.variance).toBeCloseTo(0.25 / (100 * rrInformation(epsilon, 2)), 14);
    }
  });
});

describe('cryptoRandom', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it('gives uniform numbers in [0, 1) from crypto.getRandomValues', () => {
    const spy = vi.spyOn(globalThis.crypto, 'getRandomValues');
    const xs = Array.from({ length: 10_000 }, cryptoRandom);
    expect(spy).toHaveBeenCalledTimes(10_000);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBe(xs.length);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / xs.length));
    const tenths = new Array<number>(10).fill(0);
    for (const x of xs) tenths[Math.floor(x * 10)]!++;
    expect(chi2(tenths, new Array(10).fill(0.1))).toBeLessThan(chi2Quantile999(9));
  });

  it('uses 53 bits: all ones is just below 1, all zeros is 0', () => {
    const fill = (word: number) =>
      vi.spyOn(globalThis.crypto, 'getRandomValues').mockImplementation(<T extends ArrayBufferView | null>(a: T): T => {
        (a as unknown as Uint32Array).fill(word);
        return a;
      });
    fill(0xffffffff);
    expect(cryptoRandom()).toBe(1 - 2 ** -53);
    vi.restoreAllMocks();
    fill(0);
    expect(cryptoRandom()).toBe(0);
  });

  it('throws where the platform has no cryptographic generator', () => {
    vi.stubGlobal('crypto', undefined);
    expect(() => cryptoRandom()).toThrow('attnflow: private reports need crypto.getRandomValues');
    vi.stubGlobal('crypto', {});
    expect(() => cryptoRandom()).toThrow(/getRandomValues/);
  });
});
