/**
 * The device side of the private attention reports: the period summary becomes a bounded set of
 * values (at most K per metric, padded with dummies to exactly M slots so their number stays hidden),
 * and one slot, drawn uniformly, is randomized by OLH into the report. Values hold only item ids,
 * container names and bucket numbers. See the report format v1 contract.
 */
import { AttnflowConfigError, describe } from '../lib/errors';
import { isAttended } from '../rules';
import { cryptoRandom, olhPerturb } from './olh';
import type { PeriodItem, PeriodSummary, PrivateReport, ReportOptions } from './types';

/** The `format` field of every report. */
export const REPORT_FORMAT = 'attnflow-report';
/** The report format's version. */
export const REPORT_VERSION = 1;
/** The largest privacy budget a report may spend. */
export const MAX_EPSILON = 10;
/** The value that pads the list to M slots. */
export const DUMMY = '\u0000';

/** Slots per metric (K): `v` viewed, `w` viewable, `a` attended, `k` skipped, `c` clicked, `t` attention bucket, `d` depth bucket, `o` container. */
export const SLOTS = { v: 8, w: 8, a: 8, k: 8, c: 8, t: 8, d: 4, o: 4 } as const;
/** A metric's one-letter tag. */
export type Metric = keyof typeof SLOTS;
/** The metrics in slot order. */
export const METRICS = Object.keys(SLOTS) as Metric[];
/** Slots in all (M): 56 in v1. */
export const REPORT_M = METRICS.reduce((m, k) => m + SLOTS[k], 0);

/** Lower edges of the attention buckets, ms: 0:[0,1s) 1:[1,3s) 2:[3,10s) 3:[10,30s) 4:[30,120s) 5:[120s,∞). Fixed by the format. */
export const ATTENTION_EDGES_MS = [0, 1000, 3000, 10000, 30000, 120000] as const;
/** What each attention bucket counts as when attention is summed, ms. */
export const ATTENTION_MIDPOINTS_MS = [500, 2000, 6500, 20000, 75000, 180000] as const;
/** Lower edges of the scroll-depth buckets, 0..1: 0:[0,.25) 1:[.25,.5) 2:[.5,.75) 3:[.75,1) 4: 1 (the bottom). */
export const DEPTH_EDGES = [0, 0.25, 0.5, 0.75, 1] as const;

/** The bucket of `edges` (lower edges, ascending) that holds `x`. */
function bucketOf(edges: readonly number[], x: number): number {
  let b = 0;
  while (b + 1 < edges.length && x >= edges[b + 1]!) b++;
  return b;
}

/** The attention bucket of `ms` (0..5). */
export const attentionBucket = (ms: number): number => bucketOf(ATTENTION_EDGES_MS, ms);
/** The scroll-depth bucket of `depth` (0..4; 4 only at the bottom). */
export const depthBucket = (depth: number): number => bucketOf(DEPTH_EDGES, depth);

/** The value of an item metric (`v`, `w`, `a`, `k`, `c`). */
export const itemValue = (metric: 'v' | 'w' | 'a' | 'k' | 'c', itemId: string): string => `${metric}\t${itemId}`;
/** The value "the item's attention over the period fell in bucket `b`". */
export const attentionValue = (itemId: string, b: number): string => `t\t${itemId}\t${b}`;
/** The value "a view's scroll depth fell in bucket `b`". */
export const depthValue = (b: number): string => `d\t${b}`;
/** The value "a view gave `container`, shown with `arm`, attention in bucket `b`". */
export const containerValue = (container: string, arm: 'p' | 'h', b: number): string => `o\t${container}\t${arm}\t${b}`;

/** A name a value can carry: not empty, and without the tab that separates fields or the dummy's NUL. */
const encodable = (name: unknown): name is string =>
  typeof name === 'string' && name.length > 0 && !name.includes('\t') && !name.includes(DUMMY);
/** A count or a duration as a finite number ≥ 0. */
const amount = (x: unknown): number => (typeof x === 'number' && x > 0 && Number.isFinite(x) ? x : 0);

/** The summary's items with encodable ids, each id once, most attention first, ties by id. */
function rankItems(items: readonly PeriodItem[]): PeriodItem[] {
  const byId = new Map<string, PeriodItem>();
  for (const it of items) {
    if (!encodable(it.itemId)) continue;
    const prev = byId.get(it.itemId);
    const keys = ['views', 'viewable', 'attended', 'skipped', 'clicks', 'attentionMs'] as const;
    const next = { itemId: it.itemId } as PeriodItem;
    for (const k of keys) next[k] = amount(it[k]) + (prev ? prev[k] : 0);
    byId.set(it.itemId, next);
  }
  return [...byId.values()].sort((a, b) => b.attentionMs - a.attentionMs || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
}

/** `values` cut to `k` and padded with dummies to exactly `k`. */
function fill(values: readonly string[], k: number): string[] {
  const out = values.slice(0, k);
  while (out.length < k) out.push(DUMMY);
  return out;
}

/** The distinct keys of `entries`, the heaviest first, ties by key. */
function heaviest(entries: Iterable<[string, number]>): string[] {
  const total = new Map<string, number>();
  for (const [key, w] of entries) total.set(key, (total.get(key) ?? 0) + w);
  return [...total].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([key]) => key);
}

/**
 * The device's bounded value list for the period: exactly `REPORT_M` slots, metric by metric in
 * `METRICS` order, each metric at most `SLOTS[metric]` values then dummies. Items go in order of
 * attention (most first, ties by id). Over the period an item is attended if a view attended it or its
 * summed attention and clicks meet the attended rule; skipped if a view skipped it and it was not
 * attended. Depth buckets go by views, container values by attention.
 */
export function encodeValues(summary: PeriodSummary): string[] {
  const items = rankItems(summary.items ?? []);
  const attended = (it: PeriodItem): boolean => it.attended > 0 || isAttended(it);
  const pick = (metric: 'v' | 'w' | 'a' | 'k' | 'c', keep: (it: PeriodItem) => boolean): string[] =>
    fill(
      items.filter(keep).map((it) => itemValue(metric, it.itemId)),
      SLOTS[metric],
    );
  const depths = heaviest(
    (summary.depths ?? [])
      .filter((d) => typeof d === 'number' && Number.isFinite(d))
      .map((d): [string, number] => [depthValue(depthBucket(d)), 1]),
  );
  const containers = heaviest(
    (summary.containers ?? [])
      .filter((c) => encodable(c.container) && (c.arm === 'p' || c.arm === 'h'))
      .map((c): [string, number] => [containerValue(c.container, c.arm, attentionBucket(amount(c.attentionMs))), amount(c.attentionMs)]),
  );
  return [
    ...pick('v', (it) => it.views > 0),
    ...pick('w', (it) => it.viewable > 0),
    ...pick('a', attended),
    ...pick('k', (it) => it.skipped > 0 && !attended(it)),
    ...pick('c', (it) => it.clicks > 0),
    ...fill(
      items.filter((it) => it.views > 0).map((it) => attentionValue(it.itemId, attentionBucket(it.attentionMs))),
      SLOTS.t,
    ),
    ...fill(depths, SLOTS.d),
    ...fill(containers, SLOTS.o),
  ];
}

/** The UTC day of `ms` (epoch ms), `YYYY-MM-DD`. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Whether `day` is a real calendar date written `YYYY-MM-DD`. */
export function isDay(day: unknown): day is string {
  if (typeof day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return false;
  const ms = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(ms) && utcDay(ms) === day;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** 16 bytes from `rand`, base64url without padding (22 chars). */
function randomId(rand: () => number): string {
  let bits = 0;
  let n = 0;
  let out = '';
  for (let i = 0; i < 16; i++) {
    bits = (bits << 8) | Math.min(255, Math.floor(rand() * 256));
    n += 8;
    while (n >= 6) {
      n -= 6;
      out += B64URL[(bits >>> n) & 63];
    }
    bits &= (1 << n) - 1;
  }
  return out + B64URL[(bits << (6 - n)) & 63];
}

/**
 * The period's report: one of the `REPORT_M` slots of `encodeValues(summary)` drawn uniformly,
 * randomized by OLH at `epsilon`, with a random id. Draws from `rand`, in order: the slot, the
 * randomization (`olhPerturb`), then the id's 16 bytes. Throws `AttnflowConfigError` for an epsilon
 * outside (0, 10] or a day that is not `YYYY-MM-DD`.
 */
export function buildReport(summary: PeriodSummary, options: ReportOptions): PrivateReport {
  const { epsilon, day = utcDay(Date.now()), rand = cryptoRandom } = options;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon <= 0 || epsilon > MAX_EPSILON) {
    throw new AttnflowConfigError(describe('report epsilon', `a finite number in (0, ${MAX_EPSILON}]`, epsilon));
  }
  if (!isDay(day)) throw new AttnflowConfigError(describe('report day', 'a UTC date YYYY-MM-DD', day));
  const values = encodeValues(summary);
  const slot = Math.min(values.length - 1, Math.floor(rand() * values.length));
  const { g, s, y } = olhPerturb(values[slot]!, epsilon, rand);
  return { format: REPORT_FORMAT, version: REPORT_VERSION, day, epsilon, m: values.length, g, s, y, id: randomId(rand) };
}
