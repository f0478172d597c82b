/**
 * The IndexedDB schema, typed once, and its migrations. Bump DB_VERSION and add a step to
 * `migrate` for every change; each step must keep the data of the version before it.
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';
import type {
  CatalogueEntry,
  ItemRecord,
  ScoresRecord,
  SettingRecord,
  ViewRecord,
  VisitorProfile,
  WeightsRecord,
} from '../types';
import { mergeCatalogue } from './derive';

export const DB_NAME = 'attnflow';
export const DB_VERSION = 2;

export interface AttnflowDB extends DBSchema {
  /** Item attention per view, upserted by [viewId, itemId]. */
  records: { key: [string, string]; value: ItemRecord; indexes: { 'by-last': number; 'by-item': string } };
  /** Page views. */
  views: { key: string; value: ViewRecord; indexes: { 'by-updated': number } };
  /** Items seen, across views (v2). */
  catalogue: { key: string; value: CatalogueEntry; indexes: { 'by-last': number } };
  /** One record, id 'visitor' (v2). */
  profile: { key: string; value: VisitorProfile };
  /** Model weights and metadata (v2). */
  weights: { key: string; value: WeightsRecord };
  /** Cached last scores (v2). */
  scores: { key: string; value: ScoresRecord };
  /** Small settings, e.g. the model backend chosen on this device (v2). */
  settings: { key: string; value: SettingRecord };
}

export type StoreName = StoreNames<AttnflowDB>;
/** Every store, in export order. */
export const STORES: StoreName[] = ['records', 'views', 'catalogue', 'profile', 'weights', 'scores', 'settings'];

type Db = IDBPDatabase<AttnflowDB>;
type UpgradeTx = IDBPTransaction<AttnflowDB, StoreName[], 'versionchange'>;

/**
 * Brings a database from `from` to `to` inside the upgrade transaction.
 * v1: records and views; views kept the page's full URL.
 * v2: catalogue, profile, weights, scores, settings; views keep the path only (no query string)
 *     and their attention per topic; the catalogue is rebuilt from the records.
 */
export async function migrate(db: Db, from: number, to: number, tx: UpgradeTx): Promise<void> {
  if (from < 1 && to >= 1) {
    db.createObjectStore('records', { keyPath: ['viewId', 'itemId'] }).createIndex('by-last', 'lastAt');
    db.createObjectStore('views', { keyPath: 'viewId' });
  }
  if (from < 2 && to >= 2) {
    const records = tx.objectStore('records');
    const views = tx.objectStore('views');
    records.createIndex('by-item', 'itemId');
    views.createIndex('by-updated', 'updatedAt');
    db.createObjectStore('catalogue', { keyPath: 'itemId' }).createIndex('by-last', 'lastSeen');
    db.createObjectStore('profile', { keyPath: 'id' });
    db.createObjectStore('weights', { keyPath: 'name' });
    db.createObjectStore('scores', { keyPath: 'name' });
    db.createObjectStore('settings', { keyPath: 'key' });
    if (from < 1) return;

    const catalogue = new Map<string, CatalogueEntry>();
    const topics = new Map<string, { [topic: string]: number }>();
    for (let c = await records.openCursor(); c; c = await c.continue()) {
      const r = c.value;
      catalogue.set(r.itemId, mergeCatalogue(catalogue.get(r.itemId), r));
      const t = topics.get(r.viewId) ?? {};
      for (const topic of r.topics) t[topic] = (t[topic] ?? 0) + r.attentionMs;
      topics.set(r.viewId, t);
    }
    for (const entry of catalogue.values()) void tx.objectStore('catalogue').put(entry);
    for (let c = await views.openCursor(); c; c = await c.continue()) {
      const { url, ...v } = c.value as ViewRecord & { url?: string };
      void c.update({ ...v, path: v.path ?? pathOf(url), updatedAt: v.updatedAt ?? v.startedAt, topics: topics.get(v.viewId) ?? {} });
    }
  }
}

/** The path of a URL or path, without query string or hash. */
export function pathOf(url: unknown): string {
  const s = String(url ?? '').replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '');
  return s.split(/[?#]/)[0]!.slice(0, 200);
}
