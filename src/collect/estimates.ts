/**
 * The answer of `GET /api/estimates`: from the reports of the last N UTC days, each question's
 * answers turned into the population's shares (`estimateQuestions`), then into per-item, per-topic,
 * scroll-depth and container estimates with 95% intervals, and the privacy the reports spent. A
 * count is the share times the reports of the range (each report stands for one device on one day);
 * a topic sums its items. Below the minimum number of reports nothing is estimated.
 */
import {
  type Estimate,
  estimateQuestions,
  type Interval,
  interval,
  type QuestionEstimate,
  type ReportAnswer,
  ratioInterval,
  sumEstimates,
  Z95,
} from '../report/estimate';
import { DEPTH_EDGES, ITEM_CAP_MS, questionsOf, VIEW_CAP_MS } from '../report/questions';
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
  /** Attention it received, ms (each device's clipped at 30 s a day). */
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
  /**
   * Σ over devices of their attention per view of the container in this arm, ms (clipped at 30 s a
   * view; 0 for a device without such a view): divided by `views`, the attention per view.
   */
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
  /** Devices per scroll-depth bucket of their median view (0: [0, .25) … 4: the bottom). */
  depth: { bucket: number; views: Interval }[];
  /** Per personalized container: both arms, and the lift of attention per view of the personalized order over the holdout. */
  containers: { id: string; personalized: ArmEstimates; holdout: ArmEstimates; lift: Interval }[];
}

const ITEM_METRICS = ['views', 'viewable', 'attended', 'skipped', 'clicks'] as const;
const TAGS = { views: 'v', viewable: 'w', attended: 'a', skipped: 'k', clicks: 'c' } as const;

/** Per-question estimates worked out per slice of questions; between slices the server answers other requests. */
const SLICE = 256;

async function estimateInSlices(reports: readonly ReportAnswer[], questions: readonly string[]): Promise<Map<string, QuestionEstimate>> {
  const out = new Map<string, QuestionEstimate>();
  for (let i = 0; i < questions.length; i += SLICE) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const [q, e] of estimateQuestions(reports, questions.slice(i, i + SLICE))) out.set(q, e);
  }
  return out;
}

/**
 * The lift (A_p/V_p)/(A_h/V_h) − 1 of attention per view, personalized over holdout, with a 95%
 * interval from the delta method on the log of the ratio (the four estimates answer four questions,
 * asked of different devices: independent). Undefined (0, interval [−1, ∞) shown as [−1, 1e308])
 * where an estimate is not positive.
 */
function liftInterval(ap: Estimate, vp: Estimate, ah: Estimate, vh: Estimate): Interval {
  const parts = [ap, vp, ah, vh];
  if (!parts.every((e) => e.estimate > 0 && Number.isFinite(e.variance))) return { estimate: 0, low: -1, high: Number.MAX_VALUE };
  const r = ap.estimate / vp.estimate / (ah.estimate / vh.estimate);
  const sd = Math.sqrt(parts.reduce((v, e) => v + Math.max(0, e.variance) / (e.estimate * e.estimate), 0));
  return { estimate: r - 1, low: r * Math.exp(-Z95 * sd) - 1, high: r * Math.exp(Z95 * sd) - 1 };
}

/** `e` times `w`. */
const scale = (e: Estimate, w: number): Estimate => ({ estimate: w * e.estimate, variance: w * w * e.variance });

/** The item-level estimates of one item, or the sums over several (a topic), for a range of `n` reports. */
function attentionEstimates(ids: readonly string[], share: (q: string) => Estimate, n: number): AttentionEstimates {
  const count = (metric: (typeof ITEM_METRICS)[number]): Estimate =>
    sumEstimates(ids.map((id) => scale(share(`${TAGS[metric]}\t${id}`), n)));
  const [views, viewable, attended, skipped, clicks] = ITEM_METRICS.map(count) as [Estimate, Estimate, Estimate, Estimate, Estimate];
  const attentionMs = sumEstimates(ids.map((id) => scale(share(`t\t${id}`), n * ITEM_CAP_MS)));
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
  reports: readonly ReportAnswer[],
  minReports: number,
): Promise<EstimatesResponse> {
  const epsilons = [...new Set(reports.map((r) => r.epsilon))].sort((a, b) => a - b);
  const maxEpsilon = epsilons.length ? epsilons[epsilons.length - 1]! : 0;
  const n = reports.length;
  const response: EstimatesResponse = {
    days,
    reports: n,
    minReports,
    privacy: {
      epsilonPerReport: epsilons,
      maxReportsPerDevicePerDay: 1,
      epsilonPerDevicePerDay: maxEpsilon,
      epsilonPerDeviceInRange: maxEpsilon * days.length,
    },
    suppressed: n < minReports,
    items: [],
    topics: [],
    depth: [],
    containers: [],
  };
  if (response.suppressed) return response;
  const estimates = await estimateInSlices(reports, questionsOf(catalogue));
  const none: Estimate = { estimate: 0, variance: Number.POSITIVE_INFINITY };
  /** The population's share of answer `y` to `q`. */
  const share = (q: string, y = 1): Estimate => estimates.get(q)?.shares[y] ?? none;
  response.items = catalogue.items.map((item) => ({ id: item.id, topics: item.topics, ...attentionEstimates([item.id], share, n) }));
  const byTopic = new Map<string, string[]>();
  for (const item of catalogue.items) for (const t of item.topics) byTopic.set(t, [...(byTopic.get(t) ?? []), item.id]);
  response.topics = [...byTopic.keys()].sort().map((id) => ({ id, ...attentionEstimates(byTopic.get(id)!, share, n) }));
  response.depth = DEPTH_EDGES.map((_, bucket) => ({ bucket, views: interval(scale(share('d', bucket), n)) }));
  response.containers = catalogue.containers.map((id) => {
    // Devices with a view in the arm, and the mean over devices of attention per such view (0 without one).
    const arm = (a: 'p' | 'h'): [Estimate, Estimate] => [
      scale(share(`n\t${id}\t${a}`), n),
      scale(share(`o\t${id}\t${a}`), n * VIEW_CAP_MS),
    ];
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
