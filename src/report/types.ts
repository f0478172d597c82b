/**
 * Types of the private attention reports (format v2): what the device summarises from its log for a
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

/** The report a device sends (format v2): one question of the collector's list, its randomized answer. */
export interface PrivateReport {
  /** Always `attnflow-report`. */
  format: 'attnflow-report';
  /** Always 2. */
  version: 2;
  /** The UTC day the report covers (its period's last day), `YYYY-MM-DD`. */
  day: string;
  /** The privacy budget the report spends, in (0, 10]. */
  epsilon: number;
  /** The question, drawn uniformly from the collector's list (see questions.ts). */
  q: string;
  /** The randomized answer, in [0, k): k = 5 for the depth, 2 otherwise. */
  y: number;
  /** 16 random bytes, base64url (22 chars): lets the collector refuse a replay. */
  id: string;
}

/** What `buildReport` needs besides the summary. */
export interface ReportOptions {
  /** Privacy budget of the report, in (0, 10]. */
  epsilon: number;
  /** The collector's questions (`GET /questions`): the report answers one, drawn uniformly. */
  questions: readonly string[];
  /** The UTC day covered, `YYYY-MM-DD`. Default: today (UTC). */
  day?: string;
  /** Uniform numbers in [0, 1), the only randomness. Default: `cryptoRandom`. */
  rand?: () => number;
}
