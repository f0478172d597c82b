/**
 * The model-free scorer: topic affinities from the visitor's own attention log. It personalizes the
 * page before (or without) the model chunk, and it is what `explain()` puts into words.
 */
// The log's own arithmetic (built into the log chunk, which every page has loaded already).
import { rankTop } from '../store/derive';
import { CLICK_MS, given, isAttended, SKIP_MS } from '../rules';
import type { CatalogueEntry, VisitorProfile as StoredProfile } from '../types';
import type { ItemView, RankItem, Scores, VisitorProfile } from './types';

/** An empty profile. */
export function emptyProfile(): VisitorProfile {
  return { items: {}, topics: {}, totals: { items: 0, attended: 0, clicks: 0, skipped: 0 } };
}

/** The profile of what the log holds (the store's aggregates): every topic, the items given. */
export function fromKnown(known: { profile: StoredProfile; items: readonly CatalogueEntry[] }): VisitorProfile {
  const p = emptyProfile();
  const { profile } = known;
  for (const e of known.items)
    p.items[e.itemId] = { attentionMs: e.attentionMs, clicks: e.clicks, skipped: e.skipped, views: e.views, topics: [...e.topics] };
  for (const t in profile.topics) {
    const s = profile.topics[t]!;
    p.topics[t] = {
      attentionMs: s.attentionMs,
      attended: s.attended,
      clicks: s.clicks,
      skipped: s.skipped,
      top: s.top.map(([id, ms]) => [id, ms]),
    };
  }
  p.totals = { items: profile.items, attended: profile.attended, clicks: profile.clicks, skipped: profile.skipped };
  return p;
}

/** Adds one page view's item numbers to `profile` (in place) and returns it. */
export function addView(profile: VisitorProfile, views: readonly ItemView[]): VisitorProfile {
  for (const v of views) {
    const attentionMs = Math.max(0, v.attentionMs ?? 0);
    const clicks = Math.max(0, v.clicks ?? 0);
    const skipped = v.skipped ? 1 : 0;
    const topics = [...(v.topics ?? [])];
    const before = profile.items[v.itemId];
    const wasAttended = before ? isAttended(before) : false;
    const item = (profile.items[v.itemId] = before ?? { attentionMs: 0, clicks: 0, skipped: 0, views: 0, topics });
    const totals = profile.totals;
    if (!before) totals.items++;
    item.attentionMs += attentionMs;
    item.clicks += clicks;
    item.skipped += skipped;
    item.views += 1;
    if (topics.length) item.topics = topics;
    const nowAttended = isAttended(item);
    totals.attended += +nowAttended - +wasAttended;
    totals.clicks += clicks;
    totals.skipped += skipped;
    for (const topic of item.topics) {
      const t = (profile.topics[topic] ??= { attentionMs: 0, attended: 0, clicks: 0, skipped: 0, top: [] });
      t.attentionMs += attentionMs;
      t.clicks += clicks;
      t.skipped += skipped;
      if (nowAttended && !wasAttended) t.attended += 1;
      if (nowAttended) rankTop(t, v.itemId, item.attentionMs);
    }
  }
  return profile;
}

/** Builds a profile from a log of item views, oldest first. */
export function buildProfile(views: readonly ItemView[]): VisitorProfile {
  return addView(emptyProfile(), views);
}

/** Items the visitor attended, counted once each. */
export function attendedCount(profile: VisitorProfile): number {
  return profile.totals.attended;
}

/**
 * Affinity of each topic, in -1..1: the topic's share of everything the visitor gave
 * (attention, clicks weighted as `CLICK_MS`), minus the share of skips. Unknown topics are 0.
 */
export function topicAffinities(profile: VisitorProfile): Record<string, number> {
  let total = 0;
  for (const t of Object.values(profile.topics)) total += t.attentionMs + CLICK_MS * t.clicks + SKIP_MS * t.skipped;
  const out: Record<string, number> = {};
  if (total <= 0) return out;
  for (const [topic, t] of Object.entries(profile.topics)) {
    out[topic] = given(t) / total;
  }
  return out;
}

/**
 * Scores items from topic affinities: the mean affinity of the item's topics, less a small
 * penalty for an item the visitor skipped before. Items without topics score 0.
 */
export function profileScores(profile: VisitorProfile, items: readonly RankItem[]): Scores {
  const affinity = topicAffinities(profile);
  const out: Scores = {};
  for (const item of items) {
    let s = 0;
    for (const topic of item.topics) s += affinity[topic] ?? 0;
    if (item.topics.length) s /= item.topics.length;
    const own = profile.items[item.id];
    if (own?.skipped) s -= 0.02 * Math.min(own.skipped, 3);
    out[item.id] = Math.round(s * 1e6) / 1e6;
  }
  return out;
}

/** A `ScoreSource` over a profile that can change: it reads `get()` on every call. */
export function profileScorer(get: () => VisitorProfile): (items: readonly RankItem[]) => Promise<Scores> {
  return async (items) => profileScores(get(), items);
}

/**
 * A fingerprint of the visitor's signals: it changes when they attend, click or skip something,
 * and not on a reload without new signals, so a seed derived from it does not reshuffle.
 */
export function signalsKey(profile: VisitorProfile): string {
  const t = profile.totals;
  return `${t.attended}.${t.clicks}.${t.skipped}`;
}
