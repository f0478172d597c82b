import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { openDB } from 'idb';
import { createStore, type StoreOptions } from '../../../src/store';
import { createLog } from '../../../src/store/log';
import { createStoreExtras, type ExtrasOptions } from '../../../src/store/extras';
import { DB_VERSION, itemLine, itemsOf, migrate, packView, pathOf, type StoredView } from '../../../src/store/schema';
import { addition, emptyProfile, foldJournal, recordDelta, removal } from '../../../src/store/derive';
import { HALF_LIFE_MS } from '../../../src/rules';
import { buildProfile, fromKnown } from '../../../src/personalize/profile';
import type { AttentionSnapshot, ItemAttention, ItemRecord } from '../../../src/types';

const DAY = 864e5;
let t = Date.UTC(2026, 0, 1);
const clock = { now: () => t, epoch: () => t };
const stores: Array<{ stop(): void }> = [];

function mk(over: Partial<StoreOptions> = {}, extras: ExtrasOptions = { upkeepDelayMs: 1e9 }) {
  const report = vi.fn();
  const s = createStore({ retentionDays: 90, maxItemRecords: 50_000, report, log: () => {}, clock, ...over });
  s.allow(true);
  const x = createStoreExtras(s, extras);
  stores.push(s, { stop: x.close });
  return Object.assign(s, x, { report });
}

function item(n: number, extra: Partial<ItemAttention> = {}): ItemAttention {
  return {
    attentionMs: n,
    visibleMs: 2 * n,
    viewableMs: n,
    hoverMs: 0,
    maxVisibleRatio: 0.5,
    clicks: 0,
    viewable: true,
    skipped: false,
    topics: ['sport'],
    rageClicks: 0,
    deadClicks: 0,
    ...extra,
  };
}

function snap(viewId: string, items: Record<string, ItemAttention>, page: Partial<AttentionSnapshot['page']> = {}): AttentionSnapshot {
  return {
    page: {
      engagedMs: 1000,
      visibleMs: 1000,
      scrollDepth: 0.5,
      startedAt: t,
      viewId,
      path: '/news',
      rageClicks: 0,
      deadClicks: 0,
      ...page,
    },
    items,
  };
}

function items(count: number, ms: number, prefix = 'i'): Record<string, ItemAttention> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, item(ms + i)]));
}

/** Reads the database the way another tab would. */
async function read() {
  const db = await openDB('attnflow');
  const views = (await db.getAll('views')) as StoredView[];
  const out = { records: views.flatMap(itemsOf), views, version: db.version };
  db.close();
  return out;
}

beforeEach(() => {
  vi.stubGlobal('indexedDB', new IDBFactory());
  t = Date.UTC(2026, 0, 1);
});
afterEach(() => {
  stores.splice(0).forEach((s) => s.stop());
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('schema', () => {
  it('creates every store and index at the current version', async () => {
    const s = mk();
    s.recordView(snap('v1', items(1, 10)));
    await s.flush();
    const db = await openDB('attnflow');
    expect(db.version).toBe(DB_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(['catalogue', 'journal', 'profile', 'scores', 'settings', 'views', 'weights']);
    const tx = db.transaction(['views', 'catalogue']);
    expect([...tx.objectStore('views').indexNames]).toEqual(['by-updated']);
    expect(tx.objectStore('views').keyPath).toBe('viewId');
    expect([...tx.objectStore('catalogue').indexNames]).toEqual(['by-last']);
    db.close();
  });

  it('migrates a v1 database and keeps its data: views lose the query string, catalogue and topics are rebuilt', async () => {
    const v1 = await openDB('attnflow', 1, { upgrade: (d, from, _to, tx) => void migrate(d as never, from, 1, tx as never) });
    await v1.put('records', { ...item(1500), viewId: 'old', itemId: 'a', topics: ['tech'], firstAt: t - 5000, lastAt: t - 4000 } as never);
    await v1.put('records', {
      ...item(500),
      viewId: 'old',
      itemId: 'b',
      topics: ['tech', 'ai'],
      firstAt: t - 6000,
      lastAt: t - 1000,
    } as never);
    await v1.put('views', {
      viewId: 'old',
      url: 'https://example.com/story?email=canary@example.com#x',
      startedAt: t - 9000,
      engagedMs: 3000,
    } as never);
    v1.close();

    const s = mk();
    const out = await s.export();
    expect(out.version).toBe(DB_VERSION);
    expect(out.records).toHaveLength(2);
    expect(out.records.find((r) => r.itemId === 'b')).toMatchObject({
      attentionMs: 500,
      topics: ['tech', 'ai'],
      firstAt: t - 6000,
      lastAt: t - 1000,
    });
    expect(out.views).toEqual([
      { viewId: 'old', path: '/story', startedAt: t - 9000, updatedAt: t - 9000, engagedMs: 3000, topics: { tech: 2000, ai: 500 } },
    ]);
    expect(JSON.stringify(out)).not.toContain('canary');
    expect(out.catalogue.map((c) => [c.itemId, c.firstSeen, c.lastSeen])).toEqual([
      ['a', t - 5000, t - 4000],
      ['b', t - 6000, t - 1000],
    ]);
  });

  it('migrates a v2 database: item records become lines and read back the same', async () => {
    const v2 = await openDB('attnflow', 2, { upgrade: (d, from, _to, tx) => void migrate(d as never, from, 2, tx as never) });
    const recs = [
      {
        ...item(1500),
        viewId: 'old',
        itemId: 'a',
        topics: ['tech'],
        firstAt: t - 5000,
        lastAt: t - 4000,
        skipped: true,
        viewable: false,
        maxVisibleRatio: 0.25,
      },
      { ...item(500), viewId: 'old', itemId: 'b\tc,d', topics: [], firstAt: t - 6000, lastAt: t - 1000 },
    ];
    await v2.put('views', {
      viewId: 'old',
      path: '/p',
      startedAt: t - 9000,
      updatedAt: t - 1000,
      engagedMs: 3000,
      visibleMs: 4000,
      scrollDepth: 0.5,
      rageClicks: 0,
      deadClicks: 0,
      topics: { tech: 1500 },
      items: recs,
    } as never);
    v2.close();

    const out = await mk().export();
    expect(out.version).toBe(DB_VERSION);
    expect(out.records).toEqual(recs);
    expect(out.views).toHaveLength(1);
    const { views } = await read();
    expect(views[0]!.items.every((line) => typeof line === 'string')).toBe(true);
  });

  it('migrates a v3 database: the catalogue and the profile get their counts, rebuilt from the views once', async () => {
    const v3 = await openDB('attnflow', 3, { upgrade: (d, from, _to, tx) => void migrate(d as never, from, 3, tx as never) });
    const rec = (viewId: string, itemId: string, ms: number, topics: string[]) =>
      ({ ...item(ms), viewId, itemId, topics, firstAt: t - 5000, lastAt: t - 4000 }) as ItemRecord;
    const view = (viewId: string, recs: ItemRecord[]) =>
      packView(
        {
          viewId,
          path: '/',
          startedAt: t - 9000,
          updatedAt: t - 1000,
          engagedMs: 0,
          visibleMs: 0,
          scrollDepth: 0,
          rageClicks: 0,
          deadClicks: 0,
        },
        recs,
      );
    await v3.put('views', view('v1', [rec('v1', 'a', 1500, ['tech']), rec('v1', 'b', 200, ['ai'])]) as never);
    await v3.put('views', view('v2', [rec('v2', 'a', 700, ['tech'])]) as never);
    await v3.put('catalogue', { itemId: 'a', topics: ['tech'], firstSeen: t - 5000, lastSeen: t - 4000 } as never);
    v3.close();
    const out = await mk().export();
    expect(out.version).toBe(DB_VERSION);
    expect(out.catalogue.map((c) => [c.itemId, c.attentionMs, c.views])).toEqual([
      ['a', 2200, 2],
      ['b', 200, 1],
    ]);
    expect(out.profile).toMatchObject({
      views: 2,
      records: 3,
      items: 2,
      attended: 1,
      topics: { tech: { attentionMs: 2200, attended: 1, top: [['a', 2200]] }, ai: { attentionMs: 200 } },
    });
  });

  it('an item record survives its line: odd ids, no topics, ratios, flags, times before the view began', () => {
    const view = { viewId: 'v', startedAt: t };
    const recs: ItemRecord[] = [
      {
        ...item(1234),
        viewId: 'v',
        itemId: 'x\ty\nz,ü—🙂',
        topics: ['a', 'b c'],
        firstAt: t - 30,
        lastAt: t + 9e8,
        maxVisibleRatio: 0.333,
        viewable: true,
        skipped: true,
        clicks: 3,
        rageClicks: 1,
        deadClicks: 2,
      },
      { ...item(0), viewId: 'v', itemId: '', topics: [], firstAt: t, lastAt: t, maxVisibleRatio: 1, viewable: false, skipped: false },
    ];
    const stored = packView(
      { ...view, path: '/', updatedAt: t, engagedMs: 0, visibleMs: 0, scrollDepth: 0, rageClicks: 0, deadClicks: 0 },
      recs,
    );
    expect(itemsOf(stored)).toEqual(recs);
    expect(stored.topics).toEqual({ a: 1234, 'b c': 1234 });
    expect(itemLine(recs[1]!, t)).toBe('0,0,0,0,0,0,0,1000,0,0,0\t\t');
  });

  it('a record is stored in a quarter of the bytes of the same record as an object: a hide flush clones little', async () => {
    const s = mk();
    s.recordView(snap('v1', items(500, 1000)));
    await s.flush();
    const { views, records } = await read();
    expect(records).toHaveLength(500);
    expect(JSON.stringify(views[0]!.items).length * 4).toBeLessThan(JSON.stringify(records).length);
  });

  it('pathOf keeps the path only', () => {
    expect(pathOf('https://a.example:8080/x/y?q=1#h')).toBe('/x/y');
    expect(pathOf('/p?secret')).toBe('/p');
    expect(pathOf(undefined)).toBe('');
  });
});

describe('write path', () => {
  it('writes one transaction per flush and upserts cumulative snapshots without duplicates', async () => {
    const s = mk();
    const spy = vi.spyOn(
      Object.getPrototypeOf(
        await (async () => {
          const db = await openDB('probe');
          const raw = db as unknown as { close(): void } & object;
          db.close();
          return Object.getPrototypeOf(raw) === null ? raw : (await import('idb')).unwrap(db);
        })(),
      ),
      'transaction',
    );
    for (let i = 1; i <= 3; i++) s.recordView(snap('v1', items(50, i * 100)));
    await s.flush();
    // The flush's own transaction (retention runs in another one, after the first flush).
    const writes = spy.mock.calls.filter((c) => c[1] === 'readwrite' && (c[2] as { durability?: string })?.durability === 'strict');
    expect(writes).toHaveLength(1);
    const { records, views } = await read();
    expect(records).toHaveLength(50);
    expect(records.find((r) => r.itemId === 'i7')!.attentionMs).toBe(307);
    expect(views).toHaveLength(1);
    // Another identical flush writes nothing new; a later snapshot updates in place.
    s.recordView(snap('v1', items(50, 400)));
    await s.flush();
    const again = await read();
    expect(again.records).toHaveLength(50);
    expect(again.records.find((r) => r.itemId === 'i7')!.attentionMs).toBe(407);
  });

  it('only changed items are written again, and firstAt stays', async () => {
    const s = mk();
    s.recordView(snap('v1', { a: item(100), b: item(100) }));
    await s.flush();
    t += 1000;
    s.recordView(snap('v1', { a: item(100), b: item(300) }));
    await s.flush();
    const { records } = await read();
    const a = records.find((r) => r.itemId === 'a')!;
    const b = records.find((r) => r.itemId === 'b')!;
    expect([a.firstAt, a.lastAt]).toEqual([t - 1000, t - 1000]);
    expect([b.firstAt, b.lastAt, b.attentionMs]).toEqual([t - 1000, t, 300]);
  });

  it('flushes on a timer while something changed, and at once on hide', async () => {
    const s = mk({ flushIntervalMs: 30 });
    s.recordView(snap('v1', items(3, 10)));
    expect((await read()).records).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 120));
    expect((await read()).records).toHaveLength(3);
    const h = mk({ flushIntervalMs: 1e9, name: 'attnflow' });
    h.recordView(snap('v2', items(2, 10, 'h')), 'hide');
    await new Promise((r) => setTimeout(r, 50));
    expect((await read()).records).toHaveLength(5);
  });

  it('a page that unloads gets every put at once, unless every view has a copy; a hidden page or an ended view gets chunks', async () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    vi.stubGlobal('document', doc);
    vi.stubGlobal('window', new EventTarget());
    const puts = vi.spyOn(IDBObjectStore.prototype, 'put');
    let n = 0;
    // 3,000 records pending: all 30 views put in the flush's own task, or the first 1,000 records' worth.
    const pendingFlush = async (copied: ((id: string) => boolean) | undefined, act: (s: ReturnType<typeof mk>) => void) => {
      const s = mk({ flushIntervalMs: 1e9, name: `hide-${n++}`, copied });
      await s.db();
      for (let v = 0; v < 30; v++) s.recordView(snap(`v${v}`, items(100, 10, `v${v}-`)));
      puts.mockClear();
      act(s);
      const sync = puts.mock.calls.length;
      await s.flush();
      expect(puts.mock.calls.length).toBe(30);
      s.stop();
      return sync;
    };
    // The tracker's hide while the page still shows is a pagehide: the page unloads.
    const hide = (s: ReturnType<typeof mk>) => s.recordView(snap('v0', items(100, 20, 'v0-')), 'hide');
    expect(await pendingFlush(undefined, hide)).toBe(30);
    expect(await pendingFlush(() => true, hide)).toBe(10);
    expect(await pendingFlush((id) => id !== 'v7', hide)).toBe(30);
    // The store's own pagehide listener.
    expect(await pendingFlush(undefined, () => window.dispatchEvent(new Event('pagehide')))).toBe(30);
    // An ended view (SPA navigation) on a showing page, and a hidden page: the page goes on running.
    expect(await pendingFlush(undefined, (s) => s.recordView(snap('v0', items(100, 20, 'v0-')), 'end'))).toBe(10);
    doc.visibilityState = 'hidden';
    expect(await pendingFlush(undefined, hide)).toBe(10);
    expect(await pendingFlush(undefined, () => doc.dispatchEvent(new Event('visibilitychange')))).toBe(10);
  });

  it('a page that unloads during a chunked write cuts it short and puts everything still pending at once', async () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    vi.stubGlobal('document', doc);
    vi.stubGlobal('window', new EventTarget());
    const spy = vi.spyOn(IDBObjectStore.prototype, 'put');
    // Puts of views only: the aggregates' own writes come after.
    const puts = {
      mock: {
        get calls() {
          return spy.mock.contexts.filter((c) => (c as IDBObjectStore).name === 'views');
        },
      },
      mockClear: () => spy.mockClear(),
    };
    const s = mk({ flushIntervalMs: 1e9 });
    await s.db();
    for (let v = 0; v < 30; v++) s.recordView(snap(`v${v}`, items(100, 10, `v${v}-`)));
    puts.mockClear();
    s.recordView(snap('v29', items(100, 30, 'v29-')), 'hide'); // hidden: chunked
    expect(puts.mock.calls.length).toBe(10);
    s.recordView(snap('v29', items(100, 40, 'v29-')));
    window.dispatchEvent(new Event('pagehide'));
    // The first chunk, then all 30 views in the unload's own task; nothing more after.
    expect(puts.mock.calls.length).toBe(40);
    await s.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(puts.mock.calls.length).toBe(40);
    const { records } = await read();
    expect(records).toHaveLength(3000);
    expect(records.filter((r) => r.viewId === 'v29').every((r) => r.attentionMs >= 40)).toBe(true);
  });

  it('data recorded during a flush is written by the next one, never overwritten by an older batch', async () => {
    const s = mk();
    s.recordView(snap('v1', { a: item(100) }));
    const first = s.flush();
    s.recordView(snap('v1', { a: item(200) }));
    await first;
    await s.flush();
    expect((await read()).records[0]!.attentionMs).toBe(200);
  });

  it('two tabs writing at once share one log without duplicates or loss', async () => {
    const a = mk();
    const b = mk();
    const work = [];
    for (let i = 1; i <= 5; i++) {
      a.recordView(snap('va', items(20, i, 'x')));
      b.recordView(snap('vb', items(20, i, 'x')));
      work.push(a.flush(), b.flush());
    }
    await Promise.all(work);
    const { records, views } = await read();
    expect(records).toHaveLength(40);
    expect(new Set(records.map((r) => `${r.viewId}/${r.itemId}`)).size).toBe(40);
    expect(records.every((r) => r.attentionMs === 5 + Number(r.itemId.slice(1)))).toBe(true);
    expect(views.map((v) => v.viewId).sort()).toEqual(['va', 'vb']);
  });

  it('keeps only ids, topics, numbers and timestamps: extra fields and query strings never reach the log', async () => {
    const s = mk();
    const leaky = { ...item(10), text: 'CANARY-TEXT', value: 'CANARY-INPUT' } as unknown as ItemAttention;
    s.recordView(snap('v1', { a: leaky }, { path: '/p?token=CANARY-QUERY#CANARY-HASH', url: 'https://x/?CANARY' } as never));
    const out = JSON.stringify(await s.export());
    expect(out).not.toMatch(/CANARY/);
    expect(out).toContain('"path":"/p"');
  });
});

describe('retention', () => {
  it('deletes records and views older than retentionDays', async () => {
    const s = mk({ retentionDays: 10 });
    s.recordView(snap('old', items(3, 10, 'o')));
    await s.flush();
    t += 11 * DAY;
    s.recordView(snap('new', items(2, 10, 'n')));
    await s.flush();
    await s.trim();
    const { records, views } = await read();
    expect(records.map((r) => r.viewId)).toEqual(['new', 'new']);
    expect(views.map((v) => v.viewId)).toEqual(['new']);
  });

  it('keeps at most maxItemRecords item records, the newest', async () => {
    const s = mk({ maxItemRecords: 10 });
    for (let v = 0; v < 5; v++) {
      t += 1000;
      s.recordView(snap(`v${v}`, items(5, 10, `v${v}-`)));
      await s.flush();
    }
    await s.trim();
    const { records } = await read();
    expect(records).toHaveLength(10);
    expect(new Set(records.map((r) => r.viewId))).toEqual(new Set(['v3', 'v4']));
  });

  it('builds the catalogue and the decayed topic profile, and tells listeners', async () => {
    const s = mk();
    const changed = vi.fn();
    s.onChange('profile', changed);
    s.recordView(snap('v1', { a: item(1000, { topics: ['sport'] }), b: item(500, { topics: ['tech'] }) }));
    await s.flush();
    t += 30 * DAY;
    s.recordView(snap('v2', { a: item(1000, { topics: ['sport'] }) }));
    await s.flush();
    await s.upkeep();
    const profile = await s.get('profile', 'visitor');
    expect(profile).toMatchObject({ affinities: { sport: 1500, tech: 250 }, views: 2 });
    const a = await s.get('catalogue', 'a');
    expect(a).toEqual({
      itemId: 'a',
      topics: ['sport'],
      firstSeen: t - 30 * DAY,
      lastSeen: t,
      attentionMs: 2000,
      clicks: 0,
      skipped: 0,
      views: 2,
    });
    expect(changed).toHaveBeenCalledWith(false);
  });

  it('pure: the aggregates of a log are what personalization counts from its records, and affinities halve in 30 days', () => {
    const recs = (viewId: string, at: number, list: Array<[string, string[], number, number, boolean]>): ItemRecord[] =>
      list.map(
        ([itemId, topics, ms, clicks, skipped]) =>
          ({ ...item(ms), viewId, itemId, topics, clicks, skipped, firstAt: at, lastAt: at }) as ItemRecord,
      );
    const v1 = recs('v1', 0, [
      ['a', ['sport'], 800, 0, false],
      ['b', ['tech'], 100, 0, true],
      ['c', ['sport', 'ai'], 3000, 1, false],
    ]);
    const v2 = recs('v2', 30 * DAY, [
      ['a', ['sport'], 400, 0, false],
      ['b', ['tech'], 150, 0, true],
      ['d', ['ai'], 50, 0, true],
    ]);
    const profile = emptyProfile(30 * DAY);
    const entries = foldJournal(profile, [addition(0, v1), addition(30 * DAY, v2)], () => undefined, 30 * DAY);
    const expected = buildProfile([...v1, ...v2]);
    const seen = fromKnown({ profile, items: [...entries.values()].filter((e) => !!e) });
    expect(seen.topics).toEqual(expected.topics);
    expect(seen.items).toEqual(expected.items);
    expect(seen.totals).toEqual(expected.totals);
    expect(profile).toMatchObject({ views: 2, records: 6, items: 4, attended: 2 });
    expect(profile.affinities).toEqual({ sport: 800 / 2 + 3000 / 2 + 400, ai: 3000 / 2 + 50, tech: 100 / 2 + 150 });
    expect(profile.topics.sport!.top).toEqual([
      ['c', 3000],
      ['a', 1200],
    ]);
    // Taking v1 back out leaves what v2 alone gives, and an item with no record left goes.
    const out = foldJournal(profile, [removal(0, v1)], (id) => entries.get(id), 30 * DAY);
    expect(out.get('c')).toBeUndefined();
    expect(out.has('c')).toBe(true);
    expect(fromKnown({ profile, items: [...out.values()].filter((e) => !!e) }).topics).toEqual(buildProfile(v2).topics);
    expect(profile).toMatchObject({ views: 1, records: 3, items: 3, attended: 0 });
    expect(profile.affinities.sport).toBeCloseTo(400);
    expect(HALF_LIFE_MS).toBe(30 * DAY);
    expect(recordDelta(v1[0]!, v1[0])).toBeUndefined();
  });
});

/** The log's aggregates as stored, and as they would be if rebuilt from every view. */
async function aggregates() {
  const db = await openDB('attnflow');
  const views = (await db.getAll('views')) as StoredView[];
  const profile = emptyProfile(t);
  const rebuilt = foldJournal(
    profile,
    views.map((v) => addition(v.updatedAt, itemsOf(v))),
    () => undefined,
    t,
  );
  const stored = {
    profile: await db.get('profile', 'visitor'),
    catalogue: await db.getAll('catalogue'),
    journal: await db.count('journal'),
  };
  db.close();
  const byId = (xs: any[]) => Object.fromEntries(xs.filter(Boolean).map(({ firstSeen: _, lastSeen: __, ...e }) => [e.itemId, e]));
  // Each topic's most attended items are kept as they come: one that retention takes out leaves
  // its place empty until another is read, so they are compared apart.
  const tops = (p: any) => Object.fromEntries(Object.entries(p?.topics ?? {}).map(([k, v]: [string, any]) => [k, v.top]));
  const counts = (p: any) =>
    p && {
      records: p.records,
      items: p.items,
      attended: p.attended,
      clicks: p.clicks,
      skipped: p.skipped,
      views: p.views,
      topics: Object.fromEntries(Object.entries(p.topics).map(([k, { top: _, ...v }]: [string, any]) => [k, v])),
    };
  return {
    stored: { profile: counts(stored.profile), catalogue: byId(stored.catalogue) },
    rebuilt: { profile: counts(profile), catalogue: byId([...rebuilt.values()]) },
    tops: { stored: tops(stored.profile), rebuilt: tops(profile) },
    journal: stored.journal,
  };
}

describe('aggregates kept up to date as the log is written', () => {
  it('equal the aggregates rebuilt from every view: ticks, several views and tabs, an unload, retention by age and by count', async () => {
    const a = mk({ maxItemRecords: 60, retentionDays: 20 });
    const b = mk({ maxItemRecords: 60, retentionDays: 20 });
    for (let i = 1; i <= 6; i++) {
      t += 1000;
      // Cumulative snapshots: the same records grow; a click and a skip come and go.
      a.recordView(
        snap('a1', { x: item(300 * i, { topics: ['sport'], clicks: i > 3 ? 1 : 0 }), y: item(100, { topics: ['tech'], skipped: i < 4 }) }),
      );
      b.recordView(snap('b1', items(4, 200 * i, 'b')));
      await Promise.all([a.flush(), b.flush()]);
    }
    await Promise.all([a.settled(), b.settled()]);
    let agg = await aggregates();
    expect(agg.journal).toBe(0);
    expect(agg.stored).toEqual(agg.rebuilt);
    expect(agg.stored.profile).toMatchObject({ records: 6, views: 2, attended: 5, clicks: 1, skipped: 0 });
    expect(agg.tops.stored).toEqual(agg.tops.rebuilt);

    // An unload writes everything at once; the next page folds it.
    a.recordView(
      snap('a1', {
        x: item(5000, { topics: ['sport'], clicks: 2 }),
        y: item(100, { topics: ['tech'], skipped: true }),
        z: item(50, { topics: ['ai'] }),
      }),
      'end',
    );
    await a.settled();
    agg = await aggregates();
    expect(agg.stored).toEqual(agg.rebuilt);
    expect(agg.stored.catalogue.x).toMatchObject({ attentionMs: 5000, clicks: 2, views: 1 });
    expect(agg.tops.stored).toEqual(agg.tops.rebuilt);

    // Older than 20 days, and beyond 60 records: retention takes them out of the aggregates too.
    t += 21 * DAY;
    for (let v = 0; v < 8; v++) {
      t += 1000;
      a.recordView(snap(`n${v}`, items(10, 1500, `n${v}-`)));
      await a.flush();
    }
    await a.trim();
    await a.settled();
    agg = await aggregates();
    expect(agg.stored).toEqual(agg.rebuilt);
    expect(agg.stored.profile).toMatchObject({ records: 60, views: 6 });
    expect(agg.stored.catalogue.x).toBeUndefined();
    // What is left of each topic's most attended items is in order, and holds no item that went.
    for (const [topic, top] of Object.entries(agg.tops.stored)) {
      expect(top.every(([id, ms]: [string, number]) => agg.stored.catalogue[id]?.attentionMs === ms)).toBe(true);
      expect(top.map((x: [string, number]) => x[1])).toEqual(top.map((x: [string, number]) => x[1]).sort((p: number, q: number) => q - p));
      expect(top.length).toBeLessThanOrEqual(agg.tops.rebuilt[topic].length);
    }
  });

  it("known(): the page's items and every topic, without this tab's view in progress, from a handful of records", async () => {
    const s = mk();
    for (let v = 0; v < 200; v++) {
      t += 1000;
      s.recordView(
        snap(`old${v}`, {
          [`s${v}`]: item(2000, { topics: ['sport'] }),
          [`t${v}`]: item(100, { topics: ['tech'], skipped: true }),
          shared: item(10, { topics: ['sport'] }),
        }),
      );
    }
    await s.settled();
    s.recordView(snap('now', { s7: item(5000, { topics: ['sport'] }), fresh: item(3000, { topics: ['ai'] }) }));
    await s.settled();
    const spies = ['get', 'getAll', 'openCursor', 'count'].map((m) => vi.spyOn(IDBObjectStore.prototype, m as 'get'));
    const known = await s.known(['s7', 'shared', 'fresh', 'unknown']);
    const reads = spies.reduce((n, spy) => n + spy.mock.calls.length, 0);
    expect(reads).toBeLessThanOrEqual(8);
    expect(spies.flatMap((spy) => spy.mock.contexts.map((c) => (c as IDBObjectStore).name))).not.toContain('views');
    expect(known.items.map((e) => [e.itemId, e.attentionMs, e.views])).toEqual([
      ['s7', 2000, 1],
      ['shared', 2000, 200],
    ]);
    expect(known.profile).toMatchObject({ views: 200, records: 600, items: 401, attended: 201, skipped: 200 });
    expect(known.profile.topics.sport).toMatchObject({ attentionMs: 402_000, attended: 201 });
    expect(known.profile.topics.ai).toBeUndefined();
    vi.restoreAllMocks();
    // Another tab sees the view in progress as part of the log.
    const other = mk();
    expect((await other.known(['fresh'])).items.map((e) => e.itemId)).toEqual(['fresh']);
  });

  it('a view a closed tab left in localStorage enters the aggregates with what it adds', async () => {
    const ls = new Map<string, string>();
    vi.stubGlobal('localStorage', {
      get length() {
        return ls.size;
      },
      key: (i: number) => [...ls.keys()][i] ?? null,
      getItem: (k: string) => ls.get(k) ?? null,
      setItem: (k: string, v: string) => void ls.set(k, v),
      removeItem: (k: string) => void ls.delete(k),
    });
    const s = mk();
    s.recordView(snap('gone', { a: item(400), b: item(100) }));
    await s.settled();
    s.stop();
    ls.set('attnflow:unsaved:gone', JSON.stringify({ at: t + 5, s: snap('gone', { a: item(1400), b: item(100), c: item(2000) }) }));
    t += 10;
    const next = mk();
    await next.settled();
    await next.settled();
    const agg = await aggregates();
    expect(agg.stored).toEqual(agg.rebuilt);
    expect(agg.stored.profile).toMatchObject({ records: 3, views: 1, attended: 2 });
  });
});

describe('quota', () => {
  async function withOldData(s: ReturnType<typeof mk>) {
    for (let v = 0; v < 10; v++) {
      t += 1000;
      s.recordView(snap(`old${v}`, items(10, 10, 'o')));
      await s.flush();
    }
  }
  // IndexedDB reports a full disk as QuotaExceededError; fake-indexeddb cannot run out of space.
  function quota(times: number) {
    const proto = Object.getPrototypeOf(indexedDB.open('x').constructor.prototype) ? (globalThis as any).IDBObjectStore.prototype : null;
    const put = proto.put;
    let left = times;
    const calls = { n: 0 };
    vi.spyOn(proto, 'put').mockImplementation(function (this: unknown, ...args: unknown[]) {
      if ((this as IDBObjectStore).name !== 'views') return put.apply(this, args);
      calls.n++;
      if (left > 0) {
        left--;
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      }
      return put.apply(this, args);
    });
    return calls;
  }

  it('evicts the oldest records and retries once; the newest data is kept', async () => {
    const s = mk();
    await withOldData(s);
    quota(1);
    t += 1000;
    s.recordView(snap('newest', items(5, 10, 'n')));
    await s.flush();
    const { records } = await read();
    expect(records.filter((r) => r.viewId === 'newest')).toHaveLength(5);
    expect(records.filter((r) => r.viewId === 'old0')).toHaveLength(0);
    expect(records.length).toBeLessThan(105);
    expect(s.report).not.toHaveBeenCalled();
  });

  it('never loops: a disk that stays full is reported once and the newest data waits in memory', async () => {
    const s = mk();
    await withOldData(s);
    const calls = quota(Infinity);
    s.recordView(snap('newest', items(5, 10, 'n')));
    await s.flush();
    expect(calls.n).toBe(2); // one put per view, tried twice
    await s.flush();
    expect(s.report).toHaveBeenCalledTimes(1);
    expect(String(s.report.mock.calls[0]![0])).toMatch(/quota/i);
    vi.restoreAllMocks();
    await s.flush();
    expect((await read()).records.filter((r) => r.viewId === 'newest')).toHaveLength(5);
  });
});

describe('memory fallback', () => {
  it('works in memory where IndexedDB is missing, and says so once', async () => {
    vi.stubGlobal('indexedDB', undefined);
    const s = mk({ maxItemRecords: 30 });
    for (let v = 0; v < 5; v++) {
      t += 1000;
      s.recordView(snap(`v${v}`, items(10, 10)));
      await s.flush();
    }
    await s.put('settings', { key: 'backend', value: 'wasm' });
    expect(await s.get('settings', 'backend')).toEqual({ key: 'backend', value: 'wasm' });
    const out = await s.export();
    expect(out.storage).toBe('memory');
    expect(out.records).toHaveLength(30);
    expect(out.records.every((r) => Number(r.viewId.slice(1)) >= 2)).toBe(true);
    expect(s.report).toHaveBeenCalledTimes(1);
    await expect(s.forget()).resolves.toBeUndefined();
    expect((await s.export()).records).toHaveLength(0);
  });

  it('works in memory where opening throws (private mode, sandboxed frame)', async () => {
    vi.spyOn(indexedDB, 'open').mockImplementation(() => {
      throw new DOMException('denied', 'SecurityError');
    });
    const s = mk();
    s.recordView(snap('v1', items(3, 10)));
    await s.flush();
    await s.flush();
    expect((await s.export()).records).toHaveLength(3);
    expect(s.report).toHaveBeenCalledTimes(1);
    expect((s.report.mock.calls[0]![0] as Error).name).toBe('SecurityError');
  });

  it('an old version open in another tab blocks the upgrade: no hang, memory until it closes, then everything is written', async () => {
    const old = await openDB('attnflow', 1, { upgrade: (d, from, _to, tx) => void migrate(d as never, from, 1, tx as never) });
    const s = mk();
    s.recordView(snap('v1', items(4, 10)));
    await s.flush();
    expect(s.report).toHaveBeenCalledTimes(1);
    expect(String(s.report.mock.calls[0]![0])).toMatch(/blocked/);
    expect((await s.export()).storage).toBe('memory');
    old.close();
    await new Promise((r) => setTimeout(r, 100));
    const { records, version } = await read();
    expect(version).toBe(DB_VERSION);
    expect(records).toHaveLength(4);
  });

  it('a connection closed under us (browser shutdown of IndexedDB) is reopened by the next flush', async () => {
    const s = mk();
    s.recordView(snap('v1', items(2, 10)));
    await s.flush();
    (await s.db())!.close();
    s.recordView(snap('v1', items(3, 20)));
    await s.flush(); // fails quietly: the transaction cannot start on a closed connection
    await s.flush(); // reopens and writes
    const { records } = await read();
    expect(records).toHaveLength(3);
    expect(records.every((r) => r.attentionMs >= 20)).toBe(true);
    expect(s.report).toHaveBeenCalledTimes(1);
  });

  it('a migration that fails aborts the upgrade, keeps the old data and carries on in memory', async () => {
    const v1 = await openDB('attnflow', 1, { upgrade: (d, from, _to, tx) => void migrate(d as never, from, 1, tx as never) });
    await v1.put('records', { ...item(1500), viewId: 'old', itemId: 'a', topics: ['tech'], firstAt: t, lastAt: t } as never);
    v1.close();
    const proto = (globalThis as any).IDBObjectStore.prototype;
    vi.spyOn(proto, 'createIndex').mockImplementationOnce(() => {
      throw new DOMException('broken', 'UnknownError');
    });
    const s = mk();
    s.recordView(snap('v1', items(2, 10)));
    await s.flush();
    expect(s.storage()).toBe('memory');
    expect((await s.export()).records).toHaveLength(2);
    vi.restoreAllMocks();
    const db = await openDB('attnflow');
    expect(db.version).toBe(1);
    expect((await db.getAll('records' as never)).map((r: ItemRecord) => r.itemId)).toEqual(['a']);
    db.close();
  });

  it('a newer version in another tab makes us close cleanly and carry on in memory', async () => {
    const s = mk();
    s.recordView(snap('v1', items(2, 10)));
    await s.flush();
    const newer = await openDB('attnflow', DB_VERSION + 1);
    expect(newer.version).toBe(DB_VERSION + 1);
    newer.close();
    s.recordView(snap('v1', items(3, 20)));
    await s.flush();
    expect(s.storage()).toBe('memory');
    expect(s.report).not.toHaveBeenCalled();
  });
});

describe('consent gate, export, forget', () => {
  it('writes nothing and creates no database until allowed', async () => {
    const s = createStore({ retentionDays: 90, maxItemRecords: 10, report: () => {}, log: () => {}, clock });
    const x = createStoreExtras(s);
    stores.push(s, { stop: x.close });
    s.recordView(snap('v1', items(3, 10)));
    await s.flush();
    await x.put('weights', { name: 'm', data: new ArrayBuffer(4), meta: {}, savedAt: t });
    expect(await x.get('weights', 'm')).toBeUndefined();
    expect((await s.export()).storage).toBe('none');
    expect(await indexedDB.databases()).toEqual([]);
    s.allow(true);
    s.recordView(snap('v1', items(3, 10)));
    await s.flush();
    expect((await indexedDB.databases()).map((d) => d.name)).toEqual(['attnflow']);
  });

  it('exports everything as JSON with the schema version', async () => {
    const s = mk();
    s.recordView(snap('v1', items(2, 10)));
    await s.put('weights', { name: 'scorer', data: new Uint8Array([1, 2, 3]).buffer, meta: { dim: 8 }, savedAt: t });
    await s.put('scores', { name: 'last', scores: { i0: 0.5 }, savedAt: t });
    await s.put('settings', { key: 'backend', value: 'webgl' });
    await s.upkeep();
    const out = await s.export();
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
    expect(out).toMatchObject({ schema: 'attnflow', version: DB_VERSION, storage: 'indexeddb' });
    expect(out.records).toHaveLength(2);
    expect(out.weights).toEqual([{ name: 'scorer', data: 'AQID', meta: { dim: 8 }, savedAt: t }]);
    expect(out.scores).toHaveLength(1);
    expect(out.settings).toContainEqual({ key: 'backend', value: 'webgl' });
    expect(out.profile).toMatchObject({ id: 'visitor' });
    expect(out.catalogue).toHaveLength(2);
  });

  it('forget deletes the database and the memory, also in other tabs, and the forgotten view is not written again', async () => {
    const a = mk();
    const b = mk();
    a.recordView(snap('va', items(2, 10)));
    b.recordView(snap('vb', items(2, 10)));
    await Promise.all([a.flush(), b.flush()]);
    b.recordView(snap('vb', items(2, 50)));
    await a.forget();
    expect(await indexedDB.databases()).toEqual([]);
    a.recordView(snap('va', items(2, 99)));
    await b.flush();
    await a.flush();
    expect(await indexedDB.databases()).toEqual([]);
    // A new view is recorded again.
    a.recordView(snap('va2', items(1, 10)));
    await a.flush();
    expect((await read()).records.map((r) => r.viewId)).toEqual(['va2']);
  });
});

describe('closing tab', () => {
  /** The browser's localStorage, shared by the tabs of an origin (a Map behind the Storage interface). */
  const unsaved = (m: Map<string, string>) => [...m.keys()].filter((k) => k.includes(':unsaved:'));
  function localStore() {
    const m = new Map<string, string>();
    const ls = {
      get length() {
        return m.size;
      },
      key: (i: number) => [...m.keys()][i] ?? null,
      getItem: (k: string) => m.get(k) ?? null,
      setItem: (k: string, v: string) => void m.set(k, String(v)),
      removeItem: (k: string) => void m.delete(k),
      clear: () => m.clear(),
    };
    vi.stubGlobal(
      'localStorage',
      new Proxy(ls, {
        ownKeys: () => [...m.keys()],
        getOwnPropertyDescriptor: (_, k) =>
          m.has(k as string) ? { enumerable: true, configurable: true, value: m.get(k as string) } : undefined,
      }),
    );
    return m;
  }

  function mkLog(over: Partial<StoreOptions> = {}) {
    const l = createLog({
      retentionDays: 90,
      maxItemRecords: 50_000,
      report: vi.fn(),
      log: () => {},
      clock,
      flushIntervalMs: 1e9,
      ...over,
    });
    l.allow(true);
    stores.push(l);
    return l;
  }

  it('a hide flush leaves a synchronous copy that its completed transaction removes', async () => {
    const ls = localStore();
    const l = mkLog();
    l.recordView(snap('v1', items(2, 10)));
    expect(unsaved(ls)).toEqual([]);
    l.recordView(snap('v1', items(2, 20)), 'hide');
    // Before the log's chunk has even loaded.
    expect(unsaved(ls)).toEqual(['attnflow:unsaved:v1']);
    expect(JSON.parse(ls.get('attnflow:unsaved:v1')!).s.items.i1.attentionMs).toBe(21);
    await l.flush();
    expect(unsaved(ls)).toEqual([]);
    expect((await read()).records.map((r) => r.attentionMs)).toEqual([20, 21]);
  });

  it('a view of more than 1,000 items is left to IndexedDB alone: its copy would be a long task', async () => {
    const ls = localStore();
    const l = mkLog();
    l.recordView(snap('small', items(1000, 10)), 'hide');
    l.recordView(snap('big', items(1001, 10)), 'hide');
    expect(unsaved(ls)).toEqual(['attnflow:unsaved:small']);
    await l.flush();
    expect((await read()).records).toHaveLength(2001);
  });

  it('views a closed tab left behind are written by the next page, unless the log has a newer copy', async () => {
    const ls = localStore();
    // The log holds a copy of 'old' newer than the one left behind.
    const first = mk();
    first.recordView(snap('old', items(1, 80)));
    await first.flush();
    first.stop();
    ls.set('attnflow:unsaved:gone', JSON.stringify({ at: t - 5000, s: snap('gone', items(2, 40), { path: '/a?email=x' }) }));
    ls.set('attnflow:unsaved:old', JSON.stringify({ at: t - 5000, s: snap('old', items(1, 5)) }));
    ls.set('attnflow:unsaved:broken', '{not json');
    const next = mk();
    await next.db();
    const stored = await read();
    expect(stored.records.map((r) => `${r.viewId} ${r.itemId} ${r.attentionMs}`).sort()).toEqual(['gone i0 40', 'gone i1 41', 'old i0 80']);
    const gone = stored.views.find((v: any) => v.viewId === 'gone') as any;
    expect([gone.path, gone.updatedAt, itemsOf(gone)[0]!.firstAt]).toEqual(['/a', t - 5000, t - 5000]);
    expect(unsaved(ls)).toEqual([]);
  });

  it('a database another page holds (a transaction left in the back/forward cache): memory and copies until it answers, then all written', async () => {
    const ls = localStore();
    // Another page's connection, its transaction on the views kept going until released.
    const other = await openDB('attnflow', DB_VERSION, {
      upgrade: (d, from, _to, tx) => void migrate(d as never, from, DB_VERSION, tx as never),
    });
    let hold = true;
    const held = other.transaction('views', 'readwrite');
    const spin = (): void => void (hold && held.store.count().then(spin));
    spin();
    const logs: string[] = [];
    const l = mkLog({ answerMs: 50, log: (...a: unknown[]) => void logs.push(a.join(' ')) });
    l.recordView(snap('v1', items(2, 10)), 'hide');
    await l.flush();
    const during = await l.export();
    expect(during.storage).toBe('memory');
    expect(during.records.map((r) => r.attentionMs)).toEqual([10, 11]);
    expect(logs.some((x) => x.includes('does not answer'))).toBe(true);
    // What it will write later is copied meanwhile, as with a database that answers.
    l.recordView(snap('v1', items(2, 30)), 'hide');
    expect(JSON.parse(ls.get('attnflow:unsaved:v1')!).s.items.i1.attentionMs).toBe(31);
    hold = false;
    await held.done;
    other.close();
    for (let i = 0; i < 100 && unsaved(ls).length; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await read()).records.map((r) => r.attentionMs)).toEqual([30, 31]);
    expect(unsaved(ls)).toEqual([]);
    expect((await l.export()).storage).toBe('indexeddb');
    expect(logs.some((x) => x.includes('answers again'))).toBe(true);
  });

  it('forget removes the copies too, also those of other tabs, and the forgotten view is not copied again', async () => {
    const ls = localStore();
    const l = mkLog();
    l.recordView(snap('v1', items(1, 10)), 'hide');
    ls.set('attnflow:unsaved:another-tab', '{}');
    ls.set('unrelated', 'kept');
    await l.forget();
    l.recordView(snap('v1', items(1, 20)), 'hide');
    expect([...ls.keys()].filter((k) => !k.includes('-tabs:'))).toEqual(['unrelated']);
  });
});
