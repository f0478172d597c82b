/**
 * What later work needs from the store besides the log, kept out of the script every page loads:
 * the leader tab (which alone derives the catalogue and the profile, and trains the model),
 * change notices between tabs, and whole-record reads and writes of weights, scores, settings,
 * profile and catalogue. Works on the database the core store opened, or on its memory.
 */
import type { CatalogueEntry, ItemRecord, ScoresRecord, SettingRecord, ViewRecord, VisitorProfile, WeightsRecord } from '../types';
import { computeProfile, mergeCatalogue } from './derive';
import { itemsOf } from './schema';
import type { Store } from './store';
import { createTabs, type LockManagerLike } from './tabs';

/** What other tabs (and this one) are told about. */
export type ChangeKind = 'profile' | 'weights' | 'scores';

/** Stores read and written whole. */
export interface KvValues {
  catalogue: CatalogueEntry;
  profile: VisitorProfile;
  weights: WeightsRecord;
  scores: ScoresRecord;
  settings: SettingRecord;
}

export interface StoreExtras {
  get<K extends keyof KvValues>(store: K, key: string): Promise<KvValues[K] | undefined>;
  /** Writes a record; weights, scores and profile changes are announced to every tab. Never rejects. */
  put<K extends keyof KvValues>(store: K, value: KvValues[K]): Promise<void>;
  /** The item records of the newest views, newest view first, at least `count` of them where there are; reads only those. */
  recent(count: number): Promise<ItemRecord[]>;
  /** Retention, then the catalogue and the profile from the log. The leader runs it after flushes. */
  upkeep(): Promise<void>;
  isLeader(): boolean;
  /** Calls `cb` when this tab becomes the leader (at once if it is). */
  onLeader(cb: () => void): () => void;
  /** Called with `remote: true` when another tab made the change. */
  onChange(kind: ChangeKind, cb: (remote: boolean) => void): () => void;
  close(): void;
}

export interface ExtrasOptions {
  /** ms from becoming leader, or from a change notice, to the upkeep. Default 30000. */
  upkeepDelayMs?: number;
  /** Web Locks, for tests; default navigator.locks. */
  locks?: LockManagerLike;
}

/** Records changed this long before the last upkeep are merged again: other tabs flush late. */
const MARGIN_MS = 15 * 6e4;

export function createStoreExtras(store: Store, x: ExtrasOptions = {}): StoreExtras {
  const { clock, report } = store.options;
  const name = store.options.name ?? 'attnflow';
  const subs = new Map<string, Set<(remote: boolean) => void>>();
  let timer: ReturnType<typeof setTimeout> | undefined;

  const fire = (kind: string, remote: boolean) => {
    for (const cb of [...(subs.get(kind) ?? [])]) {
      try {
        cb(remote);
      } catch (error) {
        report(error, `onChange ${kind}`);
      }
    }
  };
  const notify = (kind: string) => {
    tabs.post(kind);
    fire(kind, false);
  };
  const schedule = () => {
    if (tabs.isLeader() && timer === undefined) timer = setTimeout(() => void upkeep(), x.upkeepDelayMs ?? 30_000);
  };
  const tabs = createTabs(`${name}-tabs`, (kind) => (kind === 'changed' ? schedule() : fire(kind, true)), x.locks);

  const upkeep = async () => {
    clearTimeout(timer);
    timer = undefined;
    await store.flush();
    await store.trim();
    const d = await store.db();
    const now = clock.epoch();
    try {
      if (!d) {
        const cat = store.mem.get('catalogue') as Map<string, CatalogueEntry>;
        const views = store.memViews();
        for (const v of views) for (const r of itemsOf(v)) cat.set(r.itemId, mergeCatalogue(cat.get(r.itemId), r));
        store.mem.get('profile')!.set('visitor', computeProfile(views, now));
      } else {
        const tx = d.transaction(['views', 'catalogue', 'profile', 'settings'], 'readwrite');
        tx.done.catch(() => {}); // Failures surface through the awaits below.
        const cat = tx.objectStore('catalogue');
        await trimOld(cat.index('by-last'), now - store.options.retentionDays * 864e5);
        const mark = ((await tx.objectStore('settings').get('catalogued'))?.value as number) ?? 0;
        // One view per step (a cursor, not getAll): long logs never make a long task.
        const views: ViewRecord[] = [];
        for (let c = await tx.objectStore('views').index('by-updated').openCursor(); c; c = await c.continue()) {
          const { items: _, ...view } = c.value;
          views.push(view);
          if (view.updatedAt < mark) continue;
          for (const r of itemsOf(c.value)) void cat.put(mergeCatalogue(await cat.get(r.itemId), r));
        }
        void tx.objectStore('settings').put({ key: 'catalogued', value: now - MARGIN_MS });
        void tx.objectStore('profile').put(computeProfile(views, now));
        await tx.done;
      }
      notify('profile');
    } catch (error) {
      report(error, 'store upkeep');
    }
  };

  tabs.onLeader(schedule);
  const onFlushed = () => (tabs.post('changed'), schedule());
  store.flushed.add(onFlushed);

  return {
    upkeep,
    async recent(count) {
      await store.flush();
      const d = await store.db();
      const out: ItemRecord[] = [];
      try {
        if (!d) for (const v of store.memViews().reverse()) if (out.length < count) out.push(...itemsOf(v));
        for (let c = d && (await d.transaction('views').store.index('by-updated').openCursor(null, 'prev')); c && out.length < count; c = await c.continue()) {
          out.push(...itemsOf(c.value));
        }
      } catch (error) {
        report(error, 'store recent');
      }
      return out;
    },
    isLeader: tabs.isLeader,
    onLeader: tabs.onLeader,
    onChange(kind, cb) {
      let set = subs.get(kind);
      if (!set) subs.set(kind, (set = new Set()));
      set.add(cb);
      return () => set!.delete(cb);
    },
    async get(s, key) {
      const d = await store.db();
      try {
        return (d ? await d.get(s, key) : store.mem.get(s)!.get(key)) as never;
      } catch (error) {
        report(error, 'store get');
        return undefined;
      }
    },
    async put(s, value) {
      if (store.storage() === 'none') return;
      const d = await store.db();
      try {
        if (d) await d.put(s, value as never);
        else {
          const v = value as Partial<WeightsRecord & SettingRecord & VisitorProfile & CatalogueEntry>;
          store.mem.get(s)!.set(v.name ?? v.key ?? v.id ?? v.itemId!, value);
        }
        if (s === 'weights' || s === 'scores' || s === 'profile') notify(s);
      } catch (error) {
        report(error, 'store put');
      }
    },
    close() {
      store.flushed.delete(onFlushed);
      clearTimeout(timer);
      tabs.close();
    },
  };
}

async function trimOld(index: { openCursor(range?: IDBKeyRange): Promise<any> }, below: number) {
  for (let c = await index.openCursor(IDBKeyRange.upperBound(below, true)); c; c = await c.continue()) void c.delete();
}
