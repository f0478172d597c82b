/**
 * The on-device log as the core sees it. The IndexedDB part (store.ts, idb) loads as its own
 * chunk right after start-up, so that the script every page pays for stays small; snapshots
 * recorded before it arrives wait here. Every hide and end of a view is also copied, synchronously,
 * to localStorage (see unsaved.ts): a tab closed before the chunk loaded, or before its last
 * transaction completed, loses nothing; the next page of the site writes the copy.
 */
import { loadChunk } from '../chunks/load';
import type { AttentionExport, AttentionSnapshot, ViewReason } from '../types';
import { DB_NAME, DB_VERSION } from './schema';
import type { Store, StoreOptions } from './store';
import type { Log } from './types';
import { unsavedPrefix, withLocalStorage } from './unsaved';

/** Items at most in a view copied to localStorage at hide. */
const COPY_MAX = 1000;

export function createLog(o: StoreOptions): Log {
  const prefix = unsavedPrefix(o.name ?? DB_NAME);
  const queue: Array<[AttentionSnapshot, ViewReason?]> = [];
  const copied = new Set<string>();
  const forgotten = new Set<string>();
  let store: Store | undefined;
  let loading: Promise<Store | undefined> | undefined;
  let allowed = false;
  let stopped = false;
  let failed = false;
  let lastId = '';

  // A chunk that fails to load or to start (one left in a cache from another release) is reported
  // once; the page goes on measuring without a log.
  const ready = () =>
    (loading ??= loadChunk('store')
      .then((m) => (store = m.takeOver(o, queue, copied, allowed, stopped)))
      .catch((error) => {
        failed = true;
        queue.length = 0;
        o.report(error, 'loading the store');
        return undefined;
      }));

  return {
    recordView(s, reason) {
      const id = s?.page?.viewId;
      if (!allowed || !id || forgotten.has(id) || (store && !store.keeps(id))) return;
      lastId = id;
      // Views of thousands of items are left to IndexedDB alone: their copy would be a long task.
      if (reason && reason !== 'tick' && (!store || store.durable()) && Object.keys(s.items).length <= COPY_MAX) {
        withLocalStorage((ls) => {
          ls.setItem(prefix + id, JSON.stringify({ at: o.clock.epoch(), s }));
          copied.add(id);
        });
      }
      if (store) store.recordView(s, reason);
      else if (!failed) queue.push([s, reason]);
    },
    flush: () => (allowed || store ? ready().then((s) => s?.flush()) : Promise.resolve()),
    // Without the chunk: an empty export that says nothing is stored.
    export: () =>
      ready().then(
        (s) =>
          s?.export() ??
          ({
            schema: 'attnflow',
            version: DB_VERSION,
            exportedAt: o.clock.epoch(),
            storage: 'none',
            profile: null,
            records: [],
            views: [],
            catalogue: [],
            weights: [],
            scores: [],
            settings: [],
          } as AttentionExport),
      ),
    forget() {
      forgotten.add(lastId);
      queue.length = 0;
      copied.clear();
      withLocalStorage((ls) => Object.keys(ls).forEach((k) => k.startsWith(prefix) && ls.removeItem(k)));
      // Without the chunk, the database still goes.
      return ready()
        .then((s) => (s ? s.forget() : void indexedDB.deleteDatabase(o.name ?? DB_NAME)))
        .catch(() => {});
    },
    allow(yes) {
      allowed = yes;
      if (store) store.allow(yes);
      else if (yes) void ready();
      else queue.length = 0;
    },
    ready,
    stop() {
      stopped = true;
      store?.stop();
    },
  };
}
