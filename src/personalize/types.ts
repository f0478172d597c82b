/** Plain data of personalization: no DOM, no storage. Durations in ms, shares in 0..1. */
import type { AttentionEvent } from '../model/types';

/** An item that can be ranked: `data-attn-item` id and `data-attn-topics`. */
export interface RankItem {
  /** Stable item id. */
  id: string;
  /** Topics of the item; may be empty. */
  topics: readonly string[];
}

/** Scores by item id; higher means more likely to get this visitor's attention. Any scale. */
export type Scores = Record<string, number>;

/** Anything that scores items: the model, the profile fallback, a site's own function. */
export type ScoreSource = (items: readonly RankItem[]) => Promise<Scores>;

/** What one item received in one page view: the model's `AttentionEvent`, one type for both. */
export type ItemView = AttentionEvent;

/** What the visitor gave one item over all their views. */
export interface ItemStat {
  /** Total attention, ms. */
  attentionMs: number;
  /** Total clicks. */
  clicks: number;
  /** Views in which the item was seen but skipped. */
  skipped: number;
  /** Views in which the item was measured at all. */
  views: number;
  /** Topics of the item, as last seen. */
  topics: string[];
}

/** What the visitor gave one topic over all their views. */
export interface TopicStat {
  /** Total attention to items with this topic, ms. */
  attentionMs: number;
  /** Distinct items of this topic the visitor attended (≥ 1 s of attention or clicked). */
  attended: number;
  /** Clicks on items with this topic. */
  clicks: number;
  /** Item views of this topic that were skipped. */
  skipped: number;
  /** Its most attended items, `[itemId, attention ms]`, most first (at most 5). */
  top: Array<[string, number]>;
}

/** The visitor's totals over every item, also those not in `VisitorProfile.items`. */
export interface ProfileTotals {
  /** Distinct items seen. */
  items: number;
  /** Distinct items attended (≥ 1 s of attention or clicked). */
  attended: number;
  /** Clicks. */
  clicks: number;
  /** Item views skipped. */
  skipped: number;
}

/**
 * The visitor as personalization sees them, from their own attention log: every topic, the items
 * that matter to the page (those on it), and the totals.
 */
export interface VisitorProfile {
  /** Per item id: the page's items and this view's, where the visitor has seen them. */
  items: Record<string, ItemStat>;
  /** Per topic. */
  topics: Record<string, TopicStat>;
  totals: ProfileTotals;
}

/** Why an item is where it is: the answer of `explain(itemId)`. */
export interface Explanation {
  /** The item asked about. */
  itemId: string;
  /** Its score, 0..1 within its container (0.5 when nothing is known). */
  score: number;
  /** Its topics. */
  topics: string[];
  /** Plain-language reasons, most important first, e.g. "You read 3 sport items (42 s)". */
  because: string[];
  /** The topics behind the score with the visitor's numbers, strongest first. */
  drivers: Array<{ topic: string; affinity: number; attentionMs: number; attended: number; skipped: number }>;
  /** The visitor's own items that share a topic with this one, most attended first (at most 3). */
  similar: string[];
  /** True when exploration, not the score, put the item where it is. */
  explored: boolean;
  /** True when the site pinned it with `data-attn-rank-keep`. */
  kept: boolean;
  /** Position in its container after personalization (0 = first); undefined when not ranked. */
  rank?: number;
  /** Position in the page's own order (0 = first); undefined when not ranked. */
  originalRank?: number;
}

/** A container's decision, as reported in the `personalized` event. */
export interface ContainerReport {
  /** `data-attn-rank` value, else "#<index>". */
  key: string;
  /** Every item id in the decided order. */
  order: string[];
  /** Every item id in the page's own order, before any personalization. */
  original: string[];
  /** Ids shown (after `data-attn-rank-limit`). */
  shown: string[];
  /** Ids hidden by the limit. */
  hidden: string[];
  /** Ids pinned by `data-attn-rank-keep`. */
  kept: string[];
  /** The item exploration placed in a top slot, if any. */
  explored?: string;
  /** True once the order is in the page; false while it waits for the container to leave the viewport. */
  applied: boolean;
  /** Topic diversity of the top 3 slots. */
  diversity: { slots: number; topics: string[]; topShare: number; entropy: number };
}

/** A variant group's decision. */
export interface VariantReport {
  /** `data-attn-variant` value. */
  group: string;
  /** The alternative shown. */
  shown: string;
  /** True when exploration chose it. */
  explored: boolean;
  /** True once it is the one shown in the page. */
  applied: boolean;
}

/** Payload of the `personalized` event and result of `personalize()`. */
export interface PersonalizeReport {
  /** Which scores decided: the on-device model (weight ≥ 0.5) or the visitor's topic affinities. */
  source: 'model' | 'profile';
  /**
   * Weight of the model in the blend, 0..1: how well its scores agree with this visitor's own
   * attention on the items they have seen (0 until the model has loaded and can be judged).
   */
  modelWeight: number;
  /** Seed of this decision; equal seeds give equal orders. */
  seed: number;
  /**
   * True on a page load drawn into the holdout (the `holdout` option): every container and group
   * keeps the page's own order, so reports can compare personalized attention against it.
   */
  holdout: boolean;
  /** Items the visitor has attended so far (≥ 1 s of attention, or clicked). */
  attended: number;
  /** Scores of every ranked item, 0..1 within its container or group. */
  scores: Scores;
  /** The `data-attn-rank` containers. */
  containers: ContainerReport[];
  /** The `data-attn-variant` groups. */
  variants: VariantReport[];
}

/** Options of one `personalize()` call. */
export interface PersonalizeOptions {
  /** Seed of the decision; default derived from the visitor's signals (stable across reloads without new signals). */
  seed?: number;
  /** Exploration rate 0..1 for this call; default the tracker's `explore` option. */
  explore?: number;
}
