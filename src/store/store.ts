/**
 * The on-device attention log. Cumulative snapshots of a view go in through `recordView`; item
 * records are upserted by (viewId, itemId), so repeated snapshots and several tabs never
 * duplicate. Writes are batched, one transaction per flush. Where IndexedDB is missing, throws
 * or is blocked, the same data lives in memory and the SDK says so once.
 */
import { deleteDB, openDB, unwrap, type IDBPDatabase } from 'idb';
import type { Clock } from '../lib/clock';
import type { ErrorSink } from '../lib/errors';
import type { Logger } from '../lib/log';
import { on } from '../lib/on';
import type {
  AttentionExport,
  CatalogueEntry,
  VisitorProfile,
  AttentionSnapshot,
  ItemRecord,
  ScoresRecord,
  SettingRecord,
  ViewReason,
  ViewRecord,
  WeightsRecord,
} from '../types';
import { computeProfile, mergeCatalogue } from './derive';
import { DB_NAME, DB_VERSION, STORES, migrate, pathOf, type AttnflowDB, type StoreName } from './schema';
import { createTabs, type LockManagerLike } from './tabs';

/** What other tabs (and this one) are told about. */
export type ChangeKind = 'profile' | 'weights' | 'scores';

/** Stores read and written whole by later work (the model, personalization). */
export interface KvValues {
  catalogue: CatalogueEntry;
  profile: VisitorProfile;
  weights: WeightsRecord;
  scores: ScoresRecord;
  settings: SettingRecord;
}

export interface StoreOptions {
  /** Records older than this go, days. */
  retentionDays: number;
  /** At most this many item records; the oldest go first. */
  maxItemRecords: number;
  report: ErrorSink;
  log: Logger;
  clock: Clock;
  /** ms between a change and its flush. Default 5000. */
  flushIntervalMs?: number;
  /** ms between a flush and the leader's upkeep (retention, catalogue, profile). Default 30000. */
  upkeepDelayMs?: number;
  /** Database and channel name. Default 'attnflow'. */
  name?: string;
  /** Web Locks, for tests; default navigator.locks. */
  locks?: LockManagerLike;
}

export interface Store {
  /** Takes a cumulative snapshot of a view; 'hide' and 'end' flush at once. */
  recordView(snapshot: AttentionSnapshot, reason?: ViewReason): void;
  /** Resolves when everything recorded so far is durable (or kept in memory where it cannot be). Never rejects. */
  flush(): Promise<void>;
  /** Everything stored, as JSON. */
  export(): Promise<AttentionExport>;
  /** Deletes the database and all in-memory state; the views in progress are not recorded again. */
  forget(): Promise<void>;
  /** Opens the gate (consent) or closes it: nothing is written, nor the database created, while closed. */
  allow(allowed: boolean): void;
  get<K extends keyof KvValues>(store: K, key: string): Promise<KvValues[K] | undefined>;
  put<K extends keyof KvValues>(store: K, value: KvValues[K]): Promise<void>;
  /** Retention, catalogue and profile; the leader runs it after flushes. */
  upkeep(): Promise<void>;
  isLeader(): boolean;
  onLeader(cb: () => void): () => void;
  /** Called with `remote: true` when another tab made the change. */
  onChange(kind: ChangeKind, cb: (remote: boolean) => void): () => void;
  /** 'indexeddb', 'memory' or 'none' (gate closed). */
  storage(): AttentionExport['storage'];
  stop(): void;
}

type Db = IDBPDatabase<AttnflowDB>;
const DAY = 864e5;
/** Records put per task when a flush is not urgent, so that no flush becomes a long task. */
const CHUNK = 400;
const key = (viewId: string, itemId: string) => `${viewId}\n${itemId}`;
const ms = (x: unknown) => (typeof x === 'number' && x > 0 && x < 1e12 ? Math.round(x) : 0);
const str = (x: unknown) => String(x).slice(0, 200);
const done = Promise.resolve();

export function createStore(o: StoreOptions): Store {
  const { clock, log } = o;
  const name = o.name ?? DB_NAME;
  const reported = new Set<string>();
  const warn = (error: unknown, where: string) => {
    const k = `${where}:${(error as Error)?.name}`;
    if (reported.has(k)) return;
    reported.add(k);
    o.report(error, `store ${where}`);
  };

  // Not yet durable; in memory mode, all there is.
  const records = new Map<string, ItemRecord>();
  const views = new Map<string, ViewRecord>();
  // Memory mode's other stores.
  const mem = new Map<StoreName, Map<string, unknown>>(STORES.map((s) => [s, new Map()]));
  const subs = new Map<string, Set<(remote: boolean) => void>>();
  const forgotten = new Set<string>();
  let current = { viewId: '', items: new Map<string, ItemRecord>(), view: undefined as ViewRecord | undefined };
  let allowed = false;
  let db: Db | undefined;
  let opening: Promise<Db | undefined> | undefined;
  let dead = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let upkeepTimer: ReturnType<typeof setTimeout> | undefined;
  let tabs: ReturnType<typeof createTabs> | undefined;
  const stops: Array<() => void> = [];

  const fire = (kind: string, remote: boolean) => {
    for (const cb of [...(subs.get(kind) ?? [])]) {
      try {
        cb(remote);
      } catch (error) {
        o.report(error, `onChange ${kind}`);
      }
    }
  };
  const notify = (kind: string) => {
    tabs?.post(kind);
    fire(kind, false);
  };
  const startTabs = () => {
    if (tabs) return;
    tabs = createTabs(
      name,
      (kind) => {
        if (kind === 'forget') wipe();
        else if (kind === 'flushed') scheduleUpkeep();
        else fire(kind, true);
      },
      o.locks,
    );
    tabs.onLeader(() => {
      log('leader');
      scheduleUpkeep();
    });
  };

  const close = () => {
    db?.close();
    db = undefined;
    opening = undefined;
  };
  // Drops everything in memory; the views in progress are not recorded again.
  const wipe = () => {
    clearTimeout(timer);
    timer = undefined;
    records.clear();
    views.clear();
    mem.forEach((m) => m.clear());
    if (current.viewId) forgotten.add(current.viewId);
    current = { viewId: '', items: new Map(), view: undefined };
  };

  const open = (): Promise<Db | undefined> =>
    (opening ??= new Promise<Db | undefined>((resolve) => {
      if (dead) return resolve(undefined);
      let blocked = false;
      const fail = (error: unknown) => {
        warn(error, 'open');
        log('IndexedDB unavailable, keeping the log in memory');
        resolve(undefined);
      };
      try {
        if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available');
        openDB<AttnflowDB>(name, DB_VERSION, {
          upgrade(d, from, _to, tx) {
            migrate(d, from, DB_VERSION, tx).catch((error) => {
              warn(error, 'upgrade');
              tx.abort();
            });
          },
          blocked() {
            // An older version is open in another tab and does not let go: carry on in memory,
            // and move to the database if it ever does.
            blocked = true;
            fail(new Error('IndexedDB upgrade blocked by an older version in another tab'));
          },
          blocking(_now, next) {
            close();
            if (next) {
              dead = true;
              opening = done.then(() => undefined);
              log('a newer version in another tab took over the database; keeping the log in memory');
            } else wipe();
          },
          terminated() {
            db = undefined;
            opening = undefined;
          },
        }).then(
          (d) => {
            if (!allowed || dead) return d.close(), resolve(undefined);
            db = d;
            startTabs();
            resolve(d);
            if (blocked) void flush();
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

  const trimMemory = () => {
    const cutoff = clock.epoch() - o.retentionDays * DAY;
    for (const m of [records, views] as Map<string, { lastAt?: number; updatedAt?: number }>[]) {
      // Insertion order is update order (recordView deletes before it sets): oldest first.
      let excess = m.size - o.maxItemRecords;
      for (const [k, v] of m) {
        if (excess-- <= 0 && (v.lastAt ?? v.updatedAt!) >= cutoff) break;
        m.delete(k);
      }
    }
  };

  // Oldest first through `index`: every key below `below`, then as many as `count`.
  const trim = async (index: { openCursor(range?: IDBKeyRange): Promise<any> }, count: number, below?: number) => {
    let c = await index.openCursor(below === undefined ? undefined : IDBKeyRange.upperBound(below, true));
    for (; c && (below !== undefined || count-- > 0); c = await c.continue()) void c.delete();
  };

  const evict = async (d: Db) => {
    const tx = d.transaction(['records', 'views'], 'readwrite');
    const r = tx.objectStore('records');
    await trim(r.index('by-last'), Math.max(records.size, Math.ceil((await r.count()) / 10)));
    await trim(tx.objectStore('views').index('by-updated'), Math.ceil((await tx.objectStore('views').count()) / 10));
    await tx.done;
  };

  const write = (d: Db, urgent: boolean, retried = false): Promise<void> =>
    new Promise<void>((resolve) => {
      const recs = [...records.values()];
      const vs = [...views.values()];
      let tx: IDBTransaction;
      try {
        tx = unwrap(d).transaction(['records', 'views'], 'readwrite', { durability: 'strict' });
      } catch (error) {
        // The connection went away (closed by the browser or another tab): reopen next time.
        if (db === d) close();
        warn(error, 'flush');
        return resolve();
      }
      tx.oncomplete = () => {
        for (const r of recs) {
          const k = key(r.viewId, r.itemId);
          if (records.get(k) === r) records.delete(k);
        }
        for (const v of vs) if (views.get(v.viewId) === v) views.delete(v.viewId);
        notify('flushed');
        resolve();
      };
      let failure: unknown;
      tx.onabort = () => {
        const error = (tx.error ?? failure) as DOMException | null;
        if (error?.name === 'QuotaExceededError' && !retried) {
          // Make room from the oldest records and views, then try once more with what is pending now.
          log('quota exceeded; evicting the oldest records');
          evict(d)
            .catch((e) => warn(e, 'evict'))
            .then(() => write(d, urgent, true))
            .then(resolve);
        } else {
          warn(error, 'flush');
          resolve();
        }
      };
      const rs = tx.objectStore('records');
      let i = 0;
      const next = () => {
        try {
          const end = urgent ? recs.length : Math.min(i + CHUNK, recs.length);
          let req: IDBRequest | undefined;
          for (; i < end; i++) req = rs.put(recs[i]);
          if (i < recs.length) req!.onsuccess = next;
          else tx.commit?.();
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
      try {
        for (const v of vs) tx.objectStore('views').put(v);
      } catch {
        // Reported by next(), which fails the same way.
      }
      next();
    });

  const flushNow = (urgent: boolean): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    if (!allowed || (!records.size && !views.size)) return done;
    // Urgent flushes (page hide) issue every request before returning: the page may be gone next.
    if (db) return write(db, urgent);
    return open().then((d) => (d ? write(d, urgent) : trimMemory()));
  };
  const flush = () => flushNow(false);

  const upkeep = async () => {
    clearTimeout(upkeepTimer);
    upkeepTimer = undefined;
    if (!allowed) return;
    await flush();
    const now = clock.epoch();
    const cutoff = now - o.retentionDays * DAY;
    const d = db;
    try {
      if (!d) {
        trimMemory();
        const cat = mem.get('catalogue') as Map<string, ReturnType<typeof mergeCatalogue>>;
        for (const r of records.values()) cat.set(r.itemId, mergeCatalogue(cat.get(r.itemId), r));
        mem.get('profile')!.set('visitor', computeProfile([...views.values()], now));
      } else {
        const tx = d.transaction(['records', 'views', 'catalogue', 'profile', 'settings'], 'readwrite');
        const r = tx.objectStore('records');
        const v = tx.objectStore('views');
        const cat = tx.objectStore('catalogue');
        await trim(r.index('by-last'), 0, cutoff);
        await trim(r.index('by-last'), (await r.count()) - o.maxItemRecords);
        await trim(v.index('by-updated'), 0, cutoff);
        await trim(v.index('by-updated'), (await v.count()) - o.maxItemRecords);
        await trim(cat.index('by-last'), 0, cutoff);
        // Records changed since the last upkeep (with a margin for late flushes of other tabs).
        const mark = ((await tx.objectStore('settings').get('catalogued'))?.value as number) ?? 0;
        for (const rec of await r.index('by-last').getAll(IDBKeyRange.lowerBound(mark))) {
          void cat.put(mergeCatalogue(await cat.get(rec.itemId), rec));
        }
        void tx.objectStore('settings').put({ key: 'catalogued', value: now - 15 * 6e4 });
        void tx.objectStore('profile').put(computeProfile(await v.getAll(), now));
        await tx.done;
      }
      notify('profile');
    } catch (error) {
      warn(error, 'upkeep');
    }
  };
  const scheduleUpkeep = (delay = o.upkeepDelayMs ?? 30_000) => {
    if (tabs?.isLeader() && upkeepTimer === undefined) upkeepTimer = setTimeout(() => void upkeep(), delay);
  };

  const recordView = (s: AttentionSnapshot, reason: ViewReason = 'tick') => {
    const p = s?.page;
    if (!allowed || !p?.viewId || forgotten.has(p.viewId)) return;
    const now = clock.epoch();
    const viewId = str(p.viewId);
    if (current.viewId !== viewId) current = { viewId, items: new Map(), view: undefined };
    const topics: { [topic: string]: number } = {};
    for (const id in s.items) {
      const it = s.items[id]!;
      const prev = current.items.get(id);
      const rec: ItemRecord = {
        viewId,
        itemId: str(id),
        topics: (Array.isArray(it.topics) ? it.topics : []).slice(0, 20).map(str),
        attentionMs: ms(it.attentionMs),
        visibleMs: ms(it.visibleMs),
        viewableMs: ms(it.viewableMs),
        hoverMs: ms(it.hoverMs),
        maxVisibleRatio: Math.round(Math.min(1, Math.max(0, Number(it.maxVisibleRatio) || 0)) * 1000) / 1000,
        clicks: ms(it.clicks),
        rageClicks: ms(it.rageClicks),
        deadClicks: ms(it.deadClicks),
        viewable: it.viewable === true,
        skipped: it.skipped === true,
        firstAt: prev?.firstAt ?? now,
        lastAt: now,
      };
      for (const t of rec.topics) topics[t] = (topics[t] ?? 0) + rec.attentionMs;
      if (prev && same(prev, rec)) continue;
      current.items.set(id, rec);
      const k = key(viewId, rec.itemId);
      records.delete(k);
      records.set(k, rec);
    }
    const view: ViewRecord = {
      viewId,
      path: pathOf(p.path),
      startedAt: ms(p.startedAt),
      updatedAt: now,
      engagedMs: ms(p.engagedMs),
      visibleMs: ms(p.visibleMs),
      scrollDepth: Math.min(1, Math.max(0, Number(p.scrollDepth) || 0)),
      rageClicks: ms(p.rageClicks),
      deadClicks: ms(p.deadClicks),
      topics,
    };
    if (!current.view || !same(current.view, view)) {
      current.view = view;
      views.delete(viewId);
      views.set(viewId, view);
    }
    if (reason !== 'tick') void flushNow(true);
    else timer ??= setTimeout(() => void flush(), o.flushIntervalMs ?? 5000);
  };

  if (typeof document !== 'undefined') {
    stops.push(
      on(document, 'visibilitychange', () => document.visibilityState === 'hidden' && void flushNow(true)),
      on(window, 'pagehide', () => void flushNow(true)),
    );
  }

  const forget = async () => {
    wipe();
    tabs?.post('forget');
    close();
    if (typeof indexedDB === 'undefined') return;
    await new Promise<void>((resolve) => {
      try {
        // Blocked means a tab that ignores versionchange still holds it: deletion completes when it closes.
        deleteDB(name, { blocked: () => resolve() }).then(resolve, (error) => (warn(error, 'forget'), resolve()));
      } catch (error) {
        warn(error, 'forget');
        resolve();
      }
    });
  };

  return {
    recordView,
    flush,
    forget,
    async export() {
      await flush();
      const d = allowed ? db ?? (await open()) : undefined;
      const out = {
        schema: 'attnflow',
        version: DB_VERSION,
        exportedAt: clock.epoch(),
        storage: allowed ? (d ? 'indexeddb' : 'memory') : 'none',
      } as Record<string, unknown>;
      try {
        const tx = d?.transaction(STORES);
        for (const s of STORES) {
          out[s] = tx
            ? await tx.objectStore(s).getAll()
            : [...(s === 'records' ? records : s === 'views' ? views : mem.get(s)!).values()];
        }
      } catch (error) {
        warn(error, 'export');
      }
      out.profile = (out.profile as unknown[] | undefined)?.[0] ?? null;
      out.weights = ((out.weights as WeightsRecord[] | undefined) ?? []).map((w) => ({ ...w, data: base64(w.data) }));
      return out as unknown as AttentionExport;
    },
    allow(on) {
      allowed = on;
      if (on) void open();
      else {
        clearTimeout(timer);
        timer = undefined;
      }
    },
    async get(store, k) {
      const d = allowed ? db ?? (await open()) : undefined;
      try {
        return (d ? await d.get(store, k) : mem.get(store)!.get(k)) as never;
      } catch (error) {
        warn(error, 'get');
        return undefined;
      }
    },
    async put(store, value) {
      if (!allowed) return;
      const d = db ?? (await open());
      try {
        if (d) await d.put(store, value as never);
        else {
          const v = value as Partial<WeightsRecord & SettingRecord & VisitorProfile & CatalogueEntry>;
          mem.get(store)!.set(v.name ?? v.key ?? v.id ?? v.itemId!, value);
        }
        if (store === 'weights' || store === 'scores' || store === 'profile') notify(store);
      } catch (error) {
        warn(error, 'put');
      }
    },
    upkeep,
    isLeader: () => tabs?.isLeader() ?? false,
    onLeader(cb) {
      startTabs();
      return tabs!.onLeader(cb);
    },
    onChange(kind, cb) {
      let set = subs.get(kind);
      if (!set) subs.set(kind, (set = new Set()));
      set.add(cb);
      return () => set!.delete(cb);
    },
    storage: () => (allowed ? (db ? 'indexeddb' : opening && !dead ? 'indexeddb' : 'memory') : 'none'),
    stop() {
      stops.forEach((s) => s());
      clearTimeout(timer);
      clearTimeout(upkeepTimer);
      tabs?.close();
      // Close once pending transactions have finished (IndexedDB waits for them).
      db?.close();
    },
  };
}

function same(a: object, b: object): boolean {
  for (const k in a) {
    if (k === 'lastAt' || k === 'updatedAt') continue;
    const x = (a as Record<string, unknown>)[k];
    const y = (b as Record<string, unknown>)[k];
    if (x !== y && JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
}

function base64(buf: ArrayBuffer): string {
  const a = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < a.length; i += 0x8000) s += String.fromCharCode(...a.subarray(i, i + 0x8000));
  return btoa(s);
}
