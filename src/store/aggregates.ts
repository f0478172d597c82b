/**
 * The log's aggregates in the database: folding the journal into the catalogue and the profile,
 * and reading what a page needs of them. The arithmetic is `derive.ts`'s; `store.ts` writes the
 * journal and calls these.
 */
import type { IDBPDatabase } from 'idb';
import type { CatalogueEntry, ItemRecord, VisitorProfile } from '../types';
import { addition, emptyProfile, foldJournal, type JournalEntry } from './derive';
import type { AttnflowDB } from './schema';

type Db = IDBPDatabase<AttnflowDB>;

/** The log's aggregates as `Store.known` gives them. */
export interface Known {
  profile: VisitorProfile;
  items: CatalogueEntry[];
}

/** Journal changes folded per transaction: each stays a short task. */
const FOLD_ITEMS = 500;

// Catalogue entries of `ids`, read at once.
async function entries(cat: { get(id: string): Promise<CatalogueEntry | undefined> }, ids: Iterable<string>) {
  const unique = [...new Set(ids)];
  const got = await Promise.all(unique.map((id) => cat.get(id)));
  return new Map(unique.map((id, i) => [id, got[i]]));
}

/**
 * Folds the oldest part of the journal into the catalogue and the profile, as of the time `clock`
 * gives once it is read; false when the journal was empty.
 */
export async function foldSome(d: Db, clock: () => number): Promise<boolean> {
  const tx = d.transaction(['journal', 'catalogue', 'profile'], 'readwrite');
  tx.done.catch(() => {}); // Failures surface through the awaits below.
  const journal = tx.objectStore('journal');
  const found: JournalEntry[] = [];
  let last: number | undefined;
  for (let c = await journal.openCursor(), n = 0; c && n < FOLD_ITEMS; c = await c.continue()) {
    found.push(c.value);
    n += c.value.items.length;
    last = c.key;
  }
  if (last === undefined) return false;
  void journal.delete(IDBKeyRange.upperBound(last));
  const cat = tx.objectStore('catalogue');
  const got = await entries(
    cat,
    found.flatMap((e) => e.items.map((x) => x[0])),
  );
  const now = clock();
  const profile = (await tx.objectStore('profile').get('visitor')) ?? emptyProfile(now);
  for (const [id, e] of foldJournal(profile, found, (id) => got.get(id), now)) void (e ? cat.put(e) : cat.delete(id));
  void tx.objectStore('profile').put(profile);
  await tx.done;
  return true;
}

/**
 * The profile and the catalogue entries of `ids`, with the journal not folded yet, less `mine()`:
 * the negative of this tab's view in progress as far as it was written, taken when the reading
 * transaction is made (writes made before it are in what it reads, later ones are not).
 */
export async function readKnown(d: Db, ids: readonly string[], mine: () => JournalEntry[], now: number): Promise<Known> {
  const tx = d.transaction(['journal', 'catalogue', 'profile']);
  tx.done.catch(() => {});
  const less = mine();
  const profile = (await tx.objectStore('profile').get('visitor')) ?? emptyProfile(now);
  const found = [...(await tx.objectStore('journal').getAll()), ...less];
  const got = await entries(tx.objectStore('catalogue'), [...ids, ...found.flatMap((e) => e.items.map((x) => x[0]))]);
  const changed = foldJournal(profile, found, (id) => got.get(id), now);
  return { profile, items: ids.flatMap((id) => (changed.has(id) ? changed.get(id) : got.get(id)) ?? []) };
}

/** The aggregates of views kept in memory (where IndexedDB is missing), from scratch. */
export function memoryKnown(views: ReadonlyArray<{ updatedAt: number; records: ItemRecord[] }>, now: number) {
  const profile = emptyProfile(now);
  return {
    profile,
    items: foldJournal(
      profile,
      views.map((v) => addition(v.updatedAt, v.records)),
      () => undefined,
      now,
    ),
  };
}
