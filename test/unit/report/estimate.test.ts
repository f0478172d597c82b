/**
 * The collector's estimators: simulated populations with known bounded sets show each estimate is
 * unbiased, its variance is the formula's and its 95% interval covers the truth about 95% of the
 * time, at ε = 1 and at ε = 4; groups of different (ε, m) add up; rates and sums behave; and the
 * strict report check refuses every malformed variant.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../src/model/hash';
import { estimateValues, interval, type ReportNoise, ratioInterval, sumEstimates, validateReport } from '../../../src/report/estimate';
import { olhDomain, olhEstimate, olhHash, olhPerturb } from '../../../src/report/olh';
import {
  ATTENTION_MIDPOINTS_MS,
  attentionValue,
  buildReport,
  containerValue,
  DUMMY,
  depthValue,
  encodeValues,
  itemValue,
  REPORT_M,
} from '../../../src/report/values';
import { population } from './fixtures';

/** Devices in the simulated population. */
const DEVICES = 20_000;
/** Repetitions of the whole population's reporting. */
const REPS = 10;

/** The candidates the estimates are checked on: popular, middling, rare and never-held values of every kind. */
const CANDIDATES = [
  itemValue('v', 'item-0'),
  itemValue('v', 'item-5'),
  itemValue('v', 'item-30'),
  itemValue('w', 'item-1'),
  itemValue('a', 'item-0'),
  itemValue('k', 'item-2'),
  itemValue('c', 'item-3'),
  itemValue('c', 'item-39'),
  ...ATTENTION_MIDPOINTS_MS.map((_, b) => attentionValue('item-0', b)),
  depthValue(0),
  depthValue(4),
  containerValue('for-you', 'p', 3),
  containerValue('more', 'h', 0),
  itemValue('v', 'not-in-the-catalogue'),
  itemValue('a', 'item-999'),
];

/** 20,000 devices made of 1,000 kinds of period (20 devices each), with their bounded value lists and the truth. */
function world() {
  const kinds = population(1000, 2024).map(encodeValues);
  const lists = Array.from({ length: DEVICES }, (_, i) => kinds[i % kinds.length]!);
  const truth = new Map(CANDIDATES.map((v) => [v, lists.filter((l) => l.includes(v)).length]));
  return { lists, truth };
}

/** Each device's report at `epsilon`: one slot drawn uniformly, randomized by OLH. */
function reportAll(lists: string[][], epsilon: number, rand: () => number): ReportNoise[] {
  return lists.map((l) => ({ ...olhPerturb(l[Math.floor(rand() * REPORT_M)]!, epsilon, rand), epsilon, m: REPORT_M }));
}

interface Tally {
  errors: number[];
  squares: number[];
  formula: number[];
  covered: number;
  trials: number;
}

const tally = (): Tally => ({ errors: [], squares: [], formula: [], covered: 0, trials: 0 });

function record(t: Tally, i: number, e: { estimate: number; variance: number }, truth: number) {
  const d = e.estimate - truth;
  t.errors[i] = (t.errors[i] ?? 0) + d;
  t.squares[i] = (t.squares[i] ?? 0) + d * d;
  t.formula[i] = (t.formula[i] ?? 0) + e.variance;
  const { low, high } = interval(e);
  if (truth >= low && truth <= high) t.covered++;
  t.trials++;
}

/** Checks a tally's bias (per value |mean error| < 4·sd/√reps, and the mean z) and coverage; returns what it measured. */
function judge(t: Tally, truths: number[]) {
  const rows = truths.map((truth, i) => {
    const sd = Math.sqrt(t.formula[i]! / REPS);
    const bias = t.errors[i]! / REPS;
    return { truth, bias, sd, z: bias / (sd / Math.sqrt(REPS)), varRatio: t.squares[i]! / t.formula[i]! };
  });
  for (const r of rows) expect(Math.abs(r.bias), JSON.stringify(r)).toBeLessThan((4 * r.sd) / Math.sqrt(REPS));
  // All values together: the mean z of an unbiased estimator is N(0, 1/V).
  const meanZ = rows.reduce((s, r) => s + r.z, 0) / rows.length;
  expect(Math.abs(meanZ)).toBeLessThan(4 / Math.sqrt(rows.length));
  const coverage = t.covered / t.trials;
  expect(coverage).toBeGreaterThan(0.9);
  expect(coverage).toBeLessThan(0.99);
  const varRatio = rows.reduce((s, r) => s + r.varRatio, 0) / rows.length;
  return { maxAbsZ: Math.max(...rows.map((r) => Math.abs(r.z))), meanZ, varRatio, coverage };
}

describe('estimateValues on a simulated population', () => {
  it('is unbiased with the formula variance at ε = 1 and at ε = 4, and so are attention sums', () => {
    const { lists, truth } = world();
    const truths = CANDIDATES.map((v) => truth.get(v)!);
    expect(Math.max(...truths)).toBeGreaterThan(DEVICES / 3);
    expect(truths.at(-1)).toBe(0);
    const attention = ATTENTION_MIDPOINTS_MS.map((_, b) => CANDIDATES.indexOf(attentionValue('item-0', b)));
    const attentionTruth = attention.reduce((s, j, b) => s + ATTENTION_MIDPOINTS_MS[b]! * truths[j]!, 0);
    const rand = mulberry32(99);
    const tallies = { eps1: tally(), eps4: tally() };
    const sums = tally();
    for (let r = 0; r < REPS; r++) {
      for (const [epsilon, t] of [
        [1, tallies.eps1],
        [4, tallies.eps4],
      ] as const) {
        const est = estimateValues(reportAll(lists, epsilon, rand), CANDIDATES);
        CANDIDATES.forEach((v, i) => record(t, i, est.get(v)!, truths[i]!));
        const parts = attention.map((j) => est.get(CANDIDATES[j]!)!);
        record(sums, epsilon, sumEstimates(parts, ATTENTION_MIDPOINTS_MS), attentionTruth);
      }
    }
    const measured = { eps1: judge(tallies.eps1, truths), eps4: judge(tallies.eps4, truths) };
    // Empirical variance around the truth over the formula's: within 20% over both ε (40 values × 10 draws), 30% at each.
    expect(Math.abs(measured.eps1.varRatio - 1)).toBeLessThan(0.3);
    expect(Math.abs(measured.eps4.varRatio - 1)).toBeLessThan(0.3);
    expect(Math.abs((measured.eps1.varRatio + measured.eps4.varRatio) / 2 - 1)).toBeLessThan(0.2);
    // The attention sum at each ε: its own bias check, and its variance ratio inside the χ²₁₀/10 99.9% range.
    const sumRows = [1, 4].map((e) => {
      const sd = Math.sqrt(sums.formula[e]! / REPS);
      const z = sums.errors[e]! / REPS / (sd / Math.sqrt(REPS));
      const varRatio = sums.squares[e]! / sums.formula[e]!;
      expect(Math.abs(z)).toBeLessThan(4);
      expect(varRatio).toBeGreaterThan(0.15);
      expect(varRatio).toBeLessThan(2.96);
      return { z, varRatio };
    });
    if (process.env.ATTNFLOW_REPORT_SIM) console.log(JSON.stringify({ ...measured, attentionSum: sumRows }));
  });

  it('sums the groups of different (ε, m), each estimated with its own parameters', () => {
    const rand = mulberry32(4);
    const a = Array.from({ length: 300 }, () => ({ ...olhPerturb('v\tx', 1, rand), epsilon: 1, m: 56 }));
    const b = Array.from({ length: 200 }, () => ({ ...olhPerturb(DUMMY, 1, rand), epsilon: 1, m: 28 }));
    const c = Array.from({ length: 100 }, () => ({ ...olhPerturb('v\tx', 2, rand), epsilon: 2, m: 56 }));
    const supports = (rs: ReportNoise[]) => rs.filter((r) => olhHash(r.s, 'v\tx', r.g) === r.y).length;
    const parts = [olhEstimate(supports(a), 300, 1, 56), olhEstimate(supports(b), 200, 1, 28), olhEstimate(supports(c), 100, 2, 56)];
    const got = estimateValues([...c, ...a, ...b], ['v\tx']).get('v\tx')!;
    expect(got.estimate).toBeCloseTo(
      parts.reduce((s, p) => s + p.estimate, 0),
      6,
    );
    expect(got.variance).toBeCloseTo(
      parts.reduce((s, p) => s + p.variance, 0),
      3,
    );
    expect(estimateValues([], ['v\tx']).get('v\tx')).toEqual({ estimate: 0, variance: 0 });
  });
});

describe('intervals and rates', () => {
  it('gives ±1.96 sd around the estimate', () => {
    expect(interval({ estimate: 100, variance: 25 })).toEqual({
      estimate: 100,
      low: 100 - 1.959963984540054 * 5,
      high: 100 + 1.959963984540054 * 5,
    });
  });

  it('weights and adds variances in sums', () => {
    expect(
      sumEstimates(
        [
          { estimate: 1, variance: 4 },
          { estimate: 2, variance: 9 },
        ],
        [10, 2],
      ),
    ).toEqual({ estimate: 14, variance: 436 });
    expect(
      sumEstimates([
        { estimate: 1, variance: 4 },
        { estimate: 2, variance: 9 },
      ]),
    ).toEqual({ estimate: 3, variance: 13 });
  });

  it('gives rates a delta-method interval clipped to [0, 1]', () => {
    const r = ratioInterval({ estimate: 300, variance: 400 }, { estimate: 1000, variance: 900 });
    const sd = Math.sqrt(400 + 0.09 * 900) / 1000;
    expect(r.estimate).toBeCloseTo(0.3, 12);
    expect(r.low).toBeCloseTo(0.3 - 1.959963984540054 * sd, 12);
    expect(r.high).toBeCloseTo(0.3 + 1.959963984540054 * sd, 12);
    expect(ratioInterval({ estimate: 900, variance: 1e6 }, { estimate: 800, variance: 1e6 })).toMatchObject({ estimate: 1, high: 1 });
    expect(ratioInterval({ estimate: -50, variance: 1e6 }, { estimate: 800, variance: 1e6 })).toMatchObject({ estimate: 0, low: 0 });
    expect(ratioInterval({ estimate: 5, variance: 1 }, { estimate: -3, variance: 1 })).toEqual({ estimate: 0, low: 0, high: 1 });
  });
});

describe('validateReport', () => {
  const NOW = Date.parse('2026-12-06T15:00:00Z');
  const good = buildReport({ items: [], depths: [0.4], containers: [] }, { epsilon: 1, day: '2026-12-06', rand: mulberry32(8) });
  const errorOf = (body: unknown, now = NOW): string | undefined => {
    const v = validateReport(body, now);
    return v.ok ? undefined : v.error;
  };

  it('accepts a well-formed report, as an object or as JSON text, from today back to 7 days', () => {
    expect(validateReport(good, NOW)).toEqual({ ok: true, report: good });
    expect(validateReport(JSON.stringify(good), NOW)).toEqual({ ok: true, report: good });
    for (const day of ['2026-11-29', '2026-12-01', '2026-12-06']) expect(errorOf({ ...good, day })).toBeUndefined();
    // Just after midnight UTC, yesterday's report is fine and today's too.
    expect(errorOf(good, Date.parse('2026-12-06T00:00:01Z'))).toBeUndefined();
    expect(errorOf({ ...good, epsilon: 10, g: olhDomain(10), y: 22026 })).toBeUndefined();
    expect(errorOf({ ...good, m: 1 })).toBeUndefined();
    expect(errorOf({ ...good, m: 1024, s: 0xffffffff, y: 0 })).toBeUndefined();
  });

  const variants: [string, unknown][] = [
    ['not JSON', '{"format":'],
    ['null', null],
    ['an array', [good]],
    ['a number', 42],
    ['a string of JSON that is not an object', '"x"'],
    ['an object with a prototype', Object.assign(Object.create({ inherited: 1 }), good)],
    ['an extra key', { ...good, extra: 1 }],
    ['a visitor id', { ...good, visitor: 'abc' }],
    ['a timestamp', { ...good, at: 1765000000000 }],
    ['the wrong format', { ...good, format: 'attnflow' }],
    ['version 2', { ...good, version: 2 }],
    ['version as a string', { ...good, version: '1' }],
    ['a day with a time', { ...good, day: '2026-12-06T00:00:00Z' }],
    ['an impossible day', { ...good, day: '2026-02-30' }],
    ['a month 13', { ...good, day: '2026-13-01' }],
    ['a day as a number', { ...good, day: 20261206 }],
    ['a future day', { ...good, day: '2026-12-07' }],
    ['a day 8 days old', { ...good, day: '2026-11-28' }],
    ['a year-old day', { ...good, day: '2025-12-06' }],
    ['epsilon 0', { ...good, epsilon: 0 }],
    ['a negative epsilon', { ...good, epsilon: -1 }],
    ['epsilon above 10', { ...good, epsilon: 10.5, g: olhDomain(10.5) }],
    ['epsilon NaN', { ...good, epsilon: Number.NaN }],
    ['epsilon Infinity', { ...good, epsilon: Number.POSITIVE_INFINITY }],
    ['epsilon as a string', { ...good, epsilon: '1' }],
    ['epsilon null', { ...good, epsilon: null }],
    ['m 0', { ...good, m: 0 }],
    ['m 1025', { ...good, m: 1025 }],
    ['m fractional', { ...good, m: 56.5 }],
    ['m as a string', { ...good, m: '56' }],
    ['the wrong g', { ...good, g: 5 }],
    ['g of another epsilon', { ...good, g: olhDomain(4) }],
    ['g NaN', { ...good, g: Number.NaN }],
    ['g as a string', { ...good, g: '4' }],
    ['a negative s', { ...good, s: -1 }],
    ['s above uint32', { ...good, s: 2 ** 32 }],
    ['s fractional', { ...good, s: 1.5 }],
    ['s NaN', { ...good, s: Number.NaN }],
    ['s as a string', { ...good, s: '1' }],
    ['y equal to g', { ...good, y: good.g }],
    ['y above g', { ...good, y: good.g + 3 }],
    ['a negative y', { ...good, y: -1 }],
    ['y fractional', { ...good, y: 0.5 }],
    ['y NaN', { ...good, y: Number.NaN }],
    ['y as a string', { ...good, y: '0' }],
    ['an id too short', { ...good, id: good.id.slice(1) }],
    ['an id too long', { ...good, id: `${good.id}A` }],
    ['an id with +', { ...good, id: `+${good.id.slice(1)}` }],
    ['an id with /', { ...good, id: `/${good.id.slice(1)}` }],
    ['an id with padding', { ...good, id: `${good.id.slice(2)}==` }],
    ['an id with a newline', { ...good, id: `${good.id.slice(1)}\n` }],
    ['an id as a number', { ...good, id: 1234567890123456 }],
    ...(Object.keys(good) as (keyof typeof good)[]).map((key): [string, unknown] => {
      const { [key]: _, ...rest } = good;
      return [`no ${key}`, rest];
    }),
    ...(Object.keys(good) as (keyof typeof good)[]).map((key): [string, unknown] => [`${key} undefined`, { ...good, [key]: undefined }]),
  ];

  for (const [name, body] of variants) {
    it(`refuses ${name}`, () => {
      const error = errorOf(body);
      expect(typeof error).toBe('string');
      expect(error!.length).toBeGreaterThan(0);
    });
  }

  it('refuses every day when the current time is unknown', () => {
    expect(errorOf(good, Number.NaN)).toMatch(/time/);
  });

  it('names what is wrong', () => {
    expect(errorOf({ ...good, extra: 1 })).toBe('unexpected key "extra"');
    expect(errorOf({ ...good, id: undefined, extra: 1 })).toBe('unexpected key "extra"');
    const { y: _, ...noY } = good;
    expect(errorOf(noY)).toBe('missing key "y"');
    expect(errorOf({ ...good, g: 5 })).toBe('g must be 4 at epsilon 1');
    expect(errorOf({ ...good, day: '2026-12-07' })).toBe('day is in the future');
    expect(errorOf({ ...good, day: '2026-11-28' })).toBe('day is more than 7 days old');
  });
});
