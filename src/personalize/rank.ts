/**
 * Ranking decisions over plain data: the order of a `data-attn-rank` container, which alternative
 * of a `data-attn-variant` group is shown, and how diverse the top slots are.
 */
import { hashString, seededRandom } from './random';
import type { RankItem, Scores } from './types';

/** How one container is ranked. */
export interface RankOptions {
  /** The first N items stay where the page put them (`data-attn-rank-keep`); default 0. */
  keep?: number;
  /** Show at most N items, hide the rest (`data-attn-rank-limit`); default all. */
  limit?: number;
  /**
   * Exploration rate, 0..1: in this share of page views one of the top `exploreSlots` goes to an
   * item the visitor has never seen (ε-greedy), so nobody is locked into one topic; default 0.1.
   */
  explore?: number;
  /** The top slots exploration may use; default 3. */
  exploreSlots?: number;
  /** Seed of this page view; the same seed gives the same order. */
  seed: number;
  /** True for items the visitor has seen before; unseen items are the ones explored. Default none seen. */
  seen?: (id: string) => boolean;
}

/** The decision for one container. */
export interface RankResult {
  /** Every item id in the new order. */
  order: string[];
  /** The ids to show (`order` cut at `limit`). */
  shown: string[];
  /** The ids to hide because of `limit`. */
  hidden: string[];
  /** The item exploration placed, if any. */
  explored?: string;
  /** The ids pinned by `keep`. */
  kept: string[];
  /** True when the order or the shown set differs from the page's own. */
  changed: boolean;
}

/** Stable descending sort by score; items without a score go last, in page order. */
export function sortByScore(items: readonly RankItem[], scores: Scores): RankItem[] {
  return items
    .map((item, index) => ({ item, index, score: scores[item.id] }))
    .sort((a, b) => {
      const sa = typeof a.score === 'number' && Number.isFinite(a.score);
      const sb = typeof b.score === 'number' && Number.isFinite(b.score);
      if (sa !== sb) return sa ? -1 : 1;
      if (sa && a.score !== b.score) return b.score! - a.score!;
      return a.index - b.index;
    })
    .map((x) => x.item);
}

/** Decides the order of one container's items (given in page order). Pure and deterministic. */
export function rankContainer(items: readonly RankItem[], scores: Scores, options: RankOptions): RankResult {
  const keep = clampInt(options.keep ?? 0, 0, items.length);
  const explore = Math.min(1, Math.max(0, options.explore ?? 0.1));
  const slots = Math.max(1, options.exploreSlots ?? 3);
  const seen = options.seen ?? (() => false);
  const kept = items.slice(0, keep);
  const ranked = sortByScore(items.slice(keep), scores);
  let explored: string | undefined;

  const random = seededRandom(options.seed ^ hashString(items.map((i) => i.id).join('\u0000')));
  if (explore > 0 && random() < explore) {
    const top = Math.min(slots, ranked.length);
    const candidates = ranked.slice(top).filter((item) => !seen(item.id));
    if (candidates.length && top > 0) {
      const pick = candidates[Math.floor(random() * candidates.length)]!;
      const slot = Math.floor(random() * top);
      ranked.splice(ranked.indexOf(pick), 1);
      ranked.splice(slot, 0, pick);
      explored = pick.id;
    }
  }

  const order = [...kept, ...ranked].map((i) => i.id);
  const limit = options.limit === undefined ? order.length : clampInt(options.limit, keep, order.length);
  const shown = order.slice(0, limit);
  const hidden = order.slice(limit);
  const changed = hidden.length > 0 || order.some((id, i) => id !== items[i]!.id);
  const result: RankResult = { order, shown, hidden, kept: kept.map((i) => i.id), changed };
  if (explored) result.explored = explored;
  return result;
}

/** How one `data-attn-variant` group is decided. */
export interface VariantOptions {
  /** Exploration rate, 0..1: in this share of views an unseen alternative is shown; default 0.1. */
  explore?: number;
  /** Seed of this page view. */
  seed: number;
  /** True for alternatives the visitor has seen before. */
  seen?: (id: string) => boolean;
  /** The alternative the page shows by default (the one not `hidden`); default the first. */
  fallback?: string;
}

/** Picks the one alternative of a group to show: the best score, or an unseen one when exploring. */
export function pickVariant(
  group: string,
  alternatives: readonly RankItem[],
  scores: Scores,
  options: VariantOptions,
): { shown: string; explored: boolean } | undefined {
  if (!alternatives.length) return undefined;
  const random = seededRandom(options.seed ^ hashString(`variant\u0000${group}`));
  const seen = options.seen ?? (() => false);
  if (random() < Math.min(1, Math.max(0, options.explore ?? 0.1))) {
    const unseen = alternatives.filter((a) => !seen(a.id));
    if (unseen.length) return { shown: unseen[Math.floor(random() * unseen.length)]!.id, explored: true };
  }
  const scored = alternatives.filter((a) => Number.isFinite(scores[a.id]));
  const best = sortByScore(alternatives, scores)[0]!;
  // Equal scores (nothing known yet) keep the page's own default.
  const allEqual = scored.length === 0 || scored.every((a) => scores[a.id] === scores[scored[0]!.id]);
  if (allEqual && options.fallback && alternatives.some((a) => a.id === options.fallback))
    return { shown: options.fallback, explored: false };
  return { shown: best.id, explored: false };
}

/** Topic diversity of the first `k` items of an order. */
export interface Diversity {
  /** Slots looked at (≤ k). */
  slots: number;
  /** Distinct topics among them, in order of first appearance. */
  topics: string[];
  /** Share of the slots held by the most frequent topic, 0..1 (1 = a bubble). */
  topShare: number;
  /** Normalised Shannon entropy of the topics in the slots, 0..1 (1 = evenly spread). */
  entropy: number;
}

/** Reports how many topics the top `k` slots span (default 3). */
export function topicDiversity(ordered: readonly RankItem[], k = 3): Diversity {
  const top = ordered.slice(0, k);
  const counts = new Map<string, number>();
  let total = 0;
  for (const item of top) {
    for (const topic of item.topics) {
      counts.set(topic, (counts.get(topic) ?? 0) + 1);
      total++;
    }
  }
  let entropy = 0;
  for (const n of counts.values()) entropy -= (n / total) * Math.log(n / total);
  const norm = counts.size > 1 ? entropy / Math.log(counts.size) : 0;
  const max = Math.max(0, ...counts.values());
  return {
    slots: top.length,
    topics: [...counts.keys()],
    topShare: top.length ? round3(Math.min(1, max / top.length)) : 0,
    entropy: round3(norm),
  };
}

/** Min-max normalises scores into 0..1 (all 0.5 when they are equal); for `--attn-score`. */
export function normalizeScores(scores: Scores, ids: readonly string[]): Scores {
  const values = ids.map((id) => scores[id]).filter((s): s is number => Number.isFinite(s));
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const out: Scores = {};
  for (const id of ids) {
    const s = scores[id];
    if (!Number.isFinite(s)) continue;
    out[id] = hi > lo ? round3((s! - lo) / (hi - lo)) : 0.5;
  }
  return out;
}

function clampInt(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(Number.isFinite(n) ? n : lo)));
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
