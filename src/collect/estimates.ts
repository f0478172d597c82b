/**
 * The answer of `GET /api/estimates`: every candidate value the catalogue implies, counted from the
 * reports of the last N UTC days, turned into per-item, per-topic, scroll-depth and container
 * estimates with 95% intervals, and the privacy the reports spent. Below the minimum number of
 * reports nothing is estimated.
 */
import {
  estimateValues,
  type Estimate,
  type Interval,
  interval,
  type ReportNoise,
  ratioInterval,
  sumEstimates,
  Z95,
} from '../report/estimate';
import { ATTENTION_MIDPOINTS_MS, attentionValue, containerValue, DEPTH_EDGES, depthValue, itemValue } from '../report/values';
import type { Catalogue } from './catalogue';

/** Estimates of one item, or of one topic (the sum over its items). Counts are devices over the range. */
export interface AttentionEstimates {
  /** Devices that had it on screen. */
  views: Interval;
  /** Devices for which it was viewable (≥ 50% for ≥ 1 s). */
  viewable: Interval;
  /** Devices that attended it (≥ 1 s of attention or a click). */
  attended: Interval;
  /** Devices that skipped it. */
  skipped: Interval;
  /** Devices that clicked it. */
  clicks: Interval;
  /** Attention it received, ms, from the attention buckets' midpoints. */
  attentionMs: Interval;
  /** viewable / views, 0..1. */
  viewableRate: Interval;
  /** skipped / views, 0..1. */
  skipRate: Interval;
}

/** One arm of a personalized container. */
export interface ArmEstimates {
  /** Devices that saw the container in this arm. */
  views: Interval;
  /** Attention the container received in this arm, ms (bucket midpoints). */
  attentionMs: Interval;
}

/** The response of `GET /api/estimates`. */
export interface EstimatesResponse {
  /** The UTC days covered, oldest first. */
  days: string[];
  /** Reports over those days. */
  reports: number;
  /** Fewer reports than this and nothing is estimated. */
  minReports: number;
  /** The privacy the reports spent. */
  privacy: {
    /** The distinct ε of the reports, ascending. */
    epsilonPerReport: number[];
    /** A device sends at most one report per day. */
    maxReportsPerDevicePerDay: 1;
    /** The most a device spent in a day: the largest ε. */
    epsilonPerDevicePerDay: number;
    /** The most a device spent over the range: the largest ε times the days. */
    epsilonPerDeviceInRange: number;
  };
  /** True when `reports < minReports`: the lists below are empty. */
  suppressed: boolean;
  /** Per catalogue item, in catalogue order. */
  items: ({ id: string; topics: string[] } & AttentionEstimates)[];
  /** Per topic (sums over its items), by name. */
  topics: ({ id: string } & AttentionEstimates)[];
  /** Devices per deepest-scroll bucket (0: [0, .25) … 4: the bottom). */
  depth: { bucket: number; views: Interval }[];
  /** Per personalized container: both arms, and the lift of attention per view of the personalized order over the holdout. */
  containers: { id: string; personalized: ArmEstimates; holdout: ArmEstimates; lift: Interval }[];
}

const ITEM_METRICS = [
  ['views', 'v'],
  ['viewable', 'w'],
  ['attended', 'a'],
  ['skipped', 'k'],
  ['clicks', 'c'],
] as const;
const BUCKETS = ATTENTION_MIDPOINTS_MS.map((_, b) => b);

/** Every value the catalogue implies. */
export function candidateValues(catalogue: Catalogue): string[] {
  const values: string[] = [];
  for (const { id } of catalogue.items) {
    for (const [, tag] of ITEM_METRICS) values.push(itemValue(tag, id));
    for (const b of BUCKETS) values.push(attentionValue(id, b));
  }
  for (let b = 0; b < DEPTH_EDGES.length; b++) values.push(depthValue(b));
  for (const c of catalogue.containers)
    for (const arm of ['p', 'h'] as const) for (const b of BUCKETS) values.push(containerValue(c, arm, b));
  return values;
}

/** Values counted per slice of the work; between slices the server answers other requests. */
const SLICE = 256;

/** `estimateValues` over `values` in slices, yielding to the event loop between them. */
async function estimateInSlices(reports: readonly ReportNoise[], values: readonly string[]): Promise<Map<string, Estimate>> {
  const out = new Map<string, Estimate>();
  for (let i = 0; i < values.length; i += SLICE) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const [value, e] of estimateValues(reports, values.slice(i, i + SLICE))) out.set(value, e);
  }
  return out;
}

/**
 * The lift (A_p/V_p)/(A_h/V_h) − 1 of attention per view, personalized over holdout, with a 95%
 * interval from the delta method on the log of the ratio (the four estimates taken as independent).
 * Undefined (0, interval [−1, ∞) shown as [−1, 1e308]) where an estimate is not positive.
 */
function liftInterval(ap: Estimate, vp: Estimate, ah: Estimate, vh: Estimate): Interval {
  const parts = [ap, vp, ah, vh];
  if (!parts.every((e) => e.estimate > 0)) return { estimate: 0, low: -1, high: Number.MAX_VALUE };
  const r = ap.estimate / vp.estimate / (ah.estimate / vh.estimate);
  const sd = Math.sqrt(parts.reduce((v, e) => v + Math.max(0, e.variance) / (e.estimate * e.estimate), 0));
  return { estimate: r - 1, low: r * Math.exp(-Z95 * sd) - 1, high: r * Math.exp(Z95 * sd) - 1 };
}

/** The item-level estimates of one item, or the sums over several (a topic). */
function attentionEstimates(ids: readonly string[], at: (value: string) => Estimate): AttentionEstimates {
  const sum = (tag: 'v' | 'w' | 'a' | 'k' | 'c'): Estimate => sumEstimates(ids.map((id) => at(itemValue(tag, id))));
  const [views, viewable, attended, skipped, clicks] = ITEM_METRICS.map(([, tag]) => sum(tag)) as [
    Estimate,
    Estimate,
    Estimate,
    Estimate,
    Estimate,
  ];
  const attentionMs = sumEstimates(
    ids.flatMap((id) => BUCKETS.map((b) => at(attentionValue(id, b)))),
    ids.flatMap(() => ATTENTION_MIDPOINTS_MS),
  );
  return {
    views: interval(views),
    viewable: interval(viewable),
    attended: interval(attended),
    skipped: interval(skipped),
    clicks: interval(clicks),
    attentionMs: interval(attentionMs),
    viewableRate: ratioInterval(viewable, views),
    skipRate: ratioInterval(skipped, views),
  };
}

/** The `days` UTC days that end with the day of `now` (epoch ms), oldest first. */
export function lastDays(days: number, now: number): string[] {
  const today = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());
  return Array.from({ length: days }, (_, i) => new Date(today - (days - 1 - i) * 864e5).toISOString().slice(0, 10));
}

/**
 * The response for `days` (ascending UTC days) from their `reports`, or only counts and privacy
 * when there are fewer than `minReports`.
 */
export async function buildEstimates(
  catalogue: Catalogue,
  days: string[],
  reports: readonly ReportNoise[],
  minReports: number,
): Promise<EstimatesResponse> {
  const epsilons = [...new Set(reports.map((r) => r.epsilon))].sort((a, b) => a - b);
  const maxEpsilon = epsilons.length ? epsilons[epsilons.length - 1]! : 0;
  const response: EstimatesResponse = {
    days,
    reports: reports.length,
    minReports,
    privacy: {
      epsilonPerReport: epsilons,
      maxReportsPerDevicePerDay: 1,
      epsilonPerDevicePerDay: maxEpsilon,
      epsilonPerDeviceInRange: maxEpsilon * days.length,
    },
    suppressed: reports.length < minReports,
    items: [],
    topics: [],
    depth: [],
    containers: [],
  };
  if (response.suppressed) return response;
  const estimates = await estimateInSlices(reports, candidateValues(catalogue));
  const at = (value: string): Estimate => estimates.get(value) ?? { estimate: 0, variance: 0 };
  response.items = catalogue.items.map((item) => ({ id: item.id, topics: item.topics, ...attentionEstimates([item.id], at) }));
  const byTopic = new Map<string, string[]>();
  for (const item of catalogue.items) for (const t of item.topics) byTopic.set(t, [...(byTopic.get(t) ?? []), item.id]);
  response.topics = [...byTopic.keys()].sort().map((id) => ({ id, ...attentionEstimates(byTopic.get(id)!, at) }));
  response.depth = DEPTH_EDGES.map((_, bucket) => ({ bucket, views: interval(at(depthValue(bucket))) }));
  response.containers = catalogue.containers.map((id) => {
    const arm = (a: 'p' | 'h'): [Estimate, Estimate] => {
      const parts = BUCKETS.map((b) => at(containerValue(id, a, b)));
      return [sumEstimates(parts), sumEstimates(parts, ATTENTION_MIDPOINTS_MS)];
    };
    const [vp, ap] = arm('p');
    const [vh, ah] = arm('h');
    return {
      id,
      personalized: { views: interval(vp), attentionMs: interval(ap) },
      holdout: { views: interval(vh), attentionMs: interval(ah) },
      lift: liftInterval(ap, vp, ah, vh),
    };
  });
  return response;
}
