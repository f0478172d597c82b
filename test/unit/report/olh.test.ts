/**
 * Optimal Local Hashing: the hash agrees with MurmurHash3 x86 32-bit, the randomizer keeps the true
 * hash with probability p = e^ε/(e^ε + g − 1) and otherwise answers uniformly, which is exactly ε-LDP,
 * and the estimator's arithmetic is the contract's.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../src/model/hash';
import { cryptoRandom, murmur3, olhDomain, olhEstimate, olhHash, olhKeep, olhPerturb, olhSupports } from '../../../src/report/olh';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('murmur3', () => {
  it('matches the reference MurmurHash3_x86_32 vectors', () => {
    expect(murmur3(utf8(''), 0)).toBe(0);
    expect(murmur3(utf8(''), 1)).toBe(0x514e28b7);
    expect(murmur3(utf8(''), 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3(utf8('a'), 0)).toBe(0x3c2569b2);
    expect(murmur3(utf8('abc'), 0)).toBe(0xb3dd93fa);
    expect(murmur3(utf8('abcd'), 0)).toBe(0x43ed676a);
    expect(murmur3(utf8('Hello, world!'), 1234)).toBe(0xfaf6cdb3);
    expect(murmur3(utf8('The quick brown fox jumps over the lazy dog'), 0x9747b28c)).toBe(0x2fa826cd);
    expect(murmur3(new Uint8Array([0, 0, 0, 0]), 0)).toBe(0x2362f9de);
  });

  it('hashes the UTF-8 bytes, so non-ASCII ids hash as in any other MurmurHash3', () => {
    expect(murmur3(utf8('é'), 0)).toBe(murmur3(new Uint8Array([0xc3, 0xa9]), 0));
    expect(olhHash(42, 'v\tnaïve', 1 << 30)).toBe(murmur3(utf8('v\tnaïve'), 42) % (1 << 30));
  });
});

describe('olhDomain', () => {
  it('is max(2, round(e^ε + 1))', () => {
    expect(olhDomain(0.1)).toBe(2);
    expect(olhDomain(0.5)).toBe(3);
    expect(olhDomain(1)).toBe(4);
    expect(olhDomain(2)).toBe(8);
    expect(olhDomain(4)).toBe(56);
    expect(olhDomain(10)).toBe(22027);
  });
});

describe('olhPerturb', () => {
  for (const epsilon of [0.5, 1, 4]) {
    it(`at ε = ${epsilon} keeps the true hash with p = e^ε/(e^ε + g − 1) and spreads the rest evenly`, () => {
      const rand = mulberry32(1000 + epsilon * 10);
      const n = 40_000;
      const g = olhDomain(epsilon);
      const p = Math.exp(epsilon) / (Math.exp(epsilon) + g - 1);
      expect(olhKeep(epsilon)).toBeCloseTo(p, 12);
      let kept = 0;
      let wellFormed = true;
      const offsets = new Array<number>(g).fill(0);
      for (let i = 0; i < n; i++) {
        const r = olhPerturb('a\titem-7', epsilon, rand);
        wellFormed &&= r.g === g && Number.isInteger(r.y) && r.y >= 0 && r.y < g && Number.isInteger(r.s) && r.s >= 0 && r.s <= 0xffffffff;
        const h = olhHash(r.s, 'a\titem-7', g);
        if (r.y === h) kept++;
        else offsets[(r.y - h + g) % g]!++;
      }
      expect(wellFormed).toBe(true);
      expect(Math.abs(kept / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
      if (g <= 4) {
        // Each other answer gets an equal share of the rest.
        const rest = n - kept;
        for (let o = 1; o < g; o++) {
          const share = 1 / (g - 1);
          expect(Math.abs(offsets[o]! / rest - share)).toBeLessThan(4 * Math.sqrt((share * (1 - share)) / rest));
        }
      }
    });
  }

  it('is ε-LDP: for any seed, an answer is at most e^ε times likelier under one value than another', () => {
    for (const epsilon of [0.1, 0.5, 1, 2, 4, 7, 10]) {
      const g = olhDomain(epsilon);
      const p = olhKeep(epsilon);
      // P(y | value hashing to y) / P(y | value hashing elsewhere): the worst case, exactly e^ε.
      expect(p / ((1 - p) / (g - 1))).toBeCloseTo(Math.exp(epsilon), 6);
    }
  });

  it('draws the seed over all of uint32 and spreads hashes evenly over [0, g)', () => {
    const rand = mulberry32(5);
    const g = olhDomain(1);
    const counts = new Array<number>(g).fill(0);
    let high = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const { s } = olhPerturb('v\tx', 1, rand);
      if (s >= 2 ** 31) high++;
      counts[olhHash(s, 'k\tother', g)]!++;
    }
    expect(Math.abs(high / n - 0.5)).toBeLessThan(4 * Math.sqrt(0.25 / n));
    for (const c of counts) expect(Math.abs(c / n - 1 / g)).toBeLessThan(4 * Math.sqrt(((1 / g) * (1 - 1 / g)) / n));
  });
});

describe('olhSupports', () => {
  it('holds when the value hashes to y under the seed', () => {
    const s = 3735928559;
    const g = 56;
    const y = olhHash(s, 'c\tx', g);
    expect(olhSupports({ s, y, g }, 'c\tx')).toBe(true);
    expect(olhSupports({ s, y: (y + 1) % g, g }, 'c\tx')).toBe(false);
  });
});

describe('olhEstimate', () => {
  it('is m·(C − n/g)/(p − 1/g) with the conditional variance plus the slot draw', () => {
    const epsilon = 1;
    const g = 4;
    expect(olhDomain(epsilon)).toBe(g);
    const p = Math.E / (Math.E + g - 1);
    const q = 1 / g;
    const n = 10_000;
    const m = 56;
    const c = 3000;
    const est = (m * (c - n * q)) / (p - q);
    const { estimate, variance } = olhEstimate(c, n, epsilon, m);
    expect(estimate).toBeCloseTo(est, 6);
    const holders = Math.min(n, est);
    const v = ((m * m) / (p - q) ** 2) * (n * q * (1 - q) + (holders / m) * (p * (1 - p) - q * (1 - q))) + holders * (m - 1);
    expect(variance).toBeCloseTo(v, 3);
  });

  it('estimates below zero keep the variance of a value nobody holds; no reports give zero', () => {
    const zero = olhEstimate(0, 1000, 1, 56);
    expect(zero.estimate).toBeLessThan(0);
    const p = olhKeep(1);
    expect(zero.variance).toBeCloseTo((56 * 56 * 1000 * 0.25 * 0.75) / (p - 0.25) ** 2, 6);
    expect(olhEstimate(0, 0, 1, 56)).toEqual({ estimate: 0, variance: 0 });
  });
});

describe('cryptoRandom', () => {
  it('gives distinct numbers in [0, 1)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(cryptoRandom());
    expect(seen.size).toBe(1000);
    expect([...seen].every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
