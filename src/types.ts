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
}

/** The tracker `createAttention` returns. */
export interface Attention {
  /** The current page view, synchronously. */
  snapshot(): AttentionSnapshot;
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof AttentionEvents>(type: K, fn: (payload: AttentionEvents[K]) => void): () => void;
  /** Gives (true) or withdraws (false) the visitor's consent to store data on the device. */
  consent(granted: boolean): void;
  /** Removes every listener, observer and timer. */
  stop(): void;
}
