/**
 * Types of the private attention reports (format v1): what the device summarises from its log for a
 * period, and the report it sends. The collector reads the same types.
 */

/** One item over the period, summed over the views that showed it. */
export interface PeriodItem {
  /** The item's id, as the SDK keeps it. */
  itemId: string;
  /** Views in which the item was on screen. */
  views: number;
  /** Views in which the item was viewable (IAB: ≥ 50% for ≥ 1 s). */
  viewable: number;
  /** Views in which the item was attended (see `isAttended` in rules). */
  attended: number;
  /** Views in which the item was skipped (see `isSkipped` in rules). */
  skipped: number;
  /** Clicks inside the item. */
  clicks: number;
  /** Attention the item received, ms. */
  attentionMs: number;
}

/** Attention to one personalized container in one view. */
export interface ContainerView {
  /** The container's name. */
  container: string;
  /** `p`: the personalized order was shown; `h`: the holdout, the page's own order. */
  arm: 'p' | 'h';
  /** Attention the container's items received in the view, ms. */
  attentionMs: number;
}

/** What the device reports on: its log summarised over one period (a UTC day by default). */
export interface PeriodSummary {
  /** Every item on screen in the period, once each. */
  items: readonly PeriodItem[];
  /** Each view's deepest scroll, 0..1 (1: the bottom of the page). */
  depths: readonly number[];
  /** Each view's attention to each personalized container. */
  containers: readonly ContainerView[];
}

/** The report a device sends (format v1): one value of its bounded set, randomized by OLH. */
export interface PrivateReport {
  /** Always `attnflow-report`. */
  format: 'attnflow-report';
  /** Always 1. */
  version: 1;
  /** The UTC day the report covers, `YYYY-MM-DD`. */
  day: string;
  /** The privacy budget the report spends, in (0, 10]. */
  epsilon: number;
  /** Slots in the device's padded value list (56 in v1). */
  m: number;
  /** The hash range, max(2, round(e^ε + 1)). */
  g: number;
  /** The hash seed, uint32. */
  s: number;
  /** The randomized hash, in [0, g). */
  y: number;
  /** 16 random bytes, base64url (22 chars): lets the collector refuse a replay. */
  id: string;
}

/** What `buildReport` needs besides the summary. */
export interface ReportOptions {
  /** Privacy budget of the report, in (0, 10]. */
  epsilon: number;
  /** The UTC day covered, `YYYY-MM-DD`. Default: today (UTC). */
  day?: string;
  /** Uniform numbers in [0, 1), the only randomness. Default: `cryptoRandom`. */
  rand?: () => number;
}
