import type { Explanation, PersonalizeOptions, PersonalizeReport } from './personalize/types';

export type { ContainerReport, Explanation, PersonalizeOptions, PersonalizeReport, VariantReport } from './personalize/types';

/**
 * Public types of attnflow. Every duration is in milliseconds, every ratio in 0..1.
 */

/** Options of `createAttention`, also read from the script tag's `data-*` attributes. */
export interface AttentionOptions {
  /** The visitor counts as idle this long after their last input, in ms. Default 5000. `data-idle-after`. */
  idleAfterMs?: number;
  /** Store nothing until `consent(true)` is called. Default false. `data-require-consent`. */
  requireConsent?: boolean;
  /** Log what the SDK does to the console and show the debug overlay. Default false. `data-debug`. */
  debug?: boolean;
  /** Receives every error that happens after start-up; the SDK never throws into the page. */
  onError?: (error: unknown) => void;
  /** Root element whose items are measured. Default `document`. */
  root?: ParentNode;
  /** Exploration rate, 0..1: the share of page views in which an item the visitor has never seen gets a top slot. Default 0.1. `data-explore`. */
  explore?: number;
  /**
   * Manifest of weights the site trained on its own consented data (`attnflow-train --out`): each
   * visitor starts from it and fine-tunes on the device. Default none (a fresh model with topic
   * priors). `data-model-url`.
   */
  modelUrl?: string;
  /** Stored records older than this are deleted, days. Default 90. `data-retention-days`. */
  retentionDays?: number;
  /** At most this many item records are kept, oldest deleted first. Default 50000. `data-max-item-records`. */
  maxItemRecords?: number;
  /**
   * Global Privacy Control counts as "no consent": nothing is stored and `consent(true)` does not
   * change that. Default true; false only where the site has another lawful basis. `data-respect-gpc`.
   */
  respectGpc?: boolean;
  /** Do Not Track counts as "no consent", like `respectGpc`. Default true. `data-respect-dnt`. */
  respectDoNotTrack?: boolean;
  /**
   * Where private attention reports are posted (`https://collect.example.com/report` for
   * `attnflow-collect`). Default none: no report, no request. Only where storing is allowed
   * (consent, GPC, DNT as for the log), the leader tab sends at most one report per period, on page
   * hide, randomized on the device with local differential privacy. `data-collect-url`.
   */
  collectUrl?: string;
  /**
   * The privacy budget ε each report spends, > 0 and ≤ 10. Default 1: whatever the collector or
   * anyone else sees, any answer the report could give is at most e¹ ≈ 2.7 times likelier for one
   * visitor's log than for any other's. `data-collect-epsilon`.
   */
  collectEpsilon?: number;
  /** Days (UTC) one report covers, 1..7: at most one report per period. Default 1. `data-collect-period-days`. */
  collectPeriodDays?: number;
  /**
   * Share of page loads, 0..0.5, that keep the page's own order in every `data-attn-rank` container
   * and variant group: the holdout that the reports compare personalized attention against.
   * Default 0. `data-holdout`.
   */
  holdout?: number;
}

/** Attention numbers of the current page view. */
export interface PageAttention {
  /** Time the visitor was active (page visible and input within `idleAfterMs`), ms. */
  engagedMs: number;
  /** Time the page was visible, ms. */
  visibleMs: number;
  /** Deepest point of the page reached, 0..1 of the page height. */
  scrollDepth: number;
  /** When this page view started, epoch ms. */
  startedAt: number;
  /** Random id of this page view; a new one on every SPA navigation. */
  viewId: string;
  /** `location.pathname` of the view (never the query string or hash). */
  path: string;
  /** Bursts of ≥ 3 clicks within 1 s and 30 px, anywhere on the page. */
  rageClicks: number;
  /** Clicks on non-interactive elements followed by no DOM change, scroll or selection within 1 s. */
  deadClicks: number;
}

/** Attention numbers of one item in the current page view. */
export interface ItemAttention {
  /** The item's share of the visitor's active time, ms. Σ over items ≤ page.engagedMs. */
  attentionMs: number;
  /** Page visible and the item intersecting the viewport, ms. */
  visibleMs: number;
  /** Page visible and ≥ 50% of the item (or of the viewport, for tall items) in view, ms. */
  viewableMs: number;
  /** Pointer over the item while the page is visible, ms. */
  hoverMs: number;
  /** Largest share of the item that was in view, 0..1. */
  maxVisibleRatio: number;
  /** Clicks inside the item. */
  clicks: number;
  /** True once viewable for ≥ 1 s without a break (the IAB/MRC rule). */
  viewable: boolean;
  /** Seen (viewable ≥ 200 ms in total) yet given under 1 s of attention. */
  skipped: boolean;
  /** Topics from `data-attn-topics`. */
  topics: string[];
  /** Rage-click bursts inside the item (see `PageAttention.rageClicks`). */
  rageClicks: number;
  /** Dead clicks inside the item (see `PageAttention.deadClicks`). */
  deadClicks: number;
}

/** Why a snapshot is handed out: the 1 s tick, the page being hidden, or the view ending (SPA navigation, stop). */
export type ViewReason = 'tick' | 'hide' | 'end';

/**
 * What `snapshot()` returns: the current page view. `items` holds the items that were on screen,
 * hovered or clicked during this view (an item never seen has nothing to report).
 */
export interface AttentionSnapshot {
  page: PageAttention;
  items: { [itemId: string]: ItemAttention };
}

/** Events a tracker emits. */
export interface AttentionEvents extends Record<string, unknown> {
  /** At most once per second while something changes, and on page hide. */
  attention: AttentionSnapshot;
  /** After each personalization decision, and when a container waiting off screen got its order. */
  personalized: PersonalizeReport;
  /** Model scores by item id after each scoring (higher: more likely to get this visitor's attention). */
  scores: Record<string, number>;
  /** Every error after start-up, as `onError` gets it: the script tag's way to hear of them. */
  error: unknown;
}

/** The tracker `createAttention` returns. */
export interface Attention {
  /** The current page view, synchronously. */
  snapshot(): AttentionSnapshot;
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof AttentionEvents>(type: K, fn: (payload: AttentionEvents[K]) => void): () => void;
  /**
   * Gives (true) or withdraws (false) the visitor's consent to store data on the device.
   * Withdrawing deletes what was stored, as `forget()` does.
   */
  consent(granted: boolean): void;
  /** Resolves once everything measured so far is stored (in memory where IndexedDB is unavailable). Never rejects. */
  flush(): Promise<void>;
  /** Everything stored on this device about the visitor, as JSON, with the schema version. */
  export(): Promise<AttentionExport>;
  /** Deletes the database and all in-memory state; the view in progress is no longer recorded. */
  forget(): Promise<void>;
  /**
   * Scores, reorders `data-attn-rank` containers and picks `data-attn-variant` alternatives now,
   * where that cannot move what the visitor sees (else as soon as it is off screen). Resolves with
   * the decision; undefined when the personalization chunk cannot load.
   */
  personalize(options?: PersonalizeOptions): Promise<PersonalizeReport | undefined>;
  /** Why `itemId` is where it is, in plain words (for a "why am I seeing this?" link); undefined for an unknown item. */
  explain(itemId: string): Promise<Explanation | undefined>;
  /**
   * Scores of `itemIds` (default: every item measured on the page) from the on-device model,
   * loading it on first use; higher means more likely to get this visitor's attention. Resolves
   * `{}` where the model cannot run; never rejects.
   */
  scores(itemIds?: string[]): Promise<Record<string, number>>;
  /** Removes every listener, observer and timer. */
  stop(): void;
}

// ---------------------------------------------------------------------------------------------
// On-device store: what the IndexedDB log holds (see README "Storage"). Only ids, topics,
// numbers and timestamps — never text content, input values or query strings.

/** One item in one page view, upserted by (viewId, itemId) as the view goes on. */
export interface ItemRecord {
  /** The page view (`PageAttention.viewId`). */
  viewId: string;
  /** The item (`data-attn-item` or a structural id). */
  itemId: string;
  /** Topics of the item. */
  topics: string[];
  /** See `ItemAttention`; ms. */
  attentionMs: number;
  /** ms. */
  visibleMs: number;
  /** ms. */
  viewableMs: number;
  /** ms. */
  hoverMs: number;
  /** 0..1. */
  maxVisibleRatio: number;
  clicks: number;
  rageClicks: number;
  deadClicks: number;
  viewable: boolean;
  skipped: boolean;
  /** First and last time this record changed, epoch ms. */
  firstAt: number;
  lastAt: number;
}

/** One page view. */
export interface ViewRecord {
  viewId: string;
  /** `location.pathname` only. */
  path: string;
  /** epoch ms. */
  startedAt: number;
  /** Last change, epoch ms. */
  updatedAt: number;
  /** ms. */
  engagedMs: number;
  /** ms. */
  visibleMs: number;
  /** 0..1. */
  scrollDepth: number;
  rageClicks: number;
  deadClicks: number;
  /** Attention of this view per topic, ms (the source of the visitor profile). */
  topics: { [topic: string]: number };
}

/** An item the visitor has seen, with what it received over every view the log keeps. */
export interface CatalogueEntry {
  itemId: string;
  /** Topics of its newest record. */
  topics: string[];
  /** epoch ms. */
  firstSeen: number;
  /** epoch ms. */
  lastSeen: number;
  /** Attention over all its records, ms. */
  attentionMs: number;
  /** Clicks over all its records. */
  clicks: number;
  /** Views in which it was seen but passed over. */
  skipped: number;
  /** Views in which it was measured (its records in the log). */
  views: number;
}

/** What the visitor gave one topic over every view the log keeps. */
export interface TopicTotals {
  /** Attention to items of this topic, ms. */
  attentionMs: number;
  /** Distinct items of this topic read (≥ 1 s of attention, or clicked). */
  attended: number;
  /** Clicks on items of this topic. */
  clicks: number;
  /** Item views of this topic passed over. */
  skipped: number;
  /** Its most attended items, `[itemId, attention ms]`, most first (at most 5). */
  top: Array<[string, number]>;
}

/** The visitor's interests and totals, kept up to date as the log is written. */
export interface VisitorProfile {
  id: 'visitor';
  /** Per topic: attention in ms, each view's share halved every 30 days of age. */
  affinities: { [topic: string]: number };
  /** Views in the log. */
  views: number;
  /** epoch ms. */
  updatedAt: number;
  /** Item records in the log. */
  records: number;
  /** Distinct items in the log. */
  items: number;
  /** Distinct items read (≥ 1 s of attention, or clicked). */
  attended: number;
  /** Clicks on items. */
  clicks: number;
  /** Item views passed over. */
  skipped: number;
  /** Per topic. */
  topics: { [topic: string]: TopicTotals };
}

/** Model weights as saved by the model: raw bytes plus JSON metadata. */
export interface WeightsRecord {
  name: string;
  data: ArrayBuffer;
  meta: unknown;
  /** epoch ms. */
  savedAt: number;
}

/** Last scores per item, for first paint before the model has loaded. */
export interface ScoresRecord {
  name: string;
  scores: { [itemId: string]: number };
  /** epoch ms. */
  savedAt: number;
}

/** A small setting (e.g. the chosen model backend). */
export interface SettingRecord {
  key: string;
  value: unknown;
}

/** What `export()` returns: everything stored on this device, as plain JSON. */
export interface AttentionExport {
  schema: 'attnflow';
  /** Database schema version. */
  version: number;
  /** epoch ms. */
  exportedAt: number;
  /** Where the data lives: IndexedDB, memory (IndexedDB unavailable) or nowhere (no consent). */
  storage: 'indexeddb' | 'memory' | 'none';
  records: ItemRecord[];
  views: ViewRecord[];
  catalogue: CatalogueEntry[];
  profile: VisitorProfile | null;
  /** Weights with `data` as base64. */
  weights: Array<Omit<WeightsRecord, 'data'> & { data: string }>;
  scores: ScoresRecord[];
  settings: SettingRecord[];
}
