/**
 * The on-device attention log, loaded as its own chunk right after start-up (`log.ts` is its
 * side in the core). Cumulative snapshots of a view go in through `recordView`; item records are
 * upserted by (viewId, itemId), so repeated snapshots and several tabs never duplicate. One
 * transaction per flush. Where IndexedDB is missing, throws or is blocked, the same data lives in
 * memory and the SDK says so once. Views a closed tab left in localStorage (see `log.ts`) are
 * written when the database opens. Each write also journals what it changed, which keeps the
 * catalogue and the profile up to date (`aggregates.ts`, `derive.ts`). Leader, change notices and
 * whole-record reads live in `extras.ts`, loaded with the model.
 *
 * `createStore` puts together the parts, one file each: the records of a view (`ingest.ts`), the
 * state they share (`state.ts`), the database's opening and deletion (`open.ts`), the views a
 * closed tab left (`recover.ts`), writes (`write.ts`), the aggregates' folding (`settle.ts`),
 * retention (`retention.ts`) and the reads (`read.ts`).
 */
import { on } from '../lib/on';
import type { AttentionExport, AttentionSnapshot, ViewReason } from '../types';
import type { Known } from './aggregates';
import { doc, entry, ingest, str } from './ingest';
import { forget, getDb, open } from './open';
import { exportLog, known } from './read';
import { trim } from './retention';
import { DB_NAME, type StoreName, type StoredView } from './schema';
import { settle } from './settle';
import { createState, done, freeze, type Db, type StoreOptions } from './state';
import { unsavedPrefix, withLocalStorage } from './unsaved';
import { createWrite } from './write';

export type { Db, Known, StoreOptions };

export interface Store {
  /** Takes a cumulative snapshot of a view; 'hide' and 'end' flush at once. */
  recordView(snapshot: AttentionSnapshot, reason?: ViewReason): void;
  /** Resolves when everything recorded so far is durable (or kept in memory where it cannot be). Never rejects. */
  flush(): Promise<void>;
  /** Everything stored, as JSON: the one read of the whole log. */
  export(): Promise<AttentionExport>;
  /**
   * What the log holds besides this tab's view in progress: the visitor's profile (topic totals and
   * affinities) and the catalogue entries of `itemIds` that it has. Reads those records only.
   */
  known(itemIds: readonly string[]): Promise<Known>;
  /** Resolves when every write so far is durable and in the aggregates. Never rejects. */
  settled(): Promise<void>;
  /** Deletes the database and all in-memory state; the views in progress are not recorded again. */
  forget(): Promise<void>;
  /** Opens the gate (consent) or closes it: nothing is written, nor the database created, while closed. */
  allow(allowed: boolean): void;
  /** Whether a view may be recorded: the gate is open and it was not forgotten. */
  keeps(viewId: string): boolean;
  /** Deletes records and views past the retention limits, oldest first. */
  trim(): Promise<void>;
  /** 'indexeddb', 'memory' or 'none' (gate closed). */
  storage(): AttentionExport['storage'];
  /** Whether what is recorded reaches IndexedDB, now or once it answers (log.ts copies views to localStorage only then). */
  durable(): boolean;
  /** The open database, or undefined in memory mode or while the gate is closed (for extras.ts). */
  db(): Promise<Db | undefined>;
  /** Memory mode's stores other than views (for extras.ts). */
  mem: Map<StoreName, Map<string, unknown>>;
  /** Memory mode's views (for extras.ts). */
  memViews(): StoredView[];
  /** Called after every flush that wrote something (for extras.ts). */
  flushed: Set<() => void>;
  options: StoreOptions;
  stop(): void;
}

/**
 * Takes over from the core's front of the log (log.ts) once this chunk has loaded: the IndexedDB
 * log for `o`, which drops a view's localStorage copy (listed in `copied`) once the view is durable,
 * opened or closed as consent says now, given the views queued meanwhile, and stopped if the
 * tracker already was.
 */
export function takeOver(
  o: StoreOptions,
  queue: Array<[AttentionSnapshot, ViewReason?]>,
  copied: Set<string>,
  allowed: boolean,
  stopped: boolean,
): Store {
  const prefix = unsavedPrefix(o.name ?? DB_NAME);
  const store = createStore({
    ...o,
    saved: (id) => copied.delete(id) && withLocalStorage((ls) => ls.removeItem(prefix + id)),
    copied: (id) => copied.has(id),
  });
  store.allow(allowed);
  for (const [s, r] of queue.splice(0)) store.recordView(s, r);
  if (stopped) store.stop();
  return store;
}

export function createStore(o: StoreOptions): Store {
  const flush = () => flushNow();
  const c = createState(o, flush);
  const flushNow = createWrite(c);
  const stops: Array<() => void> = [];

  const recordView = (s: AttentionSnapshot, reason: ViewReason = 'tick') => {
    const id = s?.page?.viewId && str(s.page.viewId);
    if (!c.allowed || !id || c.forgotten.has(id)) return;
    if (c.currentId !== id) (c.currentId = id), (c.current = entry());
    if (ingest(s, o.clock.epoch(), c.current)) {
      c.pending.delete(id);
      c.pending.set(id, c.current);
    }
    // A hide while the page still shows is a pagehide, which comes before visibilitychange: the page unloads.
    if (reason !== 'tick')
      void flushNow(reason === 'hide' && typeof document !== 'undefined' && document.visibilityState !== 'hidden' ? 2 : 1);
    else c.timer ??= setTimeout(flush, o.flushIntervalMs ?? 5000);
  };

  if (typeof document !== 'undefined') {
    stops.push(
      on(document, 'visibilitychange', () => document.visibilityState === 'hidden' && void flushNow(1)),
      on(window, 'pagehide', (e) => {
        void flushNow(2);
        if ((e as PageTransitionEvent).persisted) freeze(c);
      }),
      // Shown again from the back/forward cache: what was cut short is written now. The aborted
      // transactions' events may come after this one: they stay quiet until then.
      on(window, 'pageshow', (e) => {
        if (!(e as PageTransitionEvent).persisted || !c.frozen) return;
        void flushNow()
          .then(() => settle(c))
          .then(() => (c.frozen = false));
      }),
    );
  }

  return {
    recordView,
    flush,
    trim: () => trim(c),
    mem: c.mem,
    memViews: () => [...c.pending.values()].map(doc),
    flushed: c.flushed,
    options: o,
    db: () => getDb(c),
    forget: () => forget(c),
    // Behind the opening, whose recovery writes too.
    settled: () => (c.allowed && c.opening ? c.opening : done).then(flush).then(() => settle(c)),
    known: (ids) => known(c, ids),
    export: () => exportLog(c),
    allow(yes) {
      c.allowed = yes;
      if (yes) void open(c);
      else clearTimeout(c.timer), (c.timer = undefined);
    },
    storage: () => (c.allowed ? (c.inMemory ? 'memory' : 'indexeddb') : 'none'),
    durable: () => c.allowed && (!c.inMemory || !!c.waiting),
    keeps: (id) => c.allowed && !c.forgotten.has(id),
    stop() {
      stops.forEach((s) => s());
      clearTimeout(c.timer);
      // IndexedDB closes once the transactions in flight have finished.
      c.db?.close();
    },
  };
}
