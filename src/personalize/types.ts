/** Plain data of personalization: no DOM, no storage. Durations in ms, shares in 0..1. */

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

/** What one item received in one page view (the shape of the attention log's records). */
export interface ItemView {
  /** Stable item id. */
  itemId: string;
  /** Topics of the item; default none. */
  topics?: readonly string[];
  /** Attention the item received in the view, ms. */
  attentionMs?: number;
  /** Clicks inside the item in the view. */
  clicks?: number;
  /** Seen but passed over in the view. */
  skipped?: boolean;
}

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
  /** Distinct items of this topic the visitor attended (≥ `ATTENDED_MS` or clicked). */
  attended: number;
  /** Clicks on items with this topic. */
  clicks: number;
  /** Item views of this topic that were skipped. */
  skipped: number;
}

/** The visitor as personalization sees them: built from their own attention log. */
export interface VisitorProfile {
  /** Per item id. */
  items: Record<string, ItemStat>;
  /** Per topic. */
  topics: Record<string, TopicStat>;
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
