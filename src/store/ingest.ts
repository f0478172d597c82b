/**
 * The records of a view: a tracker's cumulative snapshot folded into the view and item records
 * the log keeps (known numbers only), and the view as stored.
 */
import type { AttentionSnapshot, ItemRecord, ViewRecord } from '../types';
import { itemLine, packView, pathOf } from './schema';

/**
 * A view not yet durable. `v` counts changes; `lines` holds each item record as stored, made when
 * the record changes. `sent` is each record as last given to the database, `dirty` the records
 * changed since, `put` whether the view was: the journal entry of a write is the difference (see
 * derive.ts).
 */
export type Entry = {
  view?: Omit<ViewRecord, 'topics'>;
  items: Map<string, ItemRecord>;
  lines: Map<string, string>;
  v: number;
  sent: Map<string, ItemRecord>;
  dirty: Set<string>;
  put?: boolean;
};
export const entry = (): Entry => ({ items: new Map(), lines: new Map(), v: 0, sent: new Map(), dirty: new Set() });
/** The view of `e` as stored, its item records with it. */
export const doc = (e: Entry) => packView(e.view!, e.items.values(), [...e.lines.values()]);

const ITEM = ['attentionMs', 'visibleMs', 'viewableMs', 'hoverMs', 'clicks', 'rageClicks', 'deadClicks'];
const PAGE = ['engagedMs', 'visibleMs', 'rageClicks', 'deadClicks'];
export const int = (x: unknown) => (typeof x === 'number' && x > 0 && x < 1e13 ? Math.round(x) : 0);
const ratio = (x: unknown) => Math.round(Math.min(1, Math.max(0, Number(x) || 0)) * 1e3) / 1e3;
export const str = (x: unknown) => String(x).slice(0, 200);

/** Copies only the known numbers of `from`: nothing else (text, values, URLs) can reach the log. */
function numbers(keys: string[], from: Record<string, unknown>, to: Record<string, unknown>) {
  for (const k of keys) to[k] = int(from[k]);
  return to;
}

function same(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  for (const k in a) {
    const x = a[k];
    if (k !== 'lastAt' && k !== 'updatedAt' && x !== b[k] && (typeof x !== 'object' || JSON.stringify(x) !== JSON.stringify(b[k])))
      return false;
  }
  return true;
}

/** Folds a cumulative snapshot into `e`; true when something changed. */
export const ingest = (s: AttentionSnapshot, now: number, e: Entry): boolean => {
  const p = s.page;
  const viewId = str(p.viewId);
  const startedAt = int(p.startedAt);
  const v = e.v;
  // Lines keep times from the view's start: a start that moved remakes them.
  if (e.view && e.view.startedAt !== startedAt) e.items.forEach((r, id) => e.lines.set(id, itemLine(r, startedAt)));
  for (const id in s.items) {
    const it = s.items[id]!;
    const prev = e.items.get(id);
    const rec = numbers(ITEM, it as never, {
      viewId,
      itemId: str(id),
      topics: (Array.isArray(it.topics) ? it.topics : []).slice(0, 20).map((t) => str(t).replace(/[,\t]/g, ' ')),
      maxVisibleRatio: ratio(it.maxVisibleRatio),
      viewable: it.viewable === true,
      skipped: it.skipped === true,
      firstAt: prev?.firstAt ?? now,
      lastAt: now,
    }) as unknown as ItemRecord;
    if (prev && same(prev as never, rec as never)) continue;
    e.items.set(id, rec);
    e.lines.set(id, itemLine(rec, startedAt));
    e.dirty.add(id);
    e.v++;
  }
  const view = numbers(PAGE, p as never, {
    viewId,
    path: pathOf(p.path),
    startedAt,
    updatedAt: now,
    scrollDepth: ratio(p.scrollDepth),
  }) as unknown as Entry['view'] & {};
  if (e.view && e.v === v && same(e.view as never, view as never)) return false;
  e.view = view;
  e.v++;
  return true;
};
