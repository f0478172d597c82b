/**
 * The IndexedDB schema, typed once, and its migrations. Bump DB_VERSION and add a step to
 * `migrate` for every change; each step must keep the data of the version before it.
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';
import type { CatalogueEntry, ItemRecord, ScoresRecord, SettingRecord, ViewRecord, VisitorProfile, WeightsRecord } from '../types';
import { addition, emptyProfile, foldJournal, type JournalEntry } from './derive';

export const DB_NAME = 'attnflow';
export const DB_VERSION = 4;

/**
 * A page view as stored: the view and its item records in one document, upserted by viewId as
 * the view goes on (one put per view and flush instead of one per item: 10-20× faster). Each item
 * record is one line of text (`itemLine`): what a put costs Chromium grows with the bytes it
 * clones, and a line is a quarter of the bytes of the same record as an object, so the hide flush
 * of a view of thousands of items stays short. `itemsOf` reads them back.
 */
export interface StoredView extends ViewRecord {
  items: string[];
}

export interface AttnflowDB extends DBSchema {
  /** Page views with their item records (v1 kept the records in a 'records' store of their own). */
  views: { key: string; value: StoredView; indexes: { 'by-updated': number } };
  /** Items seen, with what they received across views (v2; counts since v4). */
  catalogue: { key: string; value: CatalogueEntry; indexes: { 'by-last': number } };
  /** One record, id 'visitor': topic affinities and totals (v2; totals since v4). */
  profile: { key: string; value: VisitorProfile };
  /** Changes to the log not yet in the catalogue and profile, oldest first (v4; see derive.ts). */
  journal: { key: number; value: JournalEntry };
  /** Model weights and metadata (v2). */
  weights: { key: string; value: WeightsRecord };
  /** Cached last scores (v2). */
  scores: { key: string; value: ScoresRecord };
  /** Small settings, e.g. the model backend chosen on this device (v2). */
  settings: { key: string; value: SettingRecord };
}

export type StoreName = StoreNames<AttnflowDB>;
/** Every store, in export order (the journal is folded first, and left out). */
export const STORES: StoreName[] = ['views', 'catalogue', 'profile', 'weights', 'scores', 'settings'];

type Db = IDBPDatabase<AttnflowDB>;
type UpgradeTx = IDBPTransaction<AttnflowDB, StoreName[], 'versionchange'>;

/**
 * Brings a database from `from` to `to` inside the upgrade transaction.
 * v1: records (one per view and item) and views; views kept the page's full URL.
 * v2: each view holds its item records; views keep the path only (no query string) and their
 *     attention per topic; catalogue (rebuilt from the records), profile, weights, scores, settings.
 * v3: a view's item records are lines of text, not objects.
 * v4: catalogue entries and the profile keep counts, updated through a journal as the log is
 *     written; both are rebuilt from the views once.
 */
export async function migrate(db: Db, from: number, to: number, tx: UpgradeTx): Promise<void> {
  const v1 = db as unknown as IDBPDatabase; // v1's 'records' store is not in today's schema
  const tx1 = tx as unknown as IDBPTransaction<unknown, string[], 'versionchange'>;
  if (from < 1 && to >= 1) {
    v1.createObjectStore('records', { keyPath: ['viewId', 'itemId'] }).createIndex('by-last', 'lastAt');
    db.createObjectStore('views', { keyPath: 'viewId' });
  }
  if (from < 2 && to >= 2) {
    const views = tx.objectStore('views');
    views.createIndex('by-updated', 'updatedAt');
    const cat = db.createObjectStore('catalogue', { keyPath: 'itemId' });
    cat.createIndex('by-last', 'lastSeen');
    db.createObjectStore('profile', { keyPath: 'id' });
    db.createObjectStore('weights', { keyPath: 'name' });
    db.createObjectStore('scores', { keyPath: 'name' });
    db.createObjectStore('settings', { keyPath: 'key' });

    const items = new Map<string, ItemRecord[]>();
    for (let c = await tx1.objectStore('records').openCursor(); c; c = await c.continue()) {
      const r = c.value as ItemRecord;
      items.set(r.viewId, [...(items.get(r.viewId) ?? []), r]);
    }
    v1.deleteObjectStore('records');
    for (let c = await views.openCursor(); c; c = await c.continue()) {
      const { url, ...v } = c.value as StoredView & { url?: string };
      void c.update(packView({ ...v, path: v.path ?? pathOf(url), updatedAt: v.updatedAt ?? v.startedAt }, items.get(v.viewId) ?? []));
    }
  }
  if (from === 2 && to >= 3) {
    for (let c = await tx.objectStore('views').openCursor(); c; c = await c.continue()) {
      const { items, ...v } = c.value as unknown as ViewRecord & { items: ItemRecord[] };
      void c.update(packView(v, items));
    }
  }
  if (from < 4 && to >= 4) {
    db.createObjectStore('journal', { autoIncrement: true });
    const entries: JournalEntry[] = [];
    for (let c = await tx.objectStore('views').openCursor(); c; c = await c.continue())
      entries.push(addition(c.value.updatedAt, itemsOf(c.value)));
    const profile = emptyProfile(Date.now());
    const cat = tx.objectStore('catalogue');
    await cat.clear();
    for (const entry of foldJournal(profile, entries, () => undefined, profile.updatedAt).values()) if (entry) void cat.put(entry);
    await tx.objectStore('profile').put(profile);
  }
}

/**
 * A view with its item records, as stored; its attention per topic is summed from the records.
 * `lines`, when given, are the records' lines already made.
 */
export function packView(view: Omit<ViewRecord, 'topics'>, items: Iterable<ItemRecord>, lines?: string[]): StoredView {
  const topics: { [topic: string]: number } = {};
  const made: string[] = [];
  for (const r of items) {
    for (const t of r.topics) topics[t] = (topics[t] ?? 0) + r.attentionMs;
    if (!lines) made.push(itemLine(r, view.startedAt));
  }
  return { ...view, topics, items: lines ?? made };
}

/** The counts of an item record in its line, in order. */
const COUNTS = ['attentionMs', 'visibleMs', 'viewableMs', 'hoverMs', 'clicks', 'rageClicks', 'deadClicks'] as const;

/**
 * An item record as a line: `numbers<TAB>topics<TAB>itemId`. The numbers, decimal and
 * comma-separated, are the counts above, maxVisibleRatio in thousandths, flags (1 viewable,
 * 2 skipped), firstAt less the view's `startedAt`, and lastAt less firstAt. Topics are
 * comma-separated (a topic holds no comma or tab); the item id, last, may hold anything.
 */
export function itemLine(r: ItemRecord, startedAt: number): string {
  let s = '';
  for (const k of COUNTS) s += r[k] + ',';
  return `${s}${Math.round(r.maxVisibleRatio * 1e3)},${+r.viewable | (+r.skipped << 1)},${r.firstAt - startedAt},${r.lastAt - r.firstAt}\t${r.topics.join()}\t${r.itemId}`;
}

/** The item records of a stored view. */
export function itemsOf(v: StoredView): ItemRecord[] {
  return v.items.map((line) => {
    const a = line.indexOf('\t');
    const b = line.indexOf('\t', a + 1);
    const n = line.slice(0, a).split(',').map(Number);
    const r = { viewId: v.viewId, itemId: line.slice(b + 1), topics: b > a + 1 ? line.slice(a + 1, b).split(',') : [] } as Record<
      string,
      unknown
    >;
    COUNTS.forEach((k, i) => (r[k] = n[i]));
    const firstAt = v.startedAt + n[9]!;
    Object.assign(r, {
      maxVisibleRatio: n[7]! / 1e3,
      viewable: (n[8]! & 1) > 0,
      skipped: (n[8]! & 2) > 0,
      firstAt,
      lastAt: firstAt + n[10]!,
    });
    return r as unknown as ItemRecord;
  });
}

/**
 * The item records of the newest views, newest view first, at least `count` of them where there
 * are: a cursor on the views by time, one view per step, that reads no further.
 */
export async function readRecent(db: Db, count: number): Promise<ItemRecord[]> {
  const out: ItemRecord[] = [];
  for (
    let c = await db.transaction('views').store.index('by-updated').openCursor(null, 'prev');
    c && out.length < count;
    c = await c.continue()
  ) {
    out.push(...itemsOf(c.value));
  }
  return out;
}

/** The path of a URL or path, without query string or hash. */
export function pathOf(url: unknown): string {
  const s = String(url ?? '').replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '');
  return s.split(/[?#]/)[0]!.slice(0, 200);
}
