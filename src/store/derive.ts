/** Pure functions that derive the catalogue and the visitor profile from the log. */
import type { CatalogueEntry, ItemRecord, ViewRecord, VisitorProfile } from '../types';

/** A view's attention counts half as much every 30 days. */
export const HALF_LIFE_MS = 30 * 864e5;

/** The catalogue entry of `r.itemId` once `r` is known: idempotent, so records may be merged twice. */
export function mergeCatalogue(entry: CatalogueEntry | undefined, r: ItemRecord): CatalogueEntry {
  if (!entry) return { itemId: r.itemId, topics: r.topics, firstSeen: r.firstAt, lastSeen: r.lastAt };
  const newer = r.lastAt >= entry.lastSeen;
  return {
    itemId: r.itemId,
    topics: newer ? r.topics : entry.topics,
    firstSeen: Math.min(entry.firstSeen, r.firstAt),
    lastSeen: Math.max(entry.lastSeen, r.lastAt),
  };
}

/** Topic affinities: attention ms per topic summed over views, each decayed by its age. */
export function computeProfile(views: ViewRecord[], now: number): VisitorProfile {
  const affinities: { [topic: string]: number } = {};
  for (const v of views) {
    const w = 2 ** (-Math.max(0, now - v.updatedAt) / HALF_LIFE_MS);
    for (const t in v.topics) affinities[t] = (affinities[t] ?? 0) + v.topics[t]! * w;
  }
  for (const t in affinities) affinities[t] = Math.round(affinities[t]!);
  return { id: 'visitor', affinities, views: views.length, updatedAt: now };
}
