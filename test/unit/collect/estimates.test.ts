/**
 * The estimates answer on a simulated fleet: devices build their reports with the SDK's own
 * `buildReport`, the collector estimates from them, and the true counts (from each device's bounded
 * value set) fall inside the 95% intervals, items, topics, depth and containers alike.
 */
import { describe, expect, it } from 'vitest';
import type { Catalogue } from '../../../src/collect/catalogue';
import { buildEstimates, candidateValues, lastDays } from '../../../src/collect/estimates';
import { mulberry32 } from '../../../src/lib/random';
import type { Interval } from '../../../src/report/estimate';
import type { PeriodSummary, PrivateReport } from '../../../src/report/types';
import {
  ATTENTION_MIDPOINTS_MS,
  attentionValue,
  buildReport,
  containerValue,
  depthValue,
  encodeValues,
  itemValue,
} from '../../../src/report/values';

const CATALOGUE: Catalogue = {
  items: [
    { id: 'front', topics: ['news'] },
    { id: 'derby', topics: ['sport', 'news'] },
    { id: 'transfer', topics: ['sport'] },
    { id: 'soup', topics: ['food'] },
    { id: 'cake', topics: ['food'] },
    { id: 'rare', topics: ['news'] },
  ],
  containers: ['for-you'],
};
/** Chance that a device had each item on screen. */
const POPULARITY = [0.9, 0.6, 0.45, 0.3, 0.2, 0.02];

function device(rand: () => number): PeriodSummary {
  const items = CATALOGUE.items.flatMap((item, i) => {
    if (rand() >= POPULARITY[i]!) return [];
    const attentionMs = rand() < 0.35 ? Math.round(rand() * 900) : Math.round(Math.exp(6 + rand() * 6));
    const clicks = rand() < 0.1 ? 1 : 0;
    const attended = attentionMs >= 1000 || clicks > 0 ? 1 : 0;
    return [
      {
        itemId: item.id,
        views: 1,
        viewable: rand() < 0.7 ? 1 : 0,
        attended,
        skipped: attended ? 0 : rand() < 0.5 ? 1 : 0,
        clicks,
        attentionMs,
      },
    ];
  });
  const depths = Array.from({ length: 1 + Math.floor(rand() * 2) }, () => (rand() < 0.25 ? 1 : rand()));
  const arm = rand() < 0.5 ? 'p' : 'h';
  const containers = [{ container: 'for-you', arm, attentionMs: Math.round(Math.exp(7 + rand() * (arm === 'p' ? 4 : 3))) } as const];
  return { items, depths, containers };
}

describe('estimates on a simulated fleet', () => {
  it('hold the true counts within their 95% intervals', async () => {
    const rand = mulberry32(20261207);
    const day = lastDays(1, Date.now())[0]!;
    const n = 24_000;
    const truth = new Map<string, number>();
    const reports: PrivateReport[] = [];
    for (let i = 0; i < n; i++) {
      const summary = device(rand);
      for (const v of new Set(encodeValues(summary))) truth.set(v, (truth.get(v) ?? 0) + 1);
      // Two privacy levels: the estimator counts each group on its own and sums.
      reports.push(buildReport(summary, { epsilon: i % 2 ? 4 : 6, day, rand }));
    }
    const t0 = performance.now();
    const res = await buildEstimates(CATALOGUE, [day], reports, 100);
    const ms = performance.now() - t0;
    expect(res.suppressed).toBe(false);
    expect(res.reports).toBe(n);
    expect(res.privacy.epsilonPerReport).toEqual([4, 6]);
    expect(candidateValues(CATALOGUE).length).toBe(CATALOGUE.items.length * 11 + 5 + 12);
    // 24 000 reports × 83 values, counted in well under a few seconds.
    expect(ms).toBeLessThan(5000);

    const count = (v: string): number => truth.get(v) ?? 0;
    const checks: { what: string; truth: number; e: Interval }[] = [];
    const check = (what: string, t: number, e: Interval): void => void checks.push({ what, truth: t, e });
    const sums = (ids: string[]) => {
      const metric = (tag: 'v' | 'w' | 'a' | 'k' | 'c') => ids.reduce((s, id) => s + count(itemValue(tag, id)), 0);
      const attention = ids.reduce(
        (s, id) => s + ATTENTION_MIDPOINTS_MS.reduce((a, mid, b) => a + mid * count(attentionValue(id, b)), 0),
        0,
      );
      return {
        views: metric('v'),
        viewable: metric('w'),
        attended: metric('a'),
        skipped: metric('k'),
        clicks: metric('c'),
        attentionMs: attention,
      };
    };
    const checkAll = (what: string, e: Record<string, Interval>, t: ReturnType<typeof sums>): void => {
      for (const k of ['views', 'viewable', 'attended', 'skipped', 'clicks', 'attentionMs'] as const) check(`${what} ${k}`, t[k], e[k]!);
      check(`${what} viewableRate`, t.views ? t.viewable / t.views : 0, e.viewableRate!);
      check(`${what} skipRate`, t.views ? t.skipped / t.views : 0, e.skipRate!);
    };
    for (const item of res.items) checkAll(`item ${item.id}`, item, sums([item.id]));
    for (const topic of res.topics) {
      checkAll(`topic ${topic.id}`, topic, sums(CATALOGUE.items.filter((i) => i.topics.includes(topic.id)).map((i) => i.id)));
    }
    for (const d of res.depth) check(`depth ${d.bucket}`, count(depthValue(d.bucket)), d.views);
    const c = res.containers[0]!;
    const arm = (a: 'p' | 'h') => ({
      views: ATTENTION_MIDPOINTS_MS.reduce((s, _, b) => s + count(containerValue('for-you', a, b)), 0),
      attentionMs: ATTENTION_MIDPOINTS_MS.reduce((s, mid, b) => s + mid * count(containerValue('for-you', a, b)), 0),
    });
    const [p, h] = [arm('p'), arm('h')];
    check('for-you personalized views', p.views, c.personalized.views);
    check('for-you personalized attentionMs', p.attentionMs, c.personalized.attentionMs);
    check('for-you holdout views', h.views, c.holdout.views);
    check('for-you holdout attentionMs', h.attentionMs, c.holdout.attentionMs);
    check('for-you lift', p.attentionMs / p.views / (h.attentionMs / h.views) - 1, c.lift);

    const inside = checks.filter(({ truth: t, e }) => e.low <= t && t <= e.high);
    const outside = checks.filter((x) => !inside.includes(x)).map(({ what, truth: t, e }) => `${what}: ${t} not in [${e.low}, ${e.high}]`);
    // 95% intervals: a few of ~80 may miss, never many, and none by far.
    expect(inside.length / checks.length, outside.join('\n')).toBeGreaterThanOrEqual(0.88);
    for (const { what, truth: t, e } of checks) {
      const half = (e.high - e.low) / 2;
      expect(Math.abs(t - e.estimate), what).toBeLessThanOrEqual(2 * half + 1e-9);
    }
    // The intervals say something: the most viewed item is known to within ±25%.
    const front = res.items[0]!;
    expect((front.views.high - front.views.low) / 2 / count(itemValue('v', 'front'))).toBeLessThan(0.25);
  });
});
