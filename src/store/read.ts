/**
 * The log's two reads: what it knows of some items and of the visitor (`known`, for
 * personalization) and everything it holds, as JSON (`exportLog`, the visitor's copy). In memory
 * mode both are worked out from the views in memory.
 */
import type { AttentionExport, WeightsRecord } from '../types';
import { memoryKnown, readKnown, type Known } from './aggregates';
import { emptyProfile, removal } from './derive';
import { doc } from './ingest';
import { getDb } from './open';
import { DB_VERSION, STORES, itemsOf, type StoredView } from './schema';
import { settle } from './settle';
import { warn, type State } from './state';

// The aggregates of the views in memory (memory mode), but for `except`.
const memKnown = (c: State, now: number, except: string) =>
  memoryKnown(
    [...c.pending.values()].flatMap((e) =>
      e.view && e.view.viewId !== except ? [{ updatedAt: e.view.updatedAt, records: [...e.items.values()] }] : [],
    ),
    now,
  );

/**
 * What the log holds besides this tab's view in progress: the visitor's profile and the catalogue
 * entries of `ids` that it has. Never rejects.
 */
export const known = async (c: State, ids: readonly string[]): Promise<Known> => {
  const now = c.o.clock.epoch();
  const d = await getDb(c);
  const profile = emptyProfile(now);
  try {
    if (!d) {
      const m = c.allowed ? memKnown(c, now, c.currentId) : { profile, items: new Map() };
      return { profile: m.profile, items: ids.flatMap((id) => m.items.get(id) ?? []) };
    }
    // This tab's view in progress, as far as it was given to the database.
    return await readKnown(
      d,
      ids,
      () => (c.current.put && c.current.view ? [removal(c.current.view.updatedAt, [...c.current.sent.values()])] : []),
      now,
    );
  } catch (error) {
    warn(c, error, 'known');
    return { profile: emptyProfile(now), items: [] };
  }
};

/** Everything stored, as JSON, once everything recorded so far is written and folded. */
export const exportLog = async (c: State): Promise<AttentionExport> => {
  await c.flush();
  await settle(c);
  const d = await getDb(c);
  const out = {
    schema: 'attnflow',
    version: DB_VERSION,
    exportedAt: c.o.clock.epoch(),
    storage: c.allowed ? (d ? 'indexeddb' : 'memory') : 'none',
  } as Record<string, any>;
  try {
    const tx = d?.transaction(STORES);
    tx?.done.catch(() => {});
    for (const s of STORES)
      out[s] = tx ? await tx.objectStore(s).getAll() : s === 'views' ? [...c.pending.values()].map(doc) : [...c.mem.get(s)!.values()];
  } catch (error) {
    warn(c, error, 'export');
  }
  // Item records flat, views without them: the same shape whatever the storage.
  out.records = (out.views ?? []).flatMap(itemsOf);
  out.views = (out.views ?? []).map(({ items: _, ...v }: StoredView) => v);
  out.profile = out.profile?.[0] ?? null;
  if (!d && c.allowed) {
    const m = memKnown(c, c.o.clock.epoch(), '');
    out.catalogue = [...m.items.values()];
    out.profile = m.profile;
  }
  out.weights = (out.weights ?? []).map((w: WeightsRecord) => ({ ...w, data: base64(w.data) }));
  return out as AttentionExport;
};

function base64(buf: ArrayBuffer): string {
  const a = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < a.length; i += 0x8000) s += String.fromCharCode(...a.subarray(i, i + 0x8000));
  return btoa(s);
}
