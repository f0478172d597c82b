/**
 * Recovery: the views that a closed tab left in localStorage (see `log.ts`), written to the
 * database as it opens, unless it holds a newer copy, and counted in the aggregates.
 */
import { recordDelta, type ItemDelta } from './derive';
import { doc, entry, ingest, int, type Entry } from './ingest';
import { DB_NAME, itemsOf, type StoredView } from './schema';
import { settle } from './settle';
import { warn, type Db, type State } from './state';
import { unsavedPrefix, withLocalStorage } from './unsaved';

/** Writes to `d` the views left in localStorage. Never rejects. */
export const recover = async (c: State, d: Db): Promise<void> => {
  const unsaved = unsavedPrefix(c.o.name ?? DB_NAME);
  const found: Array<[string, StoredView | undefined]> = [];
  withLocalStorage((ls) => {
    for (let i = 0; i < ls.length; i++) {
      const k = ls.key(i)!;
      const id = k.slice(unsaved.length);
      if (!k.startsWith(unsaved) || c.pending.has(id)) continue;
      let e: Entry | undefined;
      try {
        const { at, s } = JSON.parse(ls.getItem(k)!);
        if (s?.page?.viewId === id && !c.forgotten.has(id)) ingest(s, int(at), (e = entry()));
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
    c.o.log(`${found.length} view(s) left by a closed tab written to the log`);
    void settle(c);
  } catch (error) {
    warn(c, error, 'recover');
  }
};
