/**
 * The device's report (format v2): exactly the contract's keys, one question drawn uniformly from
 * the collector's list and its one randomized answer whatever the summary holds, drawn from `rand` in
 * the documented order, configuration errors thrown as `AttnflowConfigError`, the platform generator
 * and today by default; and the privacy it spends: the ε it carries, and no more (a report's
 * likelihood ratio between any two devices is at most e^ε, and reaches it).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AttnflowConfigError } from '../../../src/lib/errors';
import { mulberry32 } from '../../../src/model/hash';
import { validateReport } from '../../../src/report/estimate';
import { answers, MAX_QUESTION_LENGTH, questionsOf, trueAnswer } from '../../../src/report/questions';
import { rrKeep, rrPerturb } from '../../../src/report/rr';
import type { PeriodSummary } from '../../../src/report/types';
import { buildReport, isDay, MAX_EPSILON, REPORT_FORMAT, REPORT_VERSION, utcDay } from '../../../src/report/values';
import { chi2, chi2Quantile999, COLLECTOR, counting, EMPTY, item, population, scripted } from './fixtures';

const DAY = '2026-12-06';
const NOW = Date.parse('2026-12-06T15:00:00Z');
const QUESTIONS = questionsOf(COLLECTOR);
const KEYS = ['format', 'version', 'day', 'epsilon', 'q', 'y', 'id'];

/** The 16 bytes drawn as `rand` values, and their base64url text. */
const BYTES = [0xfb, 0xff, 0x00, 0x3e, 0x3f, 0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0xff];
const BYTE_DRAWS = BYTES.map((b) => (b + 0.5) / 256);
const BYTES_ID = Buffer.from(BYTES).toString('base64url');

describe('days', () => {
  it('writes and checks UTC days', () => {
    expect(utcDay(Date.parse('2026-12-06T23:59:59.999Z'))).toBe('2026-12-06');
    expect(utcDay(Date.parse('2026-12-07T00:00:00Z'))).toBe('2026-12-07');
    for (const day of ['2026-12-06', '2024-02-29', '1970-01-01', '2099-12-31']) expect(isDay(day), day).toBe(true);
    for (const day of [
      '2026-02-29',
      '2026-02-30',
      '2026-13-01',
      '2026-00-10',
      '2026-1-1',
      '06-12-2026',
      '2026-12-06T00:00:00Z',
      ' 2026-12-06',
      '',
      20261206,
      null,
    ]) {
      expect(isDay(day), String(day)).toBe(false);
    }
  });
});

describe('buildReport: the report', () => {
  it('has exactly the contract’s keys, in order, and passes the collector’s check', () => {
    expect([REPORT_FORMAT, REPORT_VERSION, MAX_EPSILON]).toEqual(['attnflow-report', 2, 10]);
    const report = buildReport(population(1, 5)[0]!, { epsilon: 1, questions: QUESTIONS, day: DAY, rand: mulberry32(9) });
    expect(Object.keys(report)).toEqual(KEYS);
    expect(report.format).toBe('attnflow-report');
    expect(report.version).toBe(2);
    expect(report.day).toBe(DAY);
    expect(report.epsilon).toBe(1);
    expect(QUESTIONS).toContain(report.q);
    expect(Number.isInteger(report.y) && report.y >= 0 && report.y < answers(report.q)).toBe(true);
    expect(report.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(validateReport(JSON.parse(JSON.stringify(report)), NOW)).toEqual({ ok: true, report });
  });

  it('passes the collector’s check for every question, and is the same size for every device', () => {
    const devices = [EMPTY, ...population(20, 6)];
    const bad: string[] = [];
    for (const [i, q] of QUESTIONS.entries()) {
      // Every report of a question has one length: the answer is one digit, the id 22 characters.
      const length = JSON.stringify({ format: REPORT_FORMAT, version: REPORT_VERSION, day: DAY, epsilon: 2, q, y: 0, id: BYTES_ID }).length;
      for (const [j, s] of devices.entries()) {
        const report = buildReport(s, { epsilon: 2, questions: [q], day: DAY, rand: mulberry32(i * 100 + j) });
        const v = validateReport(report, NOW);
        if (report.q !== q || !v.ok || v.report.y !== report.y || JSON.stringify(report).length !== length)
          bad.push(JSON.stringify(report));
      }
    }
    expect(bad).toEqual([]);
  });

  it('holds one question and one answer whatever the summary’s size, and fits in 1 KB with the longest question', () => {
    const huge: PeriodSummary = {
      items: Array.from({ length: 10_000 }, (_, i) => item(`item-${i % 50}`, { attentionMs: 1e6 })),
      depths: Array.from({ length: 10_000 }, (_, i) => (i % 100) / 99),
      containers: Array.from({ length: 10_000 }, (_, i) => ({ container: 'for-you', arm: i % 2 ? 'p' : 'h', attentionMs: 1e7 })),
    };
    const longest = `o\t${'x'.repeat(MAX_QUESTION_LENGTH - 4)}\th`;
    expect(longest).toHaveLength(MAX_QUESTION_LENGTH);
    const rand = mulberry32(3);
    for (let i = 0; i < 40; i++) {
      const report = buildReport(huge, { epsilon: 1, questions: [...QUESTIONS, longest], day: DAY, rand });
      expect(Object.keys(report)).toEqual(KEYS);
      expect(typeof report.q).toBe('string');
      expect(Number.isInteger(report.y) && report.y >= 0 && report.y < answers(report.q)).toBe(true);
    }
    // The longest names of the widest characters: escaped in JSON (2 bytes), 3-byte and 4-byte UTF-8.
    for (const ch of ['x', '"', '\\', '€', '😀']) {
      const name = ch.repeat(Math.floor(200 / ch.length));
      const q = `o\t${name}\th`;
      expect(answers(q), ch).toBe(2);
      const report = buildReport(huge, { epsilon: 1, questions: [q], day: DAY, rand });
      expect(new TextEncoder().encode(JSON.stringify(report)).length, ch).toBeLessThanOrEqual(1024);
    }
  });

  it('carries nothing of the summary but the answer', () => {
    const secret = ['/account/settings?user=ann', 'Ann Example', 'Mozilla/5.0', '1765000000000'];
    const rand = mulberry32(4);
    for (let i = 0; i < 300; i++) {
      const base = population(1, 1000 + i)[0]!;
      const summary = {
        ...base,
        path: secret[0],
        userAgent: secret[2],
        items: base.items.map((it) => ({ ...it, title: secret[1], url: secret[0], at: Number(secret[3]) })),
      } as PeriodSummary;
      const report = buildReport(summary, { epsilon: 1, questions: QUESTIONS, day: DAY, rand });
      const text = JSON.stringify(report);
      for (const s of secret) expect(text).not.toContain(s);
      // The only item named is the question's own, which the collector chose.
      for (const it of summary.items) if (!report.q.includes(it.itemId)) expect(text).not.toContain(`"${it.itemId}`);
    }
  });
});

describe('buildReport: randomness', () => {
  // A device whose true answers are known: v 1, t a coin of ¼ (7.5 s of 30 s), d 2, o a coin of ¼ (7.5 s of 30 s).
  const s: PeriodSummary = {
    items: [item('x', { attentionMs: 7_500 })],
    depths: [0.6],
    containers: [{ container: 'c', arm: 'p', attentionMs: 7_500 }],
  };
  const questions = ['v\tx', 't\tx', 'd', 'o\tc\tp'];
  const build = (draws: number[], epsilon = 1) => {
    const rand = scripted([...draws, ...BYTE_DRAWS]);
    const report = buildReport(s, { epsilon, questions, day: DAY, rand });
    expect(rand.used(), JSON.stringify(draws)).toBe(draws.length + 16);
    return report;
  };

  it('draws the question, the amount’s coin, the randomization, then the id’s 16 bytes', () => {
    const keep = 0;
    const change = 0.99;
    // A yes/no: question, keep (one draw) or change (two).
    expect(build([0.1, keep])).toMatchObject({ q: 'v\tx', y: 1, id: BYTES_ID });
    expect(build([0.1, change, 0.3])).toMatchObject({ q: 'v\tx', y: 0, id: BYTES_ID });
    // An amount: question, coin (below ¼: 1), keep or change.
    expect(build([0.3, 0.2, keep])).toMatchObject({ q: 't\tx', y: 1, id: BYTES_ID });
    expect(build([0.3, 0.25, keep])).toMatchObject({ q: 't\tx', y: 0, id: BYTES_ID });
    expect(build([0.3, 0.2, change, 0.7])).toMatchObject({ q: 't\tx', y: 0, id: BYTES_ID });
    // The depth: question, keep, or change to the other answers in order (0, 1, 3, 4 for a true 2).
    expect(build([0.6, keep])).toMatchObject({ q: 'd', y: 2, id: BYTES_ID });
    expect([0.1, 0.3, 0.6, 0.9].map((u) => build([0.6, change, u]).y)).toEqual([0, 1, 3, 4]);
    // A container's amount, seen in the period: question, coin, randomization.
    expect(build([0.9, 0.2, keep])).toMatchObject({ q: 'o\tc\tp', y: 1, id: BYTES_ID });
    expect(build([0.9, 0.2, change, 0])).toMatchObject({ q: 'o\tc\tp', y: 0, id: BYTES_ID });
    // Keeping is decided against p = e^ε/(e^ε + k − 1).
    const p = rrKeep(1, 2);
    expect(build([0.1, p * (1 - 1e-12)]).y).toBe(1);
    expect(build([0.1, p, 0.5]).y).toBe(0);
    // A first draw at 1 (out of [0, 1)) still picks a question: the last.
    expect(build([1, keep, keep]).q).toBe('o\tc\tp');
  });

  it('is the composition of the question draw, trueAnswer, rrPerturb and 16 bytes, for any seed', () => {
    const devices = population(50, 21);
    const list = [...QUESTIONS.slice(0, 30), 'd', ...QUESTIONS.slice(-8)];
    for (let seed = 0; seed < 400; seed++) {
      const summary = devices[seed % devices.length]!;
      const epsilon = [0.5, 1, 4, 10][seed % 4]!;
      const report = buildReport(summary, { epsilon, questions: list, day: DAY, rand: mulberry32(seed) });
      const r = mulberry32(seed);
      const q = list[Math.floor(r() * list.length)]!;
      const y = rrPerturb(trueAnswer(summary, q, r), answers(q), epsilon, r);
      const id = Buffer.from(Array.from({ length: 16 }, () => Math.floor(r() * 256))).toString('base64url');
      expect(report).toEqual({ format: 'attnflow-report', version: 2, day: DAY, epsilon, q, y, id });
    }
  });

  it('encodes the id’s 16 bytes as base64url without padding', () => {
    const ids = new Set<string>();
    const rand = mulberry32(12);
    const bad: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const { id } = buildReport(EMPTY, { epsilon: 1, questions: ['d'], day: DAY, rand });
      // 128 bits: the 22nd character carries the last 2 bits and four zero bits.
      if (!/^[A-Za-z0-9_-]{21}[AQgw]$/.test(id) || Buffer.from(id, 'base64url').toString('base64url') !== id) bad.push(id);
      ids.add(id);
    }
    expect(bad).toEqual([]);
    expect(ids.size).toBe(2000);
    // Bytes at the ends of the range, and a generator that returns 1 (clamped to 255).
    const all = (u: number) =>
      buildReport(EMPTY, { epsilon: 1, questions: ['d'], day: DAY, rand: scripted([0, 0, ...new Array(16).fill(u)]) });
    expect(all(0).id).toBe(Buffer.alloc(16, 0).toString('base64url'));
    expect(all(0.99999).id).toBe(Buffer.alloc(16, 255).toString('base64url'));
    expect(all(1).id).toBe(Buffer.alloc(16, 255).toString('base64url'));
  });

  it('draws the question uniformly from the list, whatever the summary', () => {
    const list = QUESTIONS.filter((q) => q.endsWith('\titem-0') || q === 'd' || q.includes('\tmore\t'));
    expect(list).toHaveLength(11);
    const counts = new Array<number>(list.length).fill(0);
    const REPORTS = 22_000;
    const rand = mulberry32(13);
    const devices = population(100, 14);
    for (let i = 0; i < REPORTS; i++)
      counts[list.indexOf(buildReport(devices[i % 100]!, { epsilon: 1, questions: list, day: DAY, rand }).q)]!++;
    expect(chi2(counts, new Array(list.length).fill(1 / list.length))).toBeLessThan(chi2Quantile999(list.length - 1));
    // The question does not depend on the summary: the same draws give the same question to every device.
    for (let seed = 0; seed < 100; seed++) {
      const qs = new Set(
        [EMPTY, ...devices.slice(0, 5)].map(
          (d) => buildReport(d, { epsilon: 1, questions: QUESTIONS, day: DAY, rand: mulberry32(seed) }).q,
        ),
      );
      expect(qs.size).toBe(1);
    }
  });

  it('uses the platform generator and today by default', () => {
    const spy = vi.spyOn(globalThis.crypto, 'getRandomValues');
    const before = utcDay(Date.now());
    const a = buildReport(EMPTY, { epsilon: 1, questions: QUESTIONS });
    const b = buildReport(EMPTY, { epsilon: 1, questions: QUESTIONS });
    const after = utcDay(Date.now());
    // The question, the randomization (one or two) and 16 bytes: 18 to 19 draws per report.
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(36);
    expect(spy.mock.calls.length).toBeLessThanOrEqual(38);
    expect(a.id).not.toBe(b.id);
    expect([before, after]).toContain(a.day);
    expect(validateReport(a)).toEqual({ ok: true, report: a });
    vi.restoreAllMocks();
  });
});

describe('buildReport: configuration errors', () => {
  afterEach(() => vi.restoreAllMocks());

  it('throws AttnflowConfigError, before any draw, for an ε outside (0, 10]', () => {
    for (const epsilon of [
      0,
      -0,
      -1,
      10.000001,
      11,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      '1',
      null,
      undefined,
    ]) {
      const rand = counting(mulberry32(1));
      expect(() => buildReport(EMPTY, { epsilon: epsilon as number, questions: QUESTIONS, day: DAY, rand }), String(epsilon)).toThrow(
        AttnflowConfigError,
      );
      expect(rand.count()).toBe(0);
    }
    expect(() => buildReport(EMPTY, { epsilon: 11, questions: QUESTIONS, day: DAY })).toThrow(
      'attnflow: report epsilon: expected a finite number in (0, 10], received 11',
    );
    for (const epsilon of [1e-9, 0.01, 10]) expect(buildReport(EMPTY, { epsilon, questions: QUESTIONS, day: DAY }).epsilon).toBe(epsilon);
  });

  it('throws AttnflowConfigError for a day that is not YYYY-MM-DD', () => {
    for (const day of ['2026-02-30', '06-12-2026', '2026-1-1', '', '2026-12-06T00:00:00Z', 20261206, null]) {
      expect(() => buildReport(EMPTY, { epsilon: 1, questions: QUESTIONS, day: day as string }), String(day)).toThrow(AttnflowConfigError);
      expect(() => buildReport(EMPTY, { epsilon: 1, questions: QUESTIONS, day: day as string })).toThrow(
        /^attnflow: report day: expected a UTC date YYYY-MM-DD, received /,
      );
    }
  });

  it('throws AttnflowConfigError for an empty list or one with anything but a question', () => {
    const lists: unknown[] = [
      [],
      ['x'],
      ['v\titem-0', 'bad'],
      ['v\titem-0', 't\titem-0\t2'], // a v1 value
      ['v\titem-0', ''],
      ['v\ta\tb'],
      [1],
      [null],
      'd',
      undefined,
      null,
      { 0: 'd', length: 1 },
    ];
    for (const questions of lists) {
      const rand = counting(mulberry32(1));
      expect(() => buildReport(EMPTY, { epsilon: 1, questions: questions as string[], day: DAY, rand }), JSON.stringify(questions)).toThrow(
        AttnflowConfigError,
      );
      expect(() => buildReport(EMPTY, { epsilon: 1, questions: questions as string[], day: DAY })).toThrow(
        /^attnflow: report questions: expected a non-empty list of report questions, received /,
      );
      expect(rand.count()).toBe(0);
    }
  });
});

describe('ε accounting', () => {
  it('carries exactly the ε asked for, once per report', () => {
    for (const epsilon of [1e-6, 0.05, 0.5, 1, Math.LN2, 3.3, 4, 9.999, 10]) {
      const report = buildReport(population(1, 2)[0]!, { epsilon, questions: QUESTIONS, day: DAY, rand: mulberry32(2) });
      expect(Object.is(report.epsilon, epsilon)).toBe(true);
      expect(Object.keys(report).filter((k) => k === 'epsilon')).toHaveLength(1);
    }
  });

  it('spends no more than ε: between any two devices, each answer’s probability differs by at most e^ε, and by e^ε at the extremes', () => {
    const x = (over: Parameters<typeof item>[1]): PeriodSummary => ({ items: [item('x', over)], depths: [], containers: [] });
    // For each question, a device whose true answer is 1 (the bottom for the depth), and one at half the amount's cap.
    const cases: [string, PeriodSummary, number][] = [
      ['v\tx', x({}), 1],
      ['w\tx', x({}), 1],
      ['a\tx', x({}), 1],
      ['k\tx', x({ attended: 0, clicks: 0, skipped: 1, attentionMs: 100 }), 1],
      ['c\tx', x({}), 1],
      ['t\tx', x({ attentionMs: 1e7 }), 1],
      ['t\tx', x({ attentionMs: 15_000 }), 0.5],
      ['d', { items: [], depths: [1, 1, 0.3], containers: [] }, 1],
      ['n\tc\tp', { items: [], depths: [], containers: [{ container: 'c', arm: 'p', attentionMs: 0 }] }, 1],
      ['o\tc\tp', { items: [], depths: [], containers: [{ container: 'c', arm: 'p', attentionMs: 1e7 }] }, 1],
      ['o\tc\tp', { items: [], depths: [], containers: [{ container: 'c', arm: 'p', attentionMs: 15_000 }] }, 0.5],
    ];
    const REPORTS = 6000;
    const rand = mulberry32(40);
    const measured: Record<string, number[]> = {};
    const freq = (s: PeriodSummary, q: string, epsilon: number) => {
      const counts = new Array<number>(answers(q)).fill(0);
      for (let i = 0; i < REPORTS; i++) counts[buildReport(s, { epsilon, questions: [q], day: DAY, rand }).y]!++;
      return counts.map((c) => c / REPORTS);
    };
    for (const epsilon of [1, 3]) {
      const empty = new Map<string, number[]>();
      for (const [q, full, share] of cases) {
        const k = answers(q);
        const p = rrKeep(epsilon, k);
        const other = (1 - p) / (k - 1);
        // The empty device answers 0; the other device answers `top` with probability `share`.
        const top = k - 1;
        const a = freq(full, q, epsilon);
        if (!empty.has(q)) empty.set(q, freq(EMPTY, q, epsilon));
        const b = empty.get(q)!;
        const logRatios = a.map((f, y) => Math.log(f / b[y]!));
        measured[`${q} ε${epsilon} share ${share}`] = logRatios;
        for (let y = 0; y < k; y++) {
          const pa = share * (y === top ? p : other) + (1 - share) * (y === 0 ? p : other);
          const pb = y === 0 ? p : other;
          const expected = Math.log(pa / pb);
          // The log ratio of two frequencies: its standard deviation by the delta method.
          const sd = Math.sqrt((1 - pa) / (REPORTS * pa) + (1 - pb) / (REPORTS * pb));
          expect(Math.abs(logRatios[y]! - expected), `${q} ε ${epsilon} y ${y}`).toBeLessThan(4.5 * sd);
          expect(Math.abs(expected)).toBeLessThanOrEqual(epsilon + 1e-12);
          // A certain answer spends the whole ε, not less: its extreme ratios are e^ε and e^−ε.
          if (share === 1 && (y === top || y === 0)) expect(expected).toBeCloseTo(y === top ? epsilon : -epsilon, 12);
        }
      }
    }
    if (process.env.ATTNFLOW_REPORT_SIM) console.log(JSON.stringify(measured));
  });
});
