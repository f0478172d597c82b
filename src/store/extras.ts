/**
 * What later work needs from the store besides the log, kept out of the script every page loads:
 * the leader tab (which alone runs retention and trains the model), change notices between tabs,
 * and whole-record reads and writes of weights, scores, settings, profile and catalogue. Works on
 * the database the core store opened, or on its memory.
 */
import type { CatalogueEntry, ItemRecord, ScoresRecord, SettingRecord, VisitorProfile, WeightsRecord } from '../types';
import { itemsOf, readRecent } from './schema';
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
  /** Retention, then the aggregates brought up to date. The leader runs it after flushes. */
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

export function createStoreExtras(store: Store, x: ExtrasOptions = {}): StoreExtras {
  const { report } = store.options;
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
    await store.settled();
    notify('profile');
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
        if (d) return await readRecent(d, count);
        for (const v of store.memViews().reverse()) if (out.length < count) out.push(...itemsOf(v));
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
