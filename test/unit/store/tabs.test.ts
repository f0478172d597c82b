import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IDBFactory } from 'fake-indexeddb';
import { createTabs } from '../../../src/store/tabs';
import { fakeLocks } from './locks';
import { createStore } from '../../../src/store';
import { createStoreExtras } from '../../../src/store/extras';

const closers: Array<{ close?(): void; stop?(): void }> = [];
beforeEach(() => vi.stubGlobal('indexedDB', new IDBFactory()));
afterEach(() => {
  closers.splice(0).forEach((c) => (c.close ?? c.stop)!.call(c));
  vi.unstubAllGlobals();
});
const tick = () => new Promise((r) => setTimeout(r, 20));

describe('leader election', () => {
  it('Web Locks: one leader at a time; the next tab takes over when it goes', async () => {
    const locks = fakeLocks();
    const a = createTabs('t1', () => {}, locks);
    const b = createTabs('t1', () => {}, locks);
    closers.push(a, b);
    const becameB = vi.fn();
    b.onLeader(becameB);
    await tick();
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    a.close();
    await tick();
    expect([a.isLeader(), b.isLeader()]).toEqual([false, true]);
    expect(becameB).toHaveBeenCalledTimes(1);
  });

  it('fallback without Web Locks: a lease in localStorage, taken over once it expires', async () => {
    const data = new Map<string, string>();
    const storage = () =>
      ({
        getItem: (k: string) => data.get(k) ?? null,
        setItem: (k: string, v: string) => data.set(k, v),
        removeItem: (k: string) => data.delete(k),
      }) as unknown as Storage;
    const a = createTabs('t2', () => {}, undefined, storage);
    const b = createTabs('t2', () => {}, undefined, storage);
    closers.push(a, b);
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    a.close();
    expect(data.size).toBe(0);
    await new Promise((r) => setTimeout(r, 2100));
    expect(b.isLeader()).toBe(true);
  });

  it('no Web Locks and no storage (sandboxed frame): the tab leads itself', () => {
    const a = createTabs(
      't3',
      () => {},
      undefined,
      () => {
        throw new DOMException('denied', 'SecurityError');
      },
    );
    closers.push(a);
    expect(a.isLeader()).toBe(true);
  });
});

describe('change notices between tabs', () => {
  it('weights and scores saved in one tab reach the others through BroadcastChannel', async () => {
    const opts = { retentionDays: 90, maxItemRecords: 100, report: () => {}, log: () => {}, clock: { now: Date.now, epoch: Date.now } };
    const locks = fakeLocks();
    const sa = createStore(opts);
    const sb = createStore(opts);
    sa.allow(true);
    sb.allow(true);
    const a = createStoreExtras(sa, { locks });
    const b = createStoreExtras(sb, { locks });
    closers.push(sa, sb, a, b);
    const seen: string[] = [];
    b.onChange('weights', (remote) => seen.push(`weights ${remote}`));
    a.onChange('weights', (remote) => seen.push(`own weights ${remote}`));
    b.onChange('scores', (remote) => seen.push(`scores ${remote}`));
    await a.put('weights', { name: 'scorer', data: new ArrayBuffer(8), meta: { v: 1 }, savedAt: 1 });
    await a.put('scores', { name: 'last', scores: { x: 1 }, savedAt: 1 });
    await tick();
    expect(seen.sort()).toEqual(['own weights false', 'scores true', 'weights true']);
    expect((await b.get('weights', 'scorer'))!.meta).toEqual({ v: 1 });
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
  });
});

describe('upkeep in the leader tab', () => {
  it('runs after another tab flushes, and only in the leader', async () => {
    const opts = { retentionDays: 90, maxItemRecords: 100, report: () => {}, log: () => {}, clock: { now: Date.now, epoch: Date.now } };
    const locks = fakeLocks();
    const sa = createStore(opts);
    const sb = createStore(opts);
    sa.allow(true);
    sb.allow(true);
    const a = createStoreExtras(sa, { locks, upkeepDelayMs: 10 });
    const b = createStoreExtras(sb, { locks, upkeepDelayMs: 10 });
    closers.push(sa, sb, a, b);
    const seen: string[] = [];
    a.onChange('profile', (remote) => seen.push(`a ${remote}`));
    b.onChange('profile', (remote) => seen.push(`b ${remote}`));
    await new Promise((r) => setTimeout(r, 100));
    seen.length = 0;
    sb.recordView({
      page: { viewId: 'vb', path: '/', startedAt: 1, engagedMs: 1000, visibleMs: 1000, scrollDepth: 1, rageClicks: 0, deadClicks: 0 },
      items: {
        x: {
          attentionMs: 900,
          visibleMs: 1000,
          viewableMs: 1000,
          hoverMs: 0,
          maxVisibleRatio: 1,
          clicks: 0,
          viewable: true,
          skipped: false,
          topics: ['jazz'],
          rageClicks: 0,
          deadClicks: 0,
        },
      },
    });
    await sb.flush();
    await new Promise((r) => setTimeout(r, 150));
    expect(seen.sort()).toEqual(['a false', 'b true']);
    expect((await b.get('profile', 'visitor'))!.affinities.jazz).toBeCloseTo(900, 3);
    expect((await b.get('catalogue', 'x'))!.topics).toEqual(['jazz']);
  });
});

describe('recent records', () => {
  it('reads only the newest views, newest first, in the database and in memory', async () => {
    for (const missing of [false, true]) {
      if (missing) vi.stubGlobal('indexedDB', undefined);
      let t = 1000;
      const clock = { now: () => t, epoch: () => t };
      const s = createStore({ retentionDays: 1e3, maxItemRecords: 100, report: () => {}, log: () => {}, clock });
      s.allow(true);
      const x = createStoreExtras(s);
      closers.push(s, x);
      for (let v = 0; v < 5; v++) {
        t += 1000;
        s.recordView({
          page: { viewId: `v${v}`, path: '/', startedAt: t, engagedMs: 1, visibleMs: 1, scrollDepth: 0, rageClicks: 0, deadClicks: 0 },
          items: {
            a: {
              attentionMs: v + 1,
              visibleMs: 1,
              viewableMs: 0,
              hoverMs: 0,
              maxVisibleRatio: 1,
              clicks: 0,
              viewable: false,
              skipped: false,
              topics: [],
              rageClicks: 0,
              deadClicks: 0,
            },
            b: {
              attentionMs: v + 1,
              visibleMs: 1,
              viewableMs: 0,
              hoverMs: 0,
              maxVisibleRatio: 1,
              clicks: 0,
              viewable: false,
              skipped: false,
              topics: [],
              rageClicks: 0,
              deadClicks: 0,
            },
          },
        });
        await s.flush();
      }
      const recent = await x.recent(3);
      expect(
        recent.map((r) => r.viewId),
        `IndexedDB missing: ${missing}`,
      ).toEqual(['v4', 'v4', 'v3', 'v3']);
    }
  });
});
