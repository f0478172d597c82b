/**
 * Writing the views pending to the database: one transaction per flush, put in chunks of a task
 * each unless the page unloads, with a journal entry of what each put changes for the aggregates.
 * A full disk evicts the oldest views and tries once more; a failed write leaves its views pending.
 */
import { unwrap } from 'idb';
import type { ItemRecord } from '../types';
import { recordDelta, type ItemDelta, type JournalEntry } from './derive';
import { doc, type Entry } from './ingest';
import { open } from './open';
import { trim, trimDb, trimMemory } from './retention';
import { settle } from './settle';
import { close, done, warn, type Db, type State } from './state';

/**
 * Item records put per task, so that no flush becomes a long task. Only a page that unloads gets
 * every put at once (see `write`).
 */
const CHUNK = 1000;

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

/**
 * `flushNow(urgent)`: writes what is pending, or keeps it in memory where there is no database.
 * `urgent`: a view ended or the page hides (1) or unloads (2). Never rejects.
 */
export function createWrite(c: State): (urgent?: 0 | 1 | 2) => Promise<void> {
  // The transaction of a chunked write that still has chunks to put.
  let chunking: IDBTransaction | undefined;
  // Puts what is pending in one transaction; a full disk evicts the oldest views and tries once more.
  const write = (d: Db, unload: boolean, retried?: boolean): Promise<void> =>
    new Promise<void>((resolve) => {
      const batch = [...c.pending].map(([id, e]) => [id, e, e.v] as const);
      const undo: Array<() => void> = [];
      // A page that unloads (pagehide: a closed tab, a navigation, the back/forward cache) runs no
      // task after this one, so its flush issues every put before returning, unless every view in
      // it has a copy that outlives the page (log.ts). Every other flush, a hidden tab's too, puts
      // in chunks of a task each: the page goes on running, and no flush is a long task.
      const atOnce = unload && batch.some(([id]) => !c.o.copied?.(id));
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
        if (c.db === d) close(c);
        warn(c, error, 'flush');
        return resolve();
      }
      tx.oncomplete = () => {
        // Views that changed meanwhile, or that a cut-short write never put, stay pending.
        for (const [id, e, v] of batch.slice(0, i)) if (c.pending.get(id) === e && e.v === v) c.pending.delete(id), c.o.saved?.(id);
        resolve();
        void settle(c);
        c.flushed.forEach((f) => f());
        if (c.o.clock.epoch() - c.trimmedAt > 6e5) void trim(c);
      };
      tx.onabort = () => {
        if (chunking === tx) chunking = undefined;
        undo.forEach((u) => u());
        const error = (tx.error ?? failure) as DOMException | null;
        if (error?.name === 'QuotaExceededError' && !retried) {
          // Make room from the oldest, then try once more with what is pending by then.
          c.o.log('quota exceeded: evicting the oldest records');
          d.count('views')
            .then((n) => trimDb(c, d, Math.ceil(n / 10)))
            .catch((e) => warn(c, e, 'evict'))
            .then(() => write(d, unload, true))
            .then(resolve);
        } else {
          warn(c, error, 'flush');
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
  const flushNow = (urgent?: 0 | 1 | 2): Promise<void> => {
    clearTimeout(c.timer);
    c.timer = undefined;
    if (!c.allowed || !c.pending.size) return done;
    // A flush while a write is in flight waits for it, then writes what is still pending: the
    // same views are not put twice. A hide flush cannot wait: the page may be gone next.
    if (writing && !urgent) return writing.then(() => flushNow());
    const unload = urgent === 2;
    const w = (c.db ? write(c.db, unload) : open(c).then((d) => (d ? write(d, unload) : trimMemory(c)))).then(() => {
      if (writing === w) writing = undefined;
    });
    return (writing = w);
  };
  return flushNow;
}
