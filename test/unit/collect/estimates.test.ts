/**
 * The estimates answer (format v2) on simulated fleets: devices build their reports with the SDK's
 * own `buildReport` over the catalogue's questions, the collector estimates from them, and the
 * estimates are compared with the truth the simulation knows, computed here from the devices'
 * summaries by the definitions of the report's questions (attention clipped at its caps). Each
 * estimate's distance to the truth is measured in standard deviations worked out from the
 * mechanism (k-ary randomized response over the reports that answered the question), the intervals
 * the collector gives are checked against that same variance, and repeated fleets show the
 * estimates unbiased and the intervals covering the truth about 95% of the time.
 */
import { describe, expect, it } from 'vitest';
import type { Catalogue } from '../../../src/collect/catalogue';
import { buildEstimates, type EstimatesResponse, lastDays } from '../../../src/collect/estimates';
import { mulberry32 } from '../../../src/lib/random';
import { type Interval, Z95 } from '../../../src/report/estimate';
import { answers, DEPTH_EDGES, ITEM_CAP_MS, questionsOf, VIEW_CAP_MS } from '../../../src/report/questions';
import { rrKeep } from '../../../src/report/rr';
import type { ContainerView, PeriodItem, PeriodSummary, PrivateReport } from '../../../src/report/types';
import { buildReport } from '../../../src/report/values';

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
const QUESTIONS = questionsOf(CATALOGUE);
/** Chance that a device had each item on screen. */
const POPULARITY = [0.9, 0.6, 0.45, 0.3, 0.2, 0.02];

/**
 * One device's period. Items: one to three views, a third glanced at (< 1 s), the rest read for a
 * log-uniform time up to ~160 s (above the 30 s cap for over a quarter of them); a click now and then.
 * Over several views an item may be skipped in one and read in another, or read only in sum (no
 * view's attention reaching 1 s alone). Depths: one to three views, a quarter at the bottom. The
 * container: most devices see it, in one arm, one to three views each; the personalized order is
 * read longer, up to ~160 s a view, a third of its views above the 30 s cap; the holdout up to ~22 s.
 */
function device(rand: () => number): PeriodSummary {
  const items: PeriodItem[] = [];
  CATALOGUE.items.forEach((item, i) => {
    if (rand() >= POPULARITY[i]!) return;
    const views = 1 + Math.floor(rand() * 3);
    const attentionMs = rand() < 0.35 ? Math.round(rand() * 900) : Math.round(Math.exp(6 + rand() * 6));
    const clicks = rand() < 0.1 ? 1 + Math.floor(rand() * 2) : 0;
    const read = attentionMs >= 1000 || clicks > 0;
    // Views attended on their own: none, when the attention was spread over several views and no click.
    const attended = read && !(views > 1 && !clicks && rand() < 0.3) ? 1 : 0;
    items.push({
      itemId: item.id,
      views,
      viewable: rand() < 0.7 ? 1 + Math.floor(rand() * views) : 0,
      attended,
      // Skipped in one view, read in another: not skipped over the period.
      skipped: (!read || views > 1) && rand() < 0.5 ? 1 : 0,
      clicks,
      attentionMs,
    });
  });
  const depths = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => (rand() < 0.25 ? 1 : rand()));
  const containers: ContainerView[] = [];
  if (rand() < 0.8) {
    const arm = rand() < 0.6 ? 'p' : 'h';
    for (let v = Math.floor(rand() * 3); v >= 0; v--) {
      containers.push({ container: 'for-you', arm, attentionMs: Math.round(Math.exp(7 + rand() * (arm === 'p' ? 5 : 3))) });
    }
  }
  return { items, depths, containers };
}

/** The median of a non-empty list. */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Per question, the population's true mean answer (for the depth, per bucket): the share of devices
 * answering yes, or for an amount the mean of amount/cap, clipped at the cap. Written from the
 * questions' definitions, not with the device's code.
 */
function truthOf(fleet: readonly PeriodSummary[]): Map<string, number[]> {
  const sums = new Map<string, number[]>(QUESTIONS.map((q) => [q, new Array<number>(answers(q)).fill(0)]));
  const add = (q: string, value: number, bucket = 1): void => void (sums.get(q)![bucket]! += value);
  for (const s of fleet) {
    for (const it of s.items) {
      const attended = it.attended > 0 || it.attentionMs >= 1000 || it.clicks > 0;
      add(`v\t${it.itemId}`, +(it.views > 0));
      add(`w\t${it.itemId}`, +(it.viewable > 0));
      add(`a\t${it.itemId}`, +attended);
      add(`k\t${it.itemId}`, +(it.skipped > 0 && !attended));
      add(`c\t${it.itemId}`, +(it.clicks > 0));
      add(`t\t${it.itemId}`, Math.min(ITEM_CAP_MS, it.attentionMs) / ITEM_CAP_MS);
    }
    const m = median(s.depths);
    add('d', 1, m >= 1 ? 4 : Math.floor(m * 4));
    for (const arm of ['p', 'h'] as const) {
      const views = s.containers.filter((c) => c.arm === arm);
      if (!views.length) continue;
      add(`n\tfor-you\t${arm}`, 1);
      add(`o\tfor-you\t${arm}`, views.reduce((a, c) => a + Math.min(VIEW_CAP_MS, c.attentionMs), 0) / views.length / VIEW_CAP_MS);
    }
  }
  for (const shares of sums.values()) for (let y = 0; y < shares.length; y++) shares[y]! /= fleet.length;
  // The yes/no questions' "no" share, for completeness (every device answers 0 or 1).
  for (const [q, shares] of sums) if (q !== 'd') shares[0] = 1 - shares[1]!;
  return sums;
}

/** Per question, per ε, how many reports answered it. */
type ReportGroups = Map<string, Map<number, number>>;

function groupsOf(reports: readonly PrivateReport[]): ReportGroups {
  const groups: ReportGroups = new Map();
  for (const r of reports) {
    let g = groups.get(r.q);
    if (!g) groups.set(r.q, (g = new Map()));
    g.set(r.epsilon, (g.get(r.epsilon) ?? 0) + 1);
  }
  return groups;
}

/**
 * The variance of the estimated share of answer `y` to `q`, from the mechanism: per ε, the m reports
 * that answered q see answer y with probability P = q_ε + (p_ε − q_ε)·f (f the true share), so the
 * share (c/m − q_ε)/(p_ε − q_ε) has variance P(1 − P)/(m (p_ε − q_ε)²); groups are pooled with
 * weights w = m·(p_ε − q_ε)², as the collector does: Σ w²·var / (Σ w)².
 */
function shareVariance(groups: ReportGroups, truth: Map<string, number[]>, q: string, y = 1): number {
  const k = answers(q);
  const f = truth.get(q)![y]!;
  let weights = 0;
  let variance = 0;
  for (const [epsilon, m] of groups.get(q) ?? []) {
    const p = rrKeep(epsilon, k);
    const other = (1 - p) / (k - 1);
    const P = other + (p - other) * f;
    const w = m * (p - other) ** 2;
    variance += w * w * ((P * (1 - P)) / (m * (p - other) ** 2));
    weights += w;
  }
  return variance / (weights * weights);
}

/** One quantity: the truth, the collector's estimate and interval, and the mechanism's standard deviation. */
interface Check {
  what: string;
  truth: number;
  e: Interval;
  sd: number;
}

/** `fleet`'s truths and standard deviations next to `res`'s estimates, counts, sums, depth and containers; rates and lift apart. */
function compare(
  res: EstimatesResponse,
  fleet: readonly PeriodSummary[],
  reports: readonly PrivateReport[],
): { counts: Check[]; ratios: Check[]; truth: Map<string, number[]> } {
  const truth = truthOf(fleet);
  const groups = groupsOf(reports);
  const n = reports.length;
  const counts: Check[] = [];
  const ratios: Check[] = [];
  /** A sum of w·share(q) over `terms`, the truth and the standard deviation of its estimate (the terms are independent). */
  const sum = (terms: [string, number, number?][]): { truth: number; variance: number } => ({
    truth: terms.reduce((s, [q, w, y = 1]) => s + w * truth.get(q)![y]!, 0),
    variance: terms.reduce((s, [q, w, y = 1]) => s + w * w * shareVariance(groups, truth, q, y), 0),
  });
  const count = (what: string, terms: [string, number, number?][], e: Interval): { truth: number; variance: number } => {
    const t = sum(terms);
    counts.push({ what, truth: t.truth, e, sd: Math.sqrt(t.variance) });
    return t;
  };
  /** a/b with its delta-method variance. */
  const ratio = (what: string, a: { truth: number; variance: number }, b: { truth: number; variance: number }, e: Interval) => {
    const r = a.truth / b.truth;
    ratios.push({ what, truth: r, e, sd: Math.sqrt(a.variance + r * r * b.variance) / b.truth });
  };
  const itemChecks = (what: string, ids: string[], e: EstimatesResponse['items'][number] | EstimatesResponse['topics'][number]) => {
    const terms = (kind: string, w = n) => ids.map((id): [string, number] => [`${kind}\t${id}`, w]);
    const views = count(`${what} views`, terms('v'), e.views);
    const viewable = count(`${what} viewable`, terms('w'), e.viewable);
    count(`${what} attended`, terms('a'), e.attended);
    const skipped = count(`${what} skipped`, terms('k'), e.skipped);
    count(`${what} clicks`, terms('c'), e.clicks);
    count(`${what} attentionMs`, terms('t', n * ITEM_CAP_MS), e.attentionMs);
    ratio(`${what} viewableRate`, viewable, views, e.viewableRate);
    ratio(`${what} skipRate`, skipped, views, e.skipRate);
  };
  for (const item of res.items) itemChecks(`item ${item.id}`, [item.id], item);
  for (const topic of res.topics) {
    itemChecks(
      `topic ${topic.id}`,
      CATALOGUE.items.filter((i) => i.topics.includes(topic.id)).map((i) => i.id),
      topic,
    );
  }
  for (const d of res.depth) count(`depth ${d.bucket}`, [['d', n, d.bucket]], d.views);
  const c = res.containers[0]!;
  const vp = count('for-you personalized views', [['n\tfor-you\tp', n]], c.personalized.views);
  const ap = count('for-you personalized attentionMs', [['o\tfor-you\tp', n * VIEW_CAP_MS]], c.personalized.attentionMs);
  const vh = count('for-you holdout views', [['n\tfor-you\th', n]], c.holdout.views);
  const ah = count('for-you holdout attentionMs', [['o\tfor-you\th', n * VIEW_CAP_MS]], c.holdout.attentionMs);
  // The lift's standard deviation by the delta method on its log.
  const lift = ap.truth / vp.truth / (ah.truth / vh.truth);
  const logSd = Math.sqrt([ap, vp, ah, vh].reduce((s, x) => s + x.variance / (x.truth * x.truth), 0));
  ratios.push({ what: 'for-you lift', truth: lift - 1, e: c.lift, sd: lift * logSd });
  return { counts, ratios, truth };
}

/** `n` devices' periods from `seed`. */
const fleetOf = (n: number, seed: number): PeriodSummary[] => {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => device(rand));
};

/** Each device's report at ε = `epsilon(i)`. */
const reportsOf = (fleet: readonly PeriodSummary[], day: string, rand: () => number, epsilon: (i: number) => number): PrivateReport[] =>
  fleet.map((summary, i) => buildReport(summary, { epsilon: epsilon(i), questions: QUESTIONS, day, rand }));

const within = (x: Check): boolean => x.e.low <= x.truth && x.truth <= x.e.high;
const z = (x: Check): number => (x.e.estimate - x.truth) / x.sd;

describe('estimates on a simulated fleet', () => {
  const day = lastDays(1, Date.now())[0]!;

  it("hold the truth within their intervals, whose widths are the mechanism's", async () => {
    const fleet = fleetOf(40_000, 20261207);
    // Two privacy levels: the collector estimates each group on its own and pools them.
    const reports = reportsOf(fleet, day, mulberry32(99), (i) => (i % 2 ? 1 : 4));
    const t0 = performance.now();
    const res = await buildEstimates(CATALOGUE, [day], reports, 100);
    const ms = performance.now() - t0;
    expect(res.suppressed).toBe(false);
    expect(res.reports).toBe(fleet.length);
    expect(res.privacy.epsilonPerReport).toEqual([1, 4]);
    // 40 000 reports over 41 questions, in well under a few seconds.
    expect(ms).toBeLessThan(5000);
    // Each device drew one question uniformly: every question was answered by about n/41 devices.
    const perQuestion = QUESTIONS.map((q) => reports.filter((r) => r.q === q).length);
    const expected = fleet.length / QUESTIONS.length;
    for (const m of perQuestion) expect(Math.abs(m - expected)).toBeLessThan(5 * Math.sqrt(expected));

    const { counts, ratios, truth } = compare(res, fleet, reports);
    // The simulation clips: some items' attention and some container views are above their caps.
    expect(fleet.some((s) => s.items.some((i) => i.attentionMs > ITEM_CAP_MS))).toBe(true);
    expect(fleet.some((s) => s.containers.some((c) => c.attentionMs > VIEW_CAP_MS))).toBe(true);
    expect(counts).toHaveLength((6 + 3) * 6 + 5 + 4);
    expect(ratios).toHaveLength(2 * 9 + 1);
    const all = [...counts, ...ratios];
    const outside = all.filter((x) => !within(x)).map((x) => `${x.what}: ${x.truth} not in [${x.e.low}, ${x.e.high}]`);
    // 95% intervals: a few of 100 may miss, never many, and none by far.
    expect(outside.length, outside.join('\n')).toBeLessThanOrEqual(10);
    for (const x of all) expect(Math.abs(z(x)), `${x.what}: ${x.e.estimate} for ${x.truth}, sd ${x.sd}`).toBeLessThan(4);
    // The errors look like the mechanism's noise: their mean square is about 1 in standard deviations (2 with high probability).
    const meanSquare = counts.reduce((s, x) => s + z(x) ** 2, 0) / counts.length;
    expect(meanSquare).toBeGreaterThan(0.4);
    expect(meanSquare).toBeLessThan(2);
    // The intervals are ±1.96 of the mechanism's standard deviation, up to the sample's own share in the variance.
    for (const x of counts) {
      const half = (x.e.high - x.e.low) / 2;
      expect(half / (Z95 * x.sd), x.what).toBeGreaterThan(0.8);
      expect(half / (Z95 * x.sd), x.what).toBeLessThan(1.25);
      expect((x.e.high + x.e.low) / 2).toBeCloseTo(x.e.estimate, 6);
    }
    // The intervals say something: the most viewed item is known to within ±10%.
    const front = res.items[0]!;
    expect((front.views.high - front.views.low) / 2 / (truth.get('v\tfront')![1]! * fleet.length)).toBeLessThan(0.1);
  });

  it('sum a topic over its items, split the depth over all reports, and tell the attention per view and the lift', async () => {
    const fleet = fleetOf(40_000, 5);
    const reports = reportsOf(fleet, day, mulberry32(6), () => 2);
    const res = await buildEstimates(CATALOGUE, [day], reports, 100);
    expect(res.items.map((i) => i.id)).toEqual(CATALOGUE.items.map((i) => i.id));
    expect(res.items.map((i) => i.topics)).toEqual(CATALOGUE.items.map((i) => i.topics));

    // A topic is the sum of its items: estimates add up, and so do the variances (different questions, different devices).
    expect(res.topics.map((t) => t.id)).toEqual(['food', 'news', 'sport']);
    const members = { food: ['soup', 'cake'], news: ['front', 'derby', 'rare'], sport: ['derby', 'transfer'] } as const;
    for (const topic of res.topics) {
      const items = res.items.filter((i) => (members[topic.id as keyof typeof members] as readonly string[]).includes(i.id));
      expect(items).toHaveLength(members[topic.id as keyof typeof members].length);
      for (const key of ['views', 'viewable', 'attended', 'skipped', 'clicks', 'attentionMs'] as const) {
        const sum = items.reduce((s, i) => s + i[key].estimate, 0);
        expect(topic[key].estimate, `${topic.id} ${key}`).toBeCloseTo(sum, 6);
        const halves = items.reduce((s, i) => s + ((i[key].high - i[key].low) / 2) ** 2, 0);
        expect(((topic[key].high - topic[key].low) / 2) ** 2 / halves, `${topic.id} ${key}`).toBeCloseTo(1, 9);
      }
      // Its rates are of its sums, not sums of rates.
      expect(topic.viewableRate.estimate).toBeCloseTo(topic.viewable.estimate / topic.views.estimate, 9);
      expect(topic.skipRate.estimate).toBeCloseTo(topic.skipped.estimate / topic.views.estimate, 9);
    }

    // Every device answers the depth question: the buckets' counts add up to the reports exactly.
    expect(res.depth.map((d) => d.bucket)).toEqual(DEPTH_EDGES.map((_, b) => b));
    expect(res.depth.reduce((s, d) => s + d.views.estimate, 0)).toBeCloseTo(reports.length, 6);
    const truth = truthOf(fleet);
    const depthTruth = truth.get('d')!.map((f) => f * fleet.length);
    // A quarter of the views reach the bottom, so the median view does for fewer devices; the rest spread over the buckets.
    for (const d of res.depth) {
      const sd = Math.sqrt(shareVariance(groupsOf(reports), truth, 'd', d.bucket)) * fleet.length;
      expect(Math.abs(d.views.estimate - depthTruth[d.bucket]!), `bucket ${d.bucket}`).toBeLessThan(4 * sd);
    }

    // Containers: devices per arm, the attention per view (Σ per-view attention ÷ devices), the lift.
    const c = res.containers[0]!;
    expect(c.id).toBe('for-you');
    const arms = { p: c.personalized, h: c.holdout };
    const perView: Record<string, number> = {};
    for (const arm of ['p', 'h'] as const) {
      const views = fleet.filter((s) => s.containers.some((v) => v.arm === arm));
      const perDevice = views.map((s) => {
        const own = s.containers.filter((v) => v.arm === arm);
        return own.reduce((a, v) => a + Math.min(VIEW_CAP_MS, v.attentionMs), 0) / own.length;
      });
      const trueViews = views.length;
      const trueAttention = perDevice.reduce((a, b) => a + b, 0);
      perView[arm] = trueAttention / trueViews;
      const e = arms[arm];
      expect(e.views.low <= trueViews && trueViews <= e.views.high, `${arm} views ${trueViews} in ${JSON.stringify(e.views)}`).toBe(true);
      expect(
        e.attentionMs.low <= trueAttention && trueAttention <= e.attentionMs.high,
        `${arm} attention ${trueAttention} in ${JSON.stringify(e.attentionMs)}`,
      ).toBe(true);
      // The dashboard's attention per view, attentionMs/views, against the true mean per view, within 4 sd (delta method).
      const sdA = (e.attentionMs.high - e.attentionMs.low) / 2 / Z95;
      const sdV = (e.views.high - e.views.low) / 2 / Z95;
      const estimate = e.attentionMs.estimate / e.views.estimate;
      const sd = Math.sqrt(sdA ** 2 + estimate ** 2 * sdV ** 2) / e.views.estimate;
      expect(Math.abs(estimate - perView[arm]!), `${arm} per view ${estimate} for ${perView[arm]}`).toBeLessThan(4 * sd);
    }
    // The personalized order is read longer: the lift is positive, its interval excludes 0 and holds the truth.
    const lift = perView.p! / perView.h! - 1;
    expect(lift).toBeGreaterThan(0.3);
    expect(c.lift.low).toBeGreaterThan(0);
    expect(c.lift.low <= lift && lift <= c.lift.high, `lift ${lift} in ${JSON.stringify(c.lift)}`).toBe(true);
    expect(c.lift.estimate).toBeCloseTo(
      c.personalized.attentionMs.estimate / c.personalized.views.estimate / (c.holdout.attentionMs.estimate / c.holdout.views.estimate) - 1,
      9,
    );
  });

  it('are unbiased, and their intervals cover the truth about 95% of the time, over repeated reporting', async () => {
    // One population, reported on again and again: only the devices' randomness changes.
    const fleet = fleetOf(3000, 11);
    const rand = mulberry32(12);
    const runs = 200;
    const errors = new Map<string, { sum: number; squares: number; covered: number; sd: number }>();
    let ratioCovered = 0;
    let ratioChecks = 0;
    for (let run = 0; run < runs; run++) {
      const reports = reportsOf(fleet, day, rand, () => 2);
      const { counts, ratios } = compare(await buildEstimates(CATALOGUE, [day], reports, 100), fleet, reports);
      for (const x of counts) {
        const e = errors.get(x.what) ?? { sum: 0, squares: 0, covered: 0, sd: 0 };
        e.sum += x.e.estimate - x.truth;
        e.squares += (x.e.estimate - x.truth) ** 2;
        e.covered += +within(x);
        e.sd += x.sd / runs;
        errors.set(x.what, e);
      }
      for (const x of ratios) {
        ratioCovered += +within(x);
        ratioChecks++;
      }
    }
    let covered = 0;
    let checks = 0;
    for (const [what, e] of errors) {
      const mean = e.sum / runs;
      const sd = Math.sqrt(e.squares / runs - mean * mean);
      // No bias: the mean error is within 4 standard errors of 0.
      expect(Math.abs(mean) / (sd / Math.sqrt(runs)), `${what}: mean error ${mean}, sd ${sd}`).toBeLessThan(4);
      // The spread is the mechanism's (the sampling of which devices answer which question included).
      expect(sd / e.sd, what).toBeGreaterThan(0.8);
      expect(sd / e.sd, what).toBeLessThan(1.2);
      // Each quantity's interval covers it in most runs.
      expect(e.covered / runs, what).toBeGreaterThan(0.88);
      covered += e.covered;
      checks += runs;
    }
    // Over all counts and sums, the 95% intervals cover about 95% of the time.
    expect(covered / checks).toBeGreaterThan(0.935);
    expect(covered / checks).toBeLessThan(0.965);
    // Rates and the lift (delta method, clipped to their range): about as often, if less exactly.
    expect(ratioCovered / ratioChecks).toBeGreaterThan(0.9);
  }, 120_000);
});

describe('estimates: suppression and privacy', () => {
  const days = lastDays(3, Date.now());
  const fleet = fleetOf(120, 3);
  const reports = reportsOf(fleet, days[2]!, mulberry32(4), (i) => [0.5, 1, 4][i % 3]!);

  it('give nothing below the minimum of reports, but the count and the privacy spent', async () => {
    const few = await buildEstimates(CATALOGUE, days, reports.slice(0, 99), 100);
    expect(few).toEqual({
      days,
      reports: 99,
      minReports: 100,
      privacy: { epsilonPerReport: [0.5, 1, 4], maxReportsPerDevicePerDay: 1, epsilonPerDevicePerDay: 4, epsilonPerDeviceInRange: 12 },
      suppressed: true,
      items: [],
      topics: [],
      depth: [],
      containers: [],
    });
    const none = await buildEstimates(CATALOGUE, days, [], 1);
    expect(none.suppressed).toBe(true);
    expect(none.privacy).toEqual({
      epsilonPerReport: [],
      maxReportsPerDevicePerDay: 1,
      epsilonPerDevicePerDay: 0,
      epsilonPerDeviceInRange: 0,
    });
    // At the minimum exactly, everything is estimated.
    const enough = await buildEstimates(CATALOGUE, days, reports.slice(0, 100), 100);
    expect(enough.suppressed).toBe(false);
    expect(enough.reports).toBe(100);
    expect(enough.items).toHaveLength(CATALOGUE.items.length);
    expect(enough.topics).toHaveLength(3);
    expect(enough.depth).toHaveLength(5);
    expect(enough.containers).toHaveLength(1);
  });

  it('spend, per device, the largest ε a day and that times the days over the range', async () => {
    const one = await buildEstimates(
      CATALOGUE,
      days.slice(2),
      reports.filter((r) => r.epsilon === 1),
      0,
    );
    expect(one.privacy).toEqual({
      epsilonPerReport: [1],
      maxReportsPerDevicePerDay: 1,
      epsilonPerDevicePerDay: 1,
      epsilonPerDeviceInRange: 1,
    });
    const week = lastDays(7, Date.now());
    const all = await buildEstimates(CATALOGUE, week, reports, 0);
    expect(all.days).toEqual(week);
    expect(all.privacy).toEqual({
      epsilonPerReport: [0.5, 1, 4],
      maxReportsPerDevicePerDay: 1,
      epsilonPerDevicePerDay: 4,
      epsilonPerDeviceInRange: 28,
    });
  });

  it('leave out reports of questions the catalogue does not ask, but count them as reports', async () => {
    const base = await buildEstimates(CATALOGUE, days, reports, 0);
    const other = reports.map((r) => ({ ...r, q: 'v\tgone' }));
    const mixed = await buildEstimates(CATALOGUE, days, [...reports, ...other], 0);
    expect(mixed.reports).toBe(2 * reports.length);
    // Each share is the same; each count is over twice the reports.
    for (let i = 0; i < base.items.length; i++) {
      expect(mixed.items[i]!.views.estimate).toBeCloseTo(2 * base.items[i]!.views.estimate, 6);
    }
  });
});
