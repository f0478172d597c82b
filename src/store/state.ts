/**
 * The state the parts of the log share, one per store: its options, the views not yet durable,
 * this tab's view in progress, the consent gate, the connection and where each part stands. With
 * the ways it is let go (`close`, `wipe`) and errors reported once (`warn`).
 */
import type { IDBPDatabase } from 'idb';
import type { Clock } from '../lib/clock';
import type { ErrorSink } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { entry, type Entry } from './ingest';
import { STORES, type AttnflowDB, type StoreName } from './schema';

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
  /** ms a database that opened may take to answer before the log goes to memory until it does. Default 3000. */
  answerMs?: number;
  /** Called when a view is durable in IndexedDB (its localStorage copy can go). */
  saved?(viewId: string): void;
  /** Whether a view has a synchronous copy that survives the page (log.ts): its hide flush may then take several tasks. */
  copied?(viewId: string): boolean;
}

export interface State {
  o: StoreOptions;
  /**
   * Writes what is pending (write.ts), for the parts that come before it: the opening, once a
   * blocked upgrade went through, and the export.
   */
  flush(): Promise<void>;
  /** Where and what errors were reported already. */
  reported: Set<string>;
  /** Views not yet durable, by viewId, oldest update first; in memory mode, all there is. */
  pending: Map<string, Entry>;
  /** Memory mode's stores other than views. */
  mem: Map<StoreName, Map<string, unknown>>;
  /** Views not to be recorded again. */
  forgotten: Set<string>;
  /** Called after every flush that wrote something. */
  flushed: Set<() => void>;
  /** This tab's view in progress. */
  currentId: string;
  current: Entry;
  /** The gate: consent given. */
  allowed: boolean;
  /** The open database, and its opening (open.ts); `dead`: it cannot be used again. */
  db?: Db;
  opening?: Promise<Db | undefined>;
  dead?: boolean;
  /** IndexedDB is unavailable: the log is kept in memory. */
  inMemory?: boolean;
  /** The database opened but does not answer yet (open.ts): in memory until it does, then written to it. */
  waiting?: boolean;
  /**
   * The transactions on the connection still going (open.ts tracks them), and whether the page is
   * in the back/forward cache, where they were aborted (`freeze`).
   */
  live: Set<IDBTransaction>;
  frozen?: boolean;
  /** The next flush. */
  timer?: ReturnType<typeof setTimeout>;
  /** When retention last ran, epoch ms. */
  trimmedAt: number;
  /** The fold of the journal under way, and the one queued behind it (settle.ts). */
  folds: Promise<void>;
  queued?: Promise<void>;
}

export const done = Promise.resolve();

export const createState = (o: StoreOptions, flush: () => Promise<void>): State => ({
  o,
  flush,
  reported: new Set(),
  pending: new Map(),
  mem: new Map(STORES.map((s) => [s, new Map()])),
  forgotten: new Set(),
  flushed: new Set(),
  currentId: '',
  current: entry(),
  allowed: false,
  trimmedAt: 0,
  folds: done,
  live: new Set(),
});

/**
 * The page enters the back/forward cache: its transactions still going are aborted. A browser may
 * keep them there with the page (WebKit does), and every other page's transaction on the same
 * stores would wait behind them until this page is restored or evicted. A write that has issued
 * every put and committed (the hide flush's) cannot be aborted, and finishes. What the others would
 * have written is still pending here (views, written when the page is shown again), copied to
 * localStorage (the next page writes it) or derived again (the aggregates, the trim).
 */
export const freeze = (c: State): void => {
  c.frozen = true;
  for (const tx of c.live) {
    try {
      tx.abort();
    } catch {
      // Finishing already.
    }
  }
  c.live.clear();
};

/** Reports an error, once per place and kind of error. */
export const warn = (c: State, error: unknown, where: string): void => {
  // The transactions `freeze` aborted: no error of the page's.
  if (c.frozen && (!error || (error as Error).name === 'AbortError')) return;
  const k = where + (error as Error)?.name;
  if (!c.reported.has(k)) c.reported.add(k), c.o.report(error, `store ${where}`);
};

/** Lets the connection go: the next use opens it again. */
export const close = (c: State): void => {
  c.db?.close();
  c.db = c.opening = undefined;
};

/** Drops everything in memory; the views in progress are not recorded again. */
export const wipe = (c: State): void => {
  clearTimeout(c.timer);
  c.timer = undefined;
  c.mem.forEach((m) => m.clear());
  c.pending.clear();
  c.forgotten.add(c.currentId);
  c.currentId = '';
  c.current = entry();
};
