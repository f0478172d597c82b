/**
 * The dashboard's plain data: the answer of `GET /api/estimates` (the collector's own types), the
 * metrics it charts and tabulates, and how their numbers read. No DOM here.
 */

import type { Interval } from '../../report/estimate';
import type { ArmEstimates, EstimatesResponse } from '../estimates';

export type { ArmEstimates, Interval };
/** `GET /api/estimates?days=N`. When `suppressed`, the lists are empty. */
export type Estimates = EstimatesResponse;
/** An item of the catalogue with its estimates. */
export type ItemRow = Estimates['items'][number];
/** A topic with its estimates (sums over its items). */
export type TopicRow = Estimates['topics'][number];
/** A personalized container: both arms and the lift of attention per view. */
export type ContainerRow = Estimates['containers'][number];

/** How a metric's numbers read: devices, seconds, or a share. */
export type Unit = 'count' | 'seconds' | 'rate';

/** A metric the dashboard charts and tabulates for items and topics. */
export interface Column {
  key: 'views' | 'attentionMs' | 'viewableRate' | 'skipRate';
  /** Heading, with its unit. */
  label: string;
  unit: Unit;
}

/** The metrics shown per item and per topic, in order. */
export const COLUMNS: readonly Column[] = [
  { key: 'views', label: 'Views', unit: 'count' },
  { key: 'attentionMs', label: 'Attention (s)', unit: 'seconds' },
  { key: 'viewableRate', label: 'Viewable rate', unit: 'rate' },
  { key: 'skipRate', label: 'Skip rate', unit: 'rate' },
];

/** What each scroll-depth bucket covers (report format v1). */
export const DEPTH_LABELS = ['0–25%', '25–50%', '50–75%', '75–100%', 'Bottom'] as const;

/** The interval in the unit it is shown in: attention ms become seconds. */
export function inUnit(iv: Interval, unit: Unit): Interval {
  return unit === 'seconds' ? { estimate: iv.estimate / 1000, low: iv.low / 1000, high: iv.high / 1000 } : iv;
}

const counts = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const seconds = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const percents = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });
const signedPercents = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1, signDisplay: 'exceptZero' });
const epsilons = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 });

/** `x` (already in `unit`) as text: whole devices, seconds to 0.1 (whole from 100 s), percents. */
export function formatValue(x: number, unit: Unit): string {
  if (!Number.isFinite(x)) return '–';
  if (unit === 'rate') return percents.format(x);
  if (unit === 'seconds') return Math.abs(x) >= 100 ? counts.format(x) : seconds.format(x);
  return counts.format(x);
}

/** The interval's ends (already in `unit`) as text, `low – high`. */
export const formatRange = (iv: Interval, unit: Unit): string => `${formatValue(iv.low, unit)} – ${formatValue(iv.high, unit)}`;

/** A relative change as a signed percent (0.12: "+12%"). */
export const formatLift = (x: number): string => (Number.isFinite(x) ? signedPercents.format(x) : '–');

/** Whether a lift could be estimated: the collector answers [−1, the largest number] where an arm's estimates are not positive. */
export const liftKnown = (lift: Interval): boolean => lift.low > -1 && lift.high < 1e12;

/** A privacy budget ε. */
export const formatEpsilon = (x: number): string => (Number.isFinite(x) ? epsilons.format(x) : '–');

/** A whole number of reports or devices. */
export const formatCount = (x: number): string => counts.format(x);

/** The standard normal's 97.5% quantile, as the collector uses for its 95% intervals. */
const Z95 = 1.959963984540054;

/**
 * The mean attention per view of a container's arm, seconds, with a delta-method 95% interval: the
 * two sums are taken as independent, their standard deviations read back from their symmetric
 * intervals. Like the sums it comes from, it can fall below zero. Views estimated ≤ 0 say nothing:
 * 0, interval [0, 0].
 */
export function attentionPerView(arm: ArmEstimates): Interval {
  const views = arm.views.estimate;
  if (!(views > 0)) return { estimate: 0, low: 0, high: 0 };
  const r = arm.attentionMs.estimate / views;
  const sd = (iv: Interval): number => Math.max(0, iv.high - iv.low) / (2 * Z95);
  const half = (Z95 * Math.sqrt(sd(arm.attentionMs) ** 2 + r * r * sd(arm.views) ** 2)) / views;
  return { estimate: r / 1000, low: (r - half) / 1000, high: (r + half) / 1000 };
}

/** The column a table is sorted by (`id` for the name) and its direction. */
export interface SortState {
  key: Column['key'] | 'id';
  descending: boolean;
}

/** `rows` sorted by `sort`: by estimate for a metric, by name otherwise; ties by name. */
export function sortRows<T extends TopicRow>(rows: readonly T[], sort: SortState): T[] {
  const byId = (a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const sign = sort.descending ? -1 : 1;
  const key = sort.key;
  return [...rows].sort((a, b) => {
    if (key === 'id') return sign * byId(a, b);
    return sign * (a[key].estimate - b[key].estimate) || byId(a, b);
  });
}

/** Whether `json` looks like `GET /api/estimates`' answer (its head; the lists are read defensively). */
export function isEstimates(json: unknown): json is Estimates {
  if (typeof json !== 'object' || json === null) return false;
  const e = json as Partial<Estimates>;
  return Array.isArray(e.days) && typeof e.reports === 'number' && typeof e.suppressed === 'boolean' && typeof e.privacy === 'object';
}
