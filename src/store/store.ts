/**
 * The on-device attention log, loaded as its own chunk right after start-up (`log.ts` is its
 * side in the core). Cumulative snapshots of a view go in through `recordView`; item records are
 * upserted by (viewId, itemId), so repeated snapshots and several tabs never duplicate. One
 * transaction per flush. Where IndexedDB is missing, throws or is blocked, the same data lives in
 * memory and the SDK says so once. Views a closed tab left in localStorage (see `log.ts`) are
 * written when the database opens. Each write also journals what it changed, which keeps the
 * catalogue and the profile up to date (`aggregates.ts`, `derive.ts`). Leader, change notices and
 * whole-record reads live in `extras.ts`, loaded with the model.
 */
import { deleteDB, openDB, unwrap, type IDBPDatabase } from 'idb';
import type { Clock } from '../lib/clock';
import type { ErrorSink } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { on } from '../lib/on';
import type { AttentionExport, AttentionSnapshot, ItemRecord, ViewReason, ViewRecord, WeightsRecord } from '../types';
import { foldSome, memoryKnown, readKnown, type Known } from './aggregates';
import { emptyProfile, recordDelta, removal, type ItemDelta, type JournalEntry } from './derive';

export type { Known };
import { DB_NAME, DB_VERSION, STORES, itemLine, itemsOf, migrate, packView, pathOf, type AttnflowDB, type StoreName, type StoredView } from './schema';
import { unsavedPrefix, withLocalStorage } from './unsaved';

export type Db = IDBPDatabase<AttnflowDB>;

export interface StoreOptions {
  /** Records and views older than this go, days. */
  retentionDays: number;
  /** At most this many item records (and views); the oldest go first. */
  maxItemRecords: number;
  report: ErrorSink;
  log: Logger;
  clock: Clock;
  /** ms between a change and its flush. Default 5000. */
  flushIntervalMs?: number;
  /** Database name. Default 'attnflow'. */
  name?: string;
  /** Called when a view is durable in IndexedDB (its localStorage copy can go). */
  saved?(viewId: string): void;
  /** Whether a view has a synchronous copy that survives the page (log.ts): its hide flush may then take several tasks. */
  copied?(viewId: string): boolean;
}

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

const DAY = 864e5;
/**
 * Item records put per task, so that no flush becomes a long task. Only a page that unloads gets
 * every put at once (see `write`).
 */
const CHUNK = 1000;
const ITEM = ['attentionMs', 'visibleMs', 'viewableMs', 'hoverMs', 'clicks', 'rageClicks', 'deadClicks'];
const PAGE = ['engagedMs', 'visibleMs', 'rageClicks', 'deadClicks'];
const int = (x: unknown) => (typeof x === 'number' && x > 0 && x < 1e13 ? Math.round(x) : 0);
const ratio = (x: unknown) => Math.round(Math.min(1, Math.max(0, Number(x) || 0)) * 1e3) / 1e3;
const str = (x: unknown) => String(x).slice(0, 200);
const done = Promise.resolve();

/** Copies only the known numbers of `from`: nothing else (text, values, URLs) can reach the log. */
function numbers(keys: string[], from: Record<string, unknown>, to: Record<string, unknown>) {
  for (const k of keys) to[k] = int(from[k]);
  return to;
}

function same(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  for (const k in a) {
    const x = a[k];
    if (k !== 'lastAt' && k !== 'updatedAt' && x !== b[k] && (typeof x !== 'object' || JSON.stringify(x) !== JSON.stringify(b[k]))) return false;
  }
  return true;
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
  const { clock, log } = o;
  const name = o.name ?? DB_NAME;
  const reported = new Set<string>();
  const warn = (error: unknown, where: string) => {
    const k = where + (error as Error)?.name;
    if (!reported.has(k)) reported.add(k), o.report(error, `store ${where}`);
  };

  // Views not yet durable, by viewId; in memory mode, all there is. `v` counts changes; `lines`
  // holds each item record as stored, made when the record changes. `sent` is each record as last
  // given to the database, `dirty` the records changed since, `put` whether the view was: the
  // journal entry of a write is the difference (see derive.ts).
  type Entry = {
    view?: Omit<ViewRecord, 'topics'>;
    items: Map<string, ItemRecord>;
    lines: Map<string, string>;
    v: number;
    sent: Map<string, ItemRecord>;
    dirty: Set<string>;
    put?: boolean;
  };
  const entry = (): Entry => ({ items: new Map(), lines: new Map(), v: 0, sent: new Map(), dirty: new Set() });
  const pending = new Map<string, Entry>();
  const doc = (e: Entry) => packView(e.view!, e.items.values(), [...e.lines.values()]);
  const mem = new Map<StoreName, Map<string, unknown>>(STORES.map((s) => [s, new Map()]));
  const forgotten = new Set<string>();
  let currentId = '';
  let current = entry();
  let allowed = false;
  let db: Db | undefined;
  let opening: Promise<Db | undefined> | undefined;
  let dead = false;
  let inMemory = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let trimmedAt = 0;
  const unsaved = unsavedPrefix(name);
  const stops: Array<() => void> = [];
  const flushed = new Set<() => void>();

  const close = () => {
    db?.close();
    db = opening = undefined;
  };
  // Drops everything in memory; the views in progress are not recorded again.
  const wipe = () => {
    clearTimeout(timer);
    timer = undefined;
    mem.forEach((m) => m.clear());
    pending.clear();
    forgotten.add(currentId);
    currentId = '';
    current = entry();
  };

  const open = (): Promise<Db | undefined> =>
    (opening ??= new Promise<Db | undefined>((resolve) => {
      let blocked = false;
      const fail = (error: unknown) => {
        warn(error, 'open');
        inMemory = true;
        log('IndexedDB unavailable: the log is kept in memory');
        resolve(undefined);
      };
      try {
        if (dead) return resolve(undefined);
        openDB<AttnflowDB>(name, DB_VERSION, {
          upgrade(d, from, _to, tx) {
            // An aborted upgrade is reported below and by the open failing: not as an unhandled rejection.
            tx.done.catch(() => {});
            migrate(d, from, DB_VERSION, tx).catch((error) => {
              warn(error, 'upgrade');
              tx.abort();
            });
          },
          blocked() {
            // An older version in another tab does not let go: carry on in memory, and write it
            // all to the database if it ever does.
            blocked = true;
            fail(new Error('attnflow: IndexedDB upgrade blocked by an older version in another tab'));
          },
          blocking(_now, next) {
            close();
            if (next) {
              dead = inMemory = true;
              log('a newer version in another tab took over the database: the log is kept in memory');
            } else wipe(); // Another tab deleted it: forget() or consent withdrawn.
          },
          terminated: close,
        }).then(
          (d) => {
            if (!allowed || dead) return d.close(), resolve(undefined);
            db = d;
            inMemory = false;
            recover(d).then(() => {
              resolve(d);
              if (blocked) void flush();
            });
          },
          (error) => {
            dead = true;
            fail(error);
          },
        );
      } catch (error) {
        dead = true;
        fail(error);
      }
    }));
  // Views that a closed tab left in localStorage: into the database, unless it holds a newer copy.
  const recover = async (d: Db) => {
    const found: Array<[string, StoredView | undefined]> = [];
    withLocalStorage((ls) => {
      for (let i = 0; i < ls.length; i++) {
        const k = ls.key(i)!;
        const id = k.slice(unsaved.length);
        if (!k.startsWith(unsaved) || pending.has(id)) continue;
        let e: Entry | undefined;
        try {
          const { at, s } = JSON.parse(ls.getItem(k)!);
          if (s?.page?.viewId === id && !forgotten.has(id)) ingest(s, int(at), (e = entry()));
        } catch {
          // Not ours, or damaged: dropped.
        }
        found.push([k, e?.view && doc(e)]);
      }
    });
    if (!found.length) return;
    try {
      const tx = d.transaction(['views', 'journal'], 'readwrite');
      tx.done.catch(() => {});
      for (const [, v] of found) {
        const old = v && (await tx.objectStore('views').get(v.viewId));
        if (v && !(old && old.updatedAt >= v.updatedAt)) {
          void tx.objectStore('views').put(v);
          // What the closed tab had not written yet goes into the aggregates too.
          const had = new Map(old ? itemsOf(old).map((r) => [r.itemId, r]) : []);
          const items = itemsOf(v).flatMap((r) => [recordDelta(r, had.get(r.itemId))].filter((d): d is ItemDelta => !!d));
          void tx.objectStore('journal').add({ at: v.updatedAt, views: old ? 0 : 1, items });
        }
      }
      await tx.done;
      withLocalStorage((ls) => found.forEach(([k]) => ls.removeItem(k)));
      log(`${found.length} view(s) left by a closed tab written to the log`);
      void settle();
    } catch (error) {
      warn(error, 'recover');
    }
  };
  const getDb = () => (allowed ? (db ? Promise.resolve(db) : open()) : Promise.resolve(undefined));

  // What putting `e` now changes in the log, as a journal entry (none: nothing to count), with the
  // function that takes it back should the transaction fail.
  const changes = (e: Entry): [JournalEntry | undefined, () => void] => {
    const before = new Map<string, ItemRecord | undefined>();
    const put = e.put;
    const items: ItemDelta[] = [];
    for (const id of e.dirty) {
      const r = e.items.get(id)!;
      const d = recordDelta(r, e.sent.get(id));
      before.set(id, e.sent.get(id));
      e.sent.set(id, r);
      if (d) items.push(d);
    }
    e.dirty.clear();
    e.put = true;
    const undo = () => {
      e.put = put;
      before.forEach((r, id) => (r ? e.sent.set(id, r) : e.sent.delete(id), e.dirty.add(id)));
    };
    return [items.length || !put ? { at: e.view!.updatedAt, views: put ? 0 : 1, items } : undefined, undo];
  };

  // One fold at a time; a call while one runs queues one more, which picks up what came meanwhile.
  let folds: Promise<void> = done;
  let queued: Promise<void> | undefined;
  const settle = () =>
    (queued ??= folds = folds.then(async () => {
      queued = undefined;
      const d = db;
      try {
        while (d && db === d && allowed && (await foldSome(d, () => clock.epoch())));
      } catch (error) {
        // A connection closed under us (another tab, the browser): the next write reopens it, and
        // the journal is folded then.
        if ((error as Error)?.name === 'InvalidStateError') db === d && close();
        else warn(error, 'fold');
      }
    }));

  // The aggregates of the views in memory (memory mode), but for `except`.
  const memKnown = (now: number, except: string) =>
    memoryKnown([...pending.values()].flatMap((e) => (e.view && e.view.viewId !== except ? [{ updatedAt: e.view.updatedAt, records: [...e.items.values()] }] : [])), now);

  const trimMemory = () => {
    const cutoff = clock.epoch() - o.retentionDays * DAY;
    let excess = -o.maxItemRecords;
    pending.forEach((e) => (excess += e.items.size));
    // Insertion order is update order (recordView deletes before it sets): oldest first.
    for (const [k, e] of pending) {
      if (excess <= 0 && e.view!.updatedAt >= cutoff) break;
      excess -= e.items.size;
      pending.delete(k);
    }
  };

  // Retention: views past the age limit, then the oldest beyond maxItemRecords item records,
  // then `evict` more of the oldest views (a full disk). Reads only what it deletes: the count of
  // records is the profile's; the records deleted leave the aggregates through the journal.
  const trimDb = async (d: Db, evict = 0) => {
    const tx = d.transaction(['views', 'journal', 'profile'], 'readwrite');
    tx.done.catch(() => {}); // Failures surface through the awaits below.
    const index = tx.objectStore('views').index('by-updated');
    const journal = tx.objectStore('journal');
    const ours: Entry[] = [];
    const drop = (v: StoredView) => {
      void journal.add(removal(v.updatedAt, itemsOf(v)));
      const e = v.viewId === currentId ? current : pending.get(v.viewId);
      if (e) ours.push(e);
      return v.items.length;
    };
    let excess = ((await tx.objectStore('profile').get('visitor'))?.records ?? 0) - o.maxItemRecords;
    for (const e of await journal.getAll()) for (const x of e.items) excess += x[5];
    let c = await index.openCursor(IDBKeyRange.upperBound(clock.epoch() - o.retentionDays * DAY, true));
    for (; c; c = await c.continue()) (excess -= drop(c.value)), void c.delete();
    for (c = excess > 0 ? await index.openCursor() : null; c && excess > 0; c = await c.continue()) (excess -= drop(c.value)), void c.delete();
    for (c = evict > 0 ? await index.openCursor() : null; c && evict-- > 0; c = await c.continue()) drop(c.value), void c.delete();
    await tx.done;
    // A view of this tab's that went is new again if it is written again.
    for (const e of ours) (e.put = false), e.sent.clear(), e.items.forEach((_, id) => e.dirty.add(id));
    void settle();
  };
  const trim = async () => {
    trimmedAt = clock.epoch();
    const d = await getDb();
    try {
      d ? await trimDb(d) : trimMemory();
    } catch (error) {
      warn(error, 'trim');
    }
  };

  // The transaction of a chunked write that still has chunks to put.
  let chunking: IDBTransaction | undefined;
  const write = (d: Db, unload: boolean, retried?: boolean): Promise<void> =>
    new Promise<void>((resolve) => {
      const batch = [...pending].map(([id, e]) => [id, e, e.v] as const);
      const undo: Array<() => void> = [];
      // A page that unloads (pagehide: a closed tab, a navigation, the back/forward cache) runs no
      // task after this one, so its flush issues every put before returning, unless every view in
      // it has a copy that outlives the page (log.ts). Every other flush, a hidden tab's too, puts
      // in chunks of a task each: the page goes on running, and no flush is a long task.
      const atOnce = unload && batch.some(([id]) => !o.copied?.(id));
      // A chunked write still under way is cut short: it commits what it has put, and this
      // write, behind it, puts everything still pending.
      if (unload && chunking) {
        const cut = chunking;
        chunking = undefined;
        try {
          cut.commit?.();
        } catch {
          // Already finishing.
        }
      }
      let failure: unknown;
      let tx: IDBTransaction;
      try {
        tx = unwrap(d).transaction(['views', 'journal'], 'readwrite', { durability: 'strict' });
      } catch (error) {
        // The connection went away (closed by the browser or another tab): reopen next time.
        if (db === d) close();
        warn(error, 'flush');
        return resolve();
      }
      tx.oncomplete = () => {
        // Views that changed meanwhile, or that a cut-short write never put, stay pending.
        for (const [id, e, v] of batch.slice(0, i)) if (pending.get(id) === e && e.v === v) pending.delete(id), o.saved?.(id);
        resolve();
        void settle();
        flushed.forEach((f) => f());
        if (clock.epoch() - trimmedAt > 6e5) void trim();
      };
      tx.onabort = () => {
        if (chunking === tx) chunking = undefined;
        undo.forEach((u) => u());
        const error = (tx.error ?? failure) as DOMException | null;
        if (error?.name === 'QuotaExceededError' && !retried) {
          // Make room from the oldest, then try once more with what is pending by then.
          log('quota exceeded: evicting the oldest records');
          d.count('views')
            .then((n) => trimDb(d, Math.ceil(n / 10)))
            .catch((e) => warn(e, 'evict'))
            .then(() => write(d, unload, true))
            .then(resolve);
        } else {
          warn(error, 'flush');
          resolve();
        }
      };
      const views = tx.objectStore('views');
      const journal = tx.objectStore('journal');
      let i = 0;
      const next = () => {
        try {
          // The next chunk goes out when the first put of this one is done: the transaction stays
          // busy, and each task stays short.
          let first: IDBRequest | undefined;
          for (let n = 0; i < batch.length && (atOnce || n < CHUNK); i++) {
            const e = batch[i]![1];
            const req = views.put(doc(e));
            const [change, back] = changes(e);
            undo.push(back);
            if (change) journal.add(change);
            first ??= req;
            n += batch[i]![1].items.size + 1;
          }
          if (i < batch.length) (chunking = tx), (first!.onsuccess = () => chunking === tx && next());
          else {
            if (chunking === tx) chunking = undefined;
            tx.commit?.();
          }
        } catch (error) {
          // A put that throws (quota, data that cannot be cloned): nothing of this batch is written.
          failure = error;
          try {
            tx.abort();
          } catch {
            resolve();
          }
        }
      };
      next();
    });

  let writing: Promise<void> | undefined;
  // `urgent`: a view ended or the page hides (1) or unloads (2).
  const flushNow = (urgent?: 0 | 1 | 2): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    if (!allowed || !pending.size) return done;
    // A flush while a write is in flight waits for it, then writes what is still pending: the
    // same views are not put twice. A hide flush cannot wait: the page may be gone next.
    if (writing && !urgent) return writing.then(() => flushNow());
    const unload = urgent === 2;
    const w = (db ? write(db, unload) : open().then((d) => (d ? write(d, unload) : trimMemory()))).then(() => {
      if (writing === w) writing = undefined;
    });
    return (writing = w);
  };
  const flush = () => flushNow();

  // Folds a cumulative snapshot into `e`; true when something changed.
  const ingest = (s: AttentionSnapshot, now: number, e: Entry): boolean => {
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

  const recordView = (s: AttentionSnapshot, reason: ViewReason = 'tick') => {
    const id = s?.page?.viewId && str(s.page.viewId);
    if (!allowed || !id || forgotten.has(id)) return;
    if (currentId !== id) (currentId = id), (current = entry());
    if (ingest(s, clock.epoch(), current)) {
      pending.delete(id);
      pending.set(id, current);
    }
    // A hide while the page still shows is a pagehide, which comes before visibilitychange: the page unloads.
    if (reason !== 'tick') void flushNow(reason === 'hide' && typeof document !== 'undefined' && document.visibilityState !== 'hidden' ? 2 : 1);
    else timer ??= setTimeout(flush, o.flushIntervalMs ?? 5000);
  };

  if (typeof document !== 'undefined') {
    stops.push(
      on(document, 'visibilitychange', () => document.visibilityState === 'hidden' && void flushNow(1)),
      on(window, 'pagehide', () => void flushNow(2)),
    );
  }

  return {
    recordView,
    flush,
    trim,
    mem,
    memViews: () => [...pending.values()].map(doc),
    flushed,
    options: o,
    db: getDb,
    async forget() {
      wipe();
      close();
      await new Promise<void>((resolve) => {
        try {
          // Blocked: a tab that ignores versionchange still holds it; deletion completes when it closes.
          deleteDB(name, { blocked: resolve as () => void }).then(resolve, (error) => (warn(error, 'forget'), resolve()));
        } catch (error) {
          // No IndexedDB: nothing to delete.
          resolve();
        }
      });
    },
    settled: () => flush().then(settle),
    async known(ids) {
      const now = clock.epoch();
      const d = await getDb();
      const profile = emptyProfile(now);
      try {
        if (!d) {
          const m = allowed ? memKnown(now, currentId) : { profile, items: new Map() };
          return { profile: m.profile, items: ids.flatMap((id) => m.items.get(id) ?? []) };
        }
        // This tab's view in progress, as far as it was given to the database.
        return await readKnown(d, ids, () => (current.put && current.view ? [removal(current.view.updatedAt, [...current.sent.values()])] : []), now);
      } catch (error) {
        warn(error, 'known');
        return { profile: emptyProfile(now), items: [] };
      }
    },
    async export() {
      await flush();
      await settle();
      const d = await getDb();
      const out = {
        schema: 'attnflow',
        version: DB_VERSION,
        exportedAt: clock.epoch(),
        storage: allowed ? (d ? 'indexeddb' : 'memory') : 'none',
      } as Record<string, any>;
      try {
        const tx = d?.transaction(STORES);
        tx?.done.catch(() => {});
        for (const s of STORES) out[s] = tx ? await tx.objectStore(s).getAll() : s === 'views' ? [...pending.values()].map(doc) : [...mem.get(s)!.values()];
      } catch (error) {
        warn(error, 'export');
      }
      // Item records flat, views without them: the same shape whatever the storage.
      out.records = (out.views ?? []).flatMap(itemsOf);
      out.views = (out.views ?? []).map(({ items: _, ...v }: StoredView) => v);
      out.profile = out.profile?.[0] ?? null;
      if (!d && allowed) {
        const m = memKnown(clock.epoch(), '');
        out.catalogue = [...m.items.values()];
        out.profile = m.profile;
      }
      out.weights = (out.weights ?? []).map((w: WeightsRecord) => ({ ...w, data: base64(w.data) }));
      return out as AttentionExport;
    },
    allow(yes) {
      allowed = yes;
      if (yes) void open();
      else clearTimeout(timer), (timer = undefined);
    },
    storage: () => (allowed ? (inMemory ? 'memory' : 'indexeddb') : 'none'),
    keeps: (id) => allowed && !forgotten.has(id),
    stop() {
      stops.forEach((s) => s());
      clearTimeout(timer);
      // IndexedDB closes once the transactions in flight have finished.
      db?.close();
    },
  };
}

function base64(buf: ArrayBuffer): string {
  const a = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < a.length; i += 0x8000) s += String.fromCharCode(...a.subarray(i, i + 0x8000));
  return btoa(s);
}
