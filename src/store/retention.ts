/**
 * Retention: views past `retentionDays`, then the oldest beyond `maxItemRecords` item records, go,
 * whether the log lives in the database or in memory; a full disk also evicts the oldest views.
 */
import { removal } from './derive';
import type { Entry } from './ingest';
import { getDb } from './open';
import { itemsOf, type StoredView } from './schema';
import { settle } from './settle';
import { warn, type Db, type State } from './state';

const DAY = 864e5;

/** Applies the limits to the views in memory (memory mode). */
export const trimMemory = (c: State): void => {
  const cutoff = c.o.clock.epoch() - c.o.retentionDays * DAY;
  let excess = -c.o.maxItemRecords;
  c.pending.forEach((e) => (excess += e.items.size));
  // Insertion order is update order (recordView deletes before it sets): oldest first.
  for (const [k, e] of c.pending) {
    if (excess <= 0 && e.view!.updatedAt >= cutoff) break;
    excess -= e.items.size;
    c.pending.delete(k);
  }
};

/**
 * Views past the age limit, then the oldest beyond maxItemRecords item records, then `evict` more
 * of the oldest views (a full disk). Reads only what it deletes: the count of records is the
 * profile's; the records deleted leave the aggregates through the journal.
 */
export const trimDb = async (c: State, d: Db, evict = 0): Promise<void> => {
  const tx = d.transaction(['views', 'journal', 'profile'], 'readwrite');
  tx.done.catch(() => {}); // Failures surface through the awaits below.
  const index = tx.objectStore('views').index('by-updated');
  const journal = tx.objectStore('journal');
  const ours: Entry[] = [];
  const drop = (v: StoredView) => {
    void journal.add(removal(v.updatedAt, itemsOf(v)));
    const e = v.viewId === c.currentId ? c.current : c.pending.get(v.viewId);
    if (e) ours.push(e);
    return v.items.length;
  };
  let excess = ((await tx.objectStore('profile').get('visitor'))?.records ?? 0) - c.o.maxItemRecords;
  for (const e of await journal.getAll()) for (const x of e.items) excess += x[5];
  let cur = await index.openCursor(IDBKeyRange.upperBound(c.o.clock.epoch() - c.o.retentionDays * DAY, true));
  for (; cur; cur = await cur.continue()) (excess -= drop(cur.value)), void cur.delete();
  for (cur = excess > 0 ? await index.openCursor() : null; cur && excess > 0; cur = await cur.continue())
    (excess -= drop(cur.value)), void cur.delete();
  for (cur = evict > 0 ? await index.openCursor() : null; cur && evict-- > 0; cur = await cur.continue())
    drop(cur.value), void cur.delete();
  await tx.done;
  // A view of this tab's that went is new again if it is written again.
  for (const e of ours) (e.put = false), e.sent.clear(), e.items.forEach((_, id) => e.dirty.add(id));
  void settle(c);
};

/** Deletes records and views past the retention limits, oldest first. Never rejects. */
export const trim = async (c: State): Promise<void> => {
  c.trimmedAt = c.o.clock.epoch();
  const d = await getDb(c);
  try {
    d ? await trimDb(c, d) : trimMemory(c);
  } catch (error) {
    warn(c, error, 'trim');
  }
};
