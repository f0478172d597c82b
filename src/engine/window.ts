/**
 * The visitor's window of the log, as the model sees it: their newest events in time order, and
 * the topic priors that carry the ranking until the model has learned. Where the log is in
 * IndexedDB, the model reads the window itself wherever it runs (its Worker, else the page, one
 * view per task): the page neither reads the events nor posts them across.
 */
import { openDB, type IDBPDatabase } from 'idb';
import type { AttentionEvent } from '../model/types';
import { given, isAttended } from '../rules';
import { DB_VERSION, readRecent, type AttnflowDB } from '../store/schema';
import type { ItemRecord } from '../types';

/** One item in one page view, as the attention log keeps it. */
export interface LoggedView extends AttentionEvent {
  /** Last change, epoch ms; orders the log. */
  lastAt?: number;
}

/** The newest `recent` item records of the on-device log named `log`, read where the model runs. */
export interface LogWindow {
  log: string;
  recent: number;
}

/** A visitor's events, given or to be read from the log. */
export type History = AttentionEvent[] | LogWindow;

/** A candidate item on the page. */
export interface Candidate {
  id: string;
  topics: readonly string[];
}

/** Events the model is given, newest kept. */
export const HISTORY_LIMIT = 400;

const toEvent = (v: LoggedView): AttentionEvent => ({
  itemId: v.itemId,
  topics: v.topics ?? [],
  attentionMs: v.attentionMs ?? 0,
  hoverMs: v.hoverMs ?? 0,
  clicks: v.clicks ?? 0,
  skipped: Boolean(v.skipped),
  viewId: v.viewId,
});

/** The visitor's sequence: their log in time order, one entry per item and view. */
export function sequenceOf(log: readonly LoggedView[]): AttentionEvent[] {
  return [...log]
    .sort((a, b) => (a.lastAt ?? 0) - (b.lastAt ?? 0))
    .slice(-HISTORY_LIMIT)
    .map(toEvent);
}

/** One view gives its topics at most this much attention in the priors, ms: no single long read decides them. */
const VIEW_CAP_MS = 30_000;

/**
 * Topic priors: the visitor's share of attention per topic, from their log. A fresh model knows
 * nothing; these carry the ranking until it has trained, then fade.
 */
export function topicPrior(log: readonly LoggedView[], items: readonly Candidate[]): Float32Array {
  const weight = new Map<string, number>();
  let total = 0;
  for (const v of log) {
    const read = isAttended({ attentionMs: v.attentionMs ?? 0, clicks: v.clicks ?? 0 });
    // A read gives its topics its attention (at most `VIEW_CAP_MS` of it) and clicks; a look under a
    // read gives nothing; a skip costs, as everywhere (src/rules.ts).
    const gain =
      given({ attentionMs: read ? Math.min(v.attentionMs ?? 0, VIEW_CAP_MS) : 0, clicks: read ? (v.clicks ?? 0) : 0, skipped: v.skipped }) /
      1000;
    for (const t of v.topics ?? []) {
      weight.set(t, (weight.get(t) ?? 0) + gain);
      total += Math.abs(gain);
    }
  }
  return Float32Array.from(items, (item) => {
    let s = 0;
    for (const t of item.topics) s += weight.get(t) ?? 0;
    return total > 0 ? s / total : 0;
  });
}

/** Scores rescaled to mean 0 and unit spread, so two scorers can be blended. */
export function standardize(xs: Float32Array): Float32Array {
  const n = xs.length;
  if (!n) return xs;
  let mean = 0;
  for (const x of xs) mean += x / n;
  let v = 0;
  for (const x of xs) v += (x - mean) ** 2 / n;
  const sd = Math.sqrt(v) || 1;
  return xs.map((x) => (x - mean) / sd);
}

/**
 * Model scores blended with the topic priors: the model counts `learned` (0..1, how much it has
 * learned of this visitor), the priors fade to half as it does.
 */
export function blend(model: Float32Array, history: readonly LoggedView[], items: readonly Candidate[], learned: number): Float32Array {
  const m = standardize(model);
  const p = standardize(topicPrior(history, items));
  return m.map((x, i) => learned * x + (1 - learned * 0.5) * p[i]!);
}

const open = new Map<string, Promise<IDBPDatabase<AttnflowDB>>>();

/**
 * The events of `h`: as given, or the window read from the log. The log is opened at the schema
 * version the page's store keeps it in, never created nor upgraded here, and let go as soon as a
 * tab upgrades or deletes it (`forget()`).
 */
export async function eventsOf(h: History): Promise<AttentionEvent[]> {
  if (Array.isArray(h)) return h;
  let db = open.get(h.log);
  if (!db) {
    const drop = () => open.get(h.log) === db && open.delete(h.log);
    db = openDB<AttnflowDB>(h.log, DB_VERSION, {
      upgrade(_d, _from, _to, tx) {
        tx.done.catch(() => {}); // The open fails, and says so.
        tx.abort();
      },
      blocking: () => (drop(), void db!.then((d) => d.close())),
      terminated: drop,
    });
    open.set(h.log, db);
    db.catch(drop);
  }
  const records: ItemRecord[] = await readRecent(await db, h.recent);
  return sequenceOf(records);
}
