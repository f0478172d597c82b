/**
 * The device's bounded value list and its report: at most K values per metric and exactly M slots
 * whatever the log holds, values made only of ids, container names and buckets, the report with
 * exactly the contract's keys, and the budget it spends being the one asked for.
 */
import { describe, expect, it } from 'vitest';
import { AttnflowConfigError } from '../../../src/lib/errors';
import { mulberry32 } from '../../../src/model/hash';
import { validateReport } from '../../../src/report/estimate';
import { olhDomain, olhPerturb } from '../../../src/report/olh';
import type { PeriodItem, PeriodSummary } from '../../../src/report/types';
import {
  ATTENTION_EDGES_MS,
  ATTENTION_MIDPOINTS_MS,
  attentionBucket,
  buildReport,
  DEPTH_EDGES,
  DUMMY,
  depthBucket,
  encodeValues,
  METRICS,
  REPORT_M,
  SLOTS,
  utcDay,
} from '../../../src/report/values';
import { CATALOGUE, CONTAINERS, population } from './fixtures';

const DAY = '2026-12-06';
const NOW = Date.parse('2026-12-06T15:00:00Z');
const empty: PeriodSummary = { items: [], depths: [], containers: [] };

/** The real values of each metric in `values`. */
function perMetric(values: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of values) if (v !== DUMMY) (out[v[0]!] ??= []).push(v);
  return out;
}

const item = (itemId: string, over: Partial<PeriodItem> = {}): PeriodItem => ({
  itemId,
  views: 1,
  viewable: 1,
  attended: 1,
  skipped: 0,
  clicks: 1,
  attentionMs: 5000,
  ...over,
});

describe('buckets', () => {
  it('follow the contract edges and midpoints', () => {
    expect(REPORT_M).toBe(56);
    expect(ATTENTION_EDGES_MS).toEqual([0, 1000, 3000, 10000, 30000, 120000]);
    expect(ATTENTION_MIDPOINTS_MS).toEqual([500, 2000, 6500, 20000, 75000, 180000]);
    expect(DEPTH_EDGES).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect([0, 999, 1000, 2999, 3000, 9999, 10000, 29999, 30000, 119999, 120000, 1e9].map(attentionBucket)).toEqual([
      0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5,
    ]);
    expect([0, 0.2499, 0.25, 0.5, 0.75, 0.999, 1].map(depthBucket)).toEqual([0, 0, 1, 2, 3, 3, 4]);
  });
});

describe('encodeValues: contribution bounds', () => {
  it('takes at most K values per metric, the most attended items first, ties by id', () => {
    const items = [
      ...Array.from({ length: 50 }, (_, i) => item(`id-${String(i).padStart(2, '0')}`, { attentionMs: 1000 + (i % 25) * 100 })),
      ...Array.from({ length: 10 }, (_, i) => item(`s-${i}`, { attended: 0, clicks: 0, skipped: 1, attentionMs: 100 + i })),
    ];
    const depths = [0.1, 0.3, 0.3, 0.6, 0.8, 1, 1, 1];
    const containers = CONTAINERS.flatMap((container) =>
      [500, 2000, 7000, 20000].flatMap((attentionMs) => [
        { container, arm: 'p' as const, attentionMs },
        { container, arm: 'h' as const, attentionMs },
      ]),
    );
    const values = encodeValues({ items, depths, containers });
    expect(values).toHaveLength(REPORT_M);
    const by = perMetric(values);
    for (const m of METRICS) expect(by[m]).toHaveLength(SLOTS[m]);
    // Attention 3400 ms: ids 24 and 49; then 3300: 23 and 48; ... ties broken by id.
    expect(by.v).toEqual(['id-24', 'id-49', 'id-23', 'id-48', 'id-22', 'id-47', 'id-21', 'id-46'].map((id) => `v\t${id}`));
    expect(by.k).toEqual(['s-9', 's-8', 's-7', 's-6', 's-5', 's-4', 's-3', 's-2'].map((id) => `k\t${id}`));
    expect(by.t).toEqual(['id-24', 'id-49', 'id-23', 'id-48', 'id-22', 'id-47', 'id-21', 'id-46'].map((id) => `t\t${id}\t2`));
    // Five depth buckets seen, four kept: by views (bottom 3, [.25,.5) 2), ties by bucket.
    expect(by.d).toEqual(['d\t4', 'd\t1', 'd\t0', 'd\t2']);
    // Container values by attention: the two 20 s values of each container... the heaviest four.
    expect(by.o).toEqual(['o\tfor-you\th\t3', 'o\tfor-you\tp\t3', 'o\tmore\th\t3', 'o\tmore\tp\t3']);
  });

  it('holds for every device of a population: ≤ K per metric, exactly M slots, no value twice', () => {
    const bad: string[] = [];
    for (const [i, summary] of population(3000, 11).entries()) {
      const values = encodeValues(summary);
      const counts = perMetric(values);
      const real = values.filter((v) => v !== DUMMY);
      const over = METRICS.filter((m) => (counts[m] ?? []).length > SLOTS[m]);
      if (values.length !== REPORT_M || over.length > 0 || new Set(real).size !== real.length) bad.push(`device ${i}`);
    }
    expect(bad).toEqual([]);
  });

  it('pads with dummies so that an empty log and a full one give lists of one length, metric by metric', () => {
    const none = encodeValues(empty);
    expect(none).toEqual(new Array(REPORT_M).fill(DUMMY));
    const one = encodeValues({ items: [item('x')], depths: [0.5], containers: [] });
    expect(one).toHaveLength(REPORT_M);
    expect(one.filter((v) => v !== DUMMY)).toEqual(['v\tx', 'w\tx', 'a\tx', 'c\tx', 't\tx\t2', 'd\t2']);
    // Each metric keeps its own block of slots.
    let at = 0;
    for (const m of METRICS) {
      const block = one.slice(at, at + SLOTS[m]);
      expect(block.every((v) => v === DUMMY || v[0] === m)).toBe(true);
      at += SLOTS[m];
    }
    // Reports of both look alike: same keys, same m.
    const a = buildReport(empty, { epsilon: 1, day: DAY, rand: mulberry32(1) });
    const b = buildReport(
      { items: Array.from({ length: 20 }, (_, i) => item(`i${i}`)), depths: [1], containers: [] },
      { epsilon: 1, day: DAY, rand: mulberry32(1) },
    );
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(a.m).toBe(b.m);
  });

  it('applies the attended and skipped rules over the period', () => {
    const values = encodeValues({
      items: [
        // Two short views that add up to an attended second.
        item('sum', { attended: 0, clicks: 0, attentionMs: 1200, skipped: 2 }),
        // Skipped in one view, attended in another: attended, not skipped.
        item('both', { attended: 1, skipped: 1, clicks: 0, attentionMs: 4000 }),
        // Skipped and never attended.
        item('skip', { attended: 0, skipped: 1, clicks: 0, attentionMs: 300 }),
        // A click with little attention is attended.
        item('click', { attended: 0, skipped: 0, clicks: 1, attentionMs: 100 }),
        // Not viewable, never clicked.
        item('quiet', { viewable: 0, attended: 0, skipped: 0, clicks: 0, attentionMs: 0 }),
      ],
      depths: [],
      containers: [],
    });
    const by = perMetric(values);
    expect(by.a).toEqual(['a\tboth', 'a\tsum', 'a\tclick']);
    expect(by.k).toEqual(['k\tskip']);
    expect(by.c).toEqual(['c\tclick']);
    expect(by.w).toEqual(['w\tboth', 'w\tsum', 'w\tskip', 'w\tclick']);
    expect(by.t).toEqual(['t\tboth\t2', 't\tsum\t1', 't\tskip\t0', 't\tclick\t0', 't\tquiet\t0']);
  });

  it('merges an item listed twice and ignores bad numbers', () => {
    const values = encodeValues({
      items: [
        item('a', { attentionMs: 800, clicks: 0 }),
        item('a', { attentionMs: 800, clicks: 0 }),
        item('b', { attentionMs: Number.NaN, clicks: -1 }),
      ],
      depths: [Number.NaN, Number.POSITIVE_INFINITY],
      containers: [],
    });
    const by = perMetric(values);
    expect(by.t).toEqual(['t\ta\t1', 't\tb\t0']);
    expect(by.c).toBeUndefined();
    expect(by.d).toBeUndefined();
  });
});

describe('encodeValues: nothing but ids, containers and buckets', () => {
  it('never carries other text of the summary, and drops names that cannot be encoded', () => {
    const rand = mulberry32(3);
    const secret = ['/account/settings?user=ann', 'Ann Example', 'Mozilla/5.0', '1765000000000'];
    const bad: string[] = [];
    for (let i = 0; i < 300; i++) {
      const base = population(1, 1000 + i)[0]!;
      const summary = {
        ...base,
        path: secret[0],
        items: [
          ...base.items.map((it) => ({ ...it, title: secret[1], url: secret[0], at: Number(secret[3]) })),
          item('bad\tid'),
          item(`nul${DUMMY}`),
          item(''),
        ],
        containers: [
          ...base.containers,
          { container: 'x\ty', arm: 'p' as const, attentionMs: 1e6 },
          { container: 'z', arm: 'q' as 'p', attentionMs: 1e6 },
        ],
        userAgent: secret[2],
      } as PeriodSummary;
      const ids = new Set(summary.items.map((it) => it.itemId));
      const value = new RegExp(
        `^(?:[vwakc]\\t(?<a>[^\\t\\u0000]+)|t\\t(?<b>[^\\t\\u0000]+)\\t[0-5]|d\\t[0-4]|o\\t(?:${CONTAINERS.join('|')})\\t[ph]\\t[0-5]|\\u0000)$`,
      );
      for (const v of encodeValues(summary)) {
        const m = value.exec(v);
        const id = m?.groups?.a ?? m?.groups?.b;
        const ok = m !== null && (id === undefined || (ids.has(id) && CATALOGUE.includes(id))) && !secret.some((s) => v.includes(s));
        if (!ok) bad.push(JSON.stringify(v));
      }
      const report = buildReport(summary, { epsilon: 1, day: DAY, rand });
      const text = JSON.stringify(report);
      for (const s of [...secret, ...ids].filter((s) => s.length > 3)) if (text.includes(s)) bad.push(text);
    }
    expect(bad).toEqual([]);
  });
});

describe('buildReport', () => {
  it('has exactly the contract keys, fits in 1 KB and passes the collector check', () => {
    const report = buildReport(population(1, 5)[0]!, { epsilon: 10, day: DAY, rand: mulberry32(9) });
    expect(Object.keys(report).sort()).toEqual(['day', 'epsilon', 'format', 'g', 'id', 'm', 's', 'version', 'y']);
    expect(report.format).toBe('attnflow-report');
    expect(report.version).toBe(1);
    expect(report.m).toBe(56);
    expect(report.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new TextEncoder().encode(JSON.stringify(report)).length).toBeLessThanOrEqual(1024);
    expect(validateReport(JSON.parse(JSON.stringify(report)), NOW)).toEqual({ ok: true, report });
  });

  it('spends exactly the ε asked for, with g from that ε', () => {
    for (const epsilon of [0.05, 0.5, 1, Math.LN2, 3.3, 4, 10]) {
      const report = buildReport(empty, { epsilon, day: DAY, rand: mulberry32(2) });
      expect(report.epsilon).toBe(epsilon);
      expect(report.g).toBe(olhDomain(epsilon));
    }
  });

  it('draws the slot first, then randomizes it, then the id', () => {
    const summary = population(1, 77)[0]!;
    const values = encodeValues(summary);
    for (let seed = 0; seed < 50; seed++) {
      const report = buildReport(summary, { epsilon: 2, day: DAY, rand: mulberry32(seed) });
      const r = mulberry32(seed);
      const slot = Math.floor(r() * REPORT_M);
      expect({ g: report.g, s: report.s, y: report.y }).toEqual(olhPerturb(values[slot]!, 2, r));
    }
  });

  it('encodes 16 bytes as base64url', () => {
    const bytes = [0xfb, 0xff, 0x00, 0x3e, 0x3f, 0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0xff];
    let i = -4;
    // The slot, the seed, keeping (no: 0.5 > p at ε = 1) and the other answer come first.
    const rand = () => (i++ < 0 ? 0.5 : (bytes[i - 1]! + 0.5) / 256);
    const report = buildReport(empty, { epsilon: 1, day: DAY, rand });
    expect(report.id).toBe(Buffer.from(bytes).toString('base64url'));
  });

  it('uses the platform generator and today by default', () => {
    const a = buildReport(empty, { epsilon: 1 });
    const b = buildReport(empty, { epsilon: 1 });
    expect(a.id).not.toBe(b.id);
    expect([utcDay(Date.now() - 1000), utcDay(Date.now())]).toContain(a.day);
  });

  it('throws AttnflowConfigError naming what it expected for an ε outside (0, 10] or a bad day', () => {
    for (const epsilon of [0, -1, 10.01, Number.NaN, Number.POSITIVE_INFINITY, '1' as unknown as number, undefined as unknown as number]) {
      expect(() => buildReport(empty, { epsilon, day: DAY })).toThrow(AttnflowConfigError);
    }
    expect(() => buildReport(empty, { epsilon: 11, day: DAY })).toThrow(
      'attnflow: report epsilon: expected a finite number in (0, 10], received 11',
    );
    for (const day of ['2026-02-30', '06-12-2026', '2026-1-1', '']) {
      expect(() => buildReport(empty, { epsilon: 1, day })).toThrow(/report day: expected a UTC date YYYY-MM-DD/);
    }
  });
});
