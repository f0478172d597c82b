/**
 * The log's aggregates, as pure arithmetic: what each item and each topic received over every view
 * the log keeps, and the visitor's totals. They are kept up to date as the log is written: every
 * write adds a journal entry of what changed (`recordDelta`), in the same transaction as the views
 * it describes; `foldJournal` adds entries to the aggregates, and retention adds the negative of
 * the views it deletes. So a page reads a handful of records, whatever the log's size.
 */
import { decay as fade, isAttended } from '../rules';
import type { CatalogueEntry, ItemRecord, TopicTotals, VisitorProfile } from '../types';

/** The most attended items kept per topic (for explanations). */
export const TOP_ITEMS = 5;

/**
 * A change of one item record: id, topics, attention ms, clicks, skips, records (1 new, -1 gone),
 * and the record's first and last change (epoch ms).
 */
export type ItemDelta = [
  itemId: string,
  topics: string[],
  attentionMs: number,
  clicks: number,
  skipped: number,
  records: number,
  firstAt: number,
  lastAt: number,
];

/** What one write changed in the log: its time (epoch ms, the time its attention is dated), new views, item changes. */
export interface JournalEntry {
  at: number;
  views: number;
  items: ItemDelta[];
}

/** The change from `prev` (this record as last written; none: new) to `r`; undefined when no count changed. */
export function recordDelta(r: ItemRecord, prev?: ItemRecord): ItemDelta | undefined {
  const d: ItemDelta = [
    r.itemId,
    r.topics,
    r.attentionMs - (prev?.attentionMs ?? 0),
    r.clicks - (prev?.clicks ?? 0),
    +r.skipped - +(prev?.skipped ?? 0),
    prev ? 0 : 1,
    r.firstAt,
    r.lastAt,
  ];
  return prev && !d[2] && !d[3] && !d[4] ? undefined : d;
}

/** The negative of a view's records: what deleting them takes from the aggregates. */
export function removal(at: number, records: ItemRecord[]): JournalEntry {
  return { at, views: -1, items: records.map((r) => [r.itemId, r.topics, -r.attentionMs, -r.clicks, -r.skipped, -1, r.firstAt, r.lastAt]) };
}

/** A view's records as one journal entry (a migration, or memory mode, folds the log from them). */
export function addition(at: number, records: ItemRecord[]): JournalEntry {
  return { at, views: 1, items: records.map((r) => recordDelta(r)!) };
}

/** An empty profile at `now`. */
export function emptyProfile(now: number): VisitorProfile {
  return { id: 'visitor', affinities: {}, views: 0, updatedAt: now, records: 0, items: 0, attended: 0, clicks: 0, skipped: 0, topics: {} };
}

const topic = (p: VisitorProfile, t: string): TopicTotals =>
  (p.topics[t] ??= { attentionMs: 0, attended: 0, clicks: 0, skipped: 0, top: [] });

/** Puts `id` among the topic's most attended items with `ms`, or takes it out (`ms` undefined). */
export function rankTop(t: TopicTotals, id: string, ms?: number): void {
  const top = t.top.filter((x) => x[0] !== id);
  if (ms !== undefined) top.push([id, ms]);
  t.top = top.sort((a, b) => b[1] - a[1]).slice(0, TOP_ITEMS);
}

/**
 * Adds `entries` (in the order they were written) to `profile` and to the catalogue entries of the
 * items they touch, which `entry` gives as stored. Returns the entries to write back; undefined
 * where the item has no record left (delete it). `profile` is changed in place.
 */
export function foldJournal(
  profile: VisitorProfile,
  entries: readonly JournalEntry[],
  entry: (itemId: string) => CatalogueEntry | undefined,
  now: number,
): Map<string, CatalogueEntry | undefined> {
  // Affinities decay from their last update to now; each change counts from its own time.
  const decay = (at: number) => fade(now - at);
  const f = decay(profile.updatedAt);
  for (const t in profile.affinities) profile.affinities[t]! *= f;
  profile.updatedAt = Math.max(profile.updatedAt, now);

  const sums = new Map<string, ItemDelta>();
  for (const e of entries) {
    profile.views += e.views;
    const w = decay(e.at);
    for (const d of e.items) {
      const [id, topics, att, clicks, skipped] = d;
      for (const t of topics) {
        const s = topic(profile, t);
        s.attentionMs += att;
        s.clicks += clicks;
        s.skipped += skipped;
        profile.affinities[t] = (profile.affinities[t] ?? 0) + att * w;
      }
      profile.clicks += clicks;
      profile.skipped += skipped;
      const sum = sums.get(id);
      if (!sum) sums.set(id, [...d]);
      else {
        for (let i = 2; i < 6; i++) (sum[i] as number) += d[i] as number;
        if (d[7] >= sum[7]) (sum[1] = topics), (sum[7] = d[7]);
        sum[6] = Math.min(sum[6], d[6]);
      }
    }
  }

  const out = new Map<string, CatalogueEntry | undefined>();
  for (const [id, d] of sums) {
    const [, , , , , , first, last] = d;
    const before = entry(id);
    const had = (before?.views ?? 0) > 0;
    const was = had && isAttended(before!);
    const after: CatalogueEntry = {
      itemId: id,
      // The topics of the newest record (a deleted old view's are not).
      topics: before && (!d[1].length || last < before.lastSeen) ? before.topics : d[1],
      firstSeen: Math.min(before?.firstSeen ?? first, first),
      lastSeen: Math.max(before?.lastSeen ?? last, last),
      attentionMs: Math.max(0, (before?.attentionMs ?? 0) + d[2]),
      clicks: Math.max(0, (before?.clicks ?? 0) + d[3]),
      skipped: Math.max(0, (before?.skipped ?? 0) + d[4]),
      views: Math.max(0, (before?.views ?? 0) + d[5]),
    };
    const has = after.views > 0;
    const is = has && isAttended(after);
    profile.records += after.views - (before?.views ?? 0);
    profile.items += +has - +had;
    profile.attended += +is - +was;
    if (was) for (const t of before!.topics) topic(profile, t).attended--;
    if (is) for (const t of after.topics) topic(profile, t).attended++;
    for (const t of before?.topics ?? []) if (profile.topics[t]) rankTop(profile.topics[t]!, id);
    if (is) for (const t of after.topics) rankTop(topic(profile, t), id, after.attentionMs);
    out.set(id, has ? after : undefined);
  }

  // Nothing below zero (a change folded twice cannot make nonsense), and topics with nothing left go.
  for (const k of ['records', 'items', 'attended', 'clicks', 'skipped', 'views'] as const) profile[k] = Math.max(0, profile[k]);
  for (const t in profile.topics) {
    const s = profile.topics[t]!;
    s.attentionMs = Math.max(0, s.attentionMs);
    s.attended = Math.max(0, s.attended);
    s.clicks = Math.max(0, s.clicks);
    s.skipped = Math.max(0, s.skipped);
    if (!s.attentionMs && !s.clicks && !s.skipped && !s.attended) delete profile.topics[t], delete profile.affinities[t];
  }
  for (const t in profile.affinities) profile.affinities[t] = Math.max(0, profile.affinities[t]!);
  return out;
}
