// @vitest-environment happy-dom
/**
 * The back/forward cache: a page that enters it aborts its transactions still going, which a
 * browser may keep there with the page (WebKit does) and which would hold every other page's
 * transactions on the same stores; a write that has issued every put is let finish. Shown again,
 * the page writes what was cut short.
 */
import { IDBFactory } from 'fake-indexeddb';
import { openDB } from 'idb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createStore } from '../../../src/store';
import { itemsOf, type StoredView } from '../../../src/store/schema';
import type { AttentionSnapshot } from '../../../src/types';

let t = Date.UTC(2026, 0, 1);
const clock = { now: () => t, epoch: () => t };
const stops: Array<() => void> = [];

function mk() {
  const report = vi.fn();
  const s = createStore({ retentionDays: 90, maxItemRecords: 50_000, report, log: () => {}, clock, flushIntervalMs: 1e9 });
  s.allow(true);
  stops.push(() => s.stop());
  return Object.assign(s, { report });
}

function snap(viewId: string, ms: number): AttentionSnapshot {
  const item = {
    attentionMs: ms,
    visibleMs: ms,
    viewableMs: ms,
    hoverMs: 0,
    maxVisibleRatio: 1,
    clicks: 0,
    viewable: true,
    skipped: false,
    topics: ['tech'],
    rageClicks: 0,
    deadClicks: 0,
  };
  return {
    page: { engagedMs: ms, visibleMs: ms, scrollDepth: 0.5, startedAt: t, viewId, path: '/', rageClicks: 0, deadClicks: 0 },
    items: { a: item, b: { ...item, attentionMs: ms + 1 } },
  };
}

const transition = (type: 'pagehide' | 'pageshow', persisted: boolean): void => {
  const e = new Event(type);
  Object.defineProperty(e, 'persisted', { value: persisted });
  window.dispatchEvent(e);
};

/** A transaction on the store's own connection that waits on each result for its next request, as a fold or a recovery does. */
function chained(d: Awaited<ReturnType<ReturnType<typeof mk>['db']>>) {
  const tx = d!.transaction('views', 'readwrite');
  let going = true;
  const spin = (): void => void (going && tx.store.count().then(spin, () => {}));
  spin();
  const ended = tx.done.then(
    () => 'complete',
    (error: Error) => error.name,
  );
  return { ended, stop: () => void (going = false) };
}

/** Another page's write on the views: how it ended. */
async function otherPageWrites(): Promise<string> {
  const db = await openDB('attnflow');
  const tx = db.transaction('views', 'readwrite');
  void tx.store.put({ viewId: 'other', updatedAt: 0, items: [] } as never);
  const out = await Promise.race([tx.done.then(() => 'written'), new Promise<string>((r) => setTimeout(() => r('held'), 500))]);
  db.close();
  return out;
}

async function stored(): Promise<string[]> {
  const db = await openDB('attnflow');
  const views = (await db.getAll('views')) as StoredView[];
  db.close();
  return views
    .filter((v) => itemsOf(v).length)
    .map(
      (v) =>
        `${v.viewId} ${itemsOf(v)
          .map((r) => r.attentionMs)
          .join(',')}`,
    );
}

beforeEach(() => {
  vi.stubGlobal('indexedDB', new IDBFactory());
  t = Date.UTC(2026, 0, 1);
});
afterEach(() => {
  stops.splice(0).forEach((s) => s());
  vi.unstubAllGlobals();
});

describe('back/forward cache', () => {
  it('entering it aborts the transactions still going, quietly; the write that issued every put finishes', async () => {
    const s = mk();
    s.recordView(snap('v1', 100));
    await s.flush();
    const going = chained(await s.db());
    // The page is left for the cache with a view in progress: its hide flush issues every put at once.
    s.recordView(snap('v2', 200), 'hide');
    transition('pagehide', true);
    expect(await going.ended).toBe('AbortError');
    expect(await otherPageWrites()).toBe('written');
    expect(await stored()).toEqual(['v1 100,101', 'v2 200,201']);
    expect(s.report).not.toHaveBeenCalled();
  });

  it('a page that is only hidden or unloads keeps its transactions', async () => {
    const s = mk();
    await s.flush();
    const going = chained(await s.db());
    transition('pagehide', false);
    expect(await otherPageWrites()).toBe('held');
    going.stop();
    expect(await going.ended).toBe('complete');
  });

  it('shown again, it writes what the cache cut short', async () => {
    const s = mk();
    await s.flush();
    transition('pagehide', true);
    // A view recorded while frozen (the tracker's last snapshot) waits for the page to be shown.
    s.recordView(snap('v3', 300));
    expect(await stored()).toEqual([]);
    transition('pageshow', true);
    for (let i = 0; i < 50 && !(await stored()).length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await stored()).toEqual(['v3 300,301']);
  });
});
