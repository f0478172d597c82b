// @vitest-environment happy-dom
import { IDBFactory, IDBIndex } from 'fake-indexeddb';
import { openDB } from 'idb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CONTAINERS_KEY, type ContainerEntry, type ReportState, STATE_KEY, startReports } from '../../../src/report/device';
import { validateReport } from '../../../src/report/estimate';
import { questionsOf } from '../../../src/report/questions';
import { periodDay, periodOf, periodRange, summarize } from '../../../src/report/summary';
import { createLog } from '../../../src/store/log';
import type { Log } from '../../../src/store/types';
import type { AttentionSnapshot, ItemAttention, ItemRecord, PersonalizeReport, ViewReason } from '../../../src/types';
import { fakeLocks } from '../store/locks';

const DAY = 864e5;
// Noon, UTC, on 10 March 2026.
const TODAY = Date.UTC(2026, 2, 10, 12);
let t = TODAY;
const clock = { now: () => t, epoch: () => t };

function item(ms: number, extra: Partial<ItemAttention> = {}): ItemAttention {
  return {
    attentionMs: ms,
    visibleMs: ms + 500,
    viewableMs: ms,
    hoverMs: 0,
    maxVisibleRatio: 1,
    clicks: 0,
    viewable: ms >= 1000,
    skipped: ms < 1000,
    topics: ['news'],
    rageClicks: 0,
    deadClicks: 0,
    ...extra,
  };
}

function snap(viewId: string, items: Record<string, ItemAttention>, scrollDepth = 0.5): AttentionSnapshot {
  return {
    page: { engagedMs: 1000, visibleMs: 1000, scrollDepth, startedAt: t, viewId, path: '/', rageClicks: 0, deadClicks: 0 },
    items,
  };
}

/** One tab: its log, its reports and what they posted. */
interface Tab {
  log: Log;
  stop(): void;
  snapshot(s: AttentionSnapshot, reason: ViewReason): void;
  personalized(r: PersonalizeReport): void;
  /** Snapshot listeners the reports hold now. */
  listeners(): number;
  errors: unknown[];
}

const tabs: Tab[] = [];
let locks = fakeLocks();
let allowed = true;
/** The collector's questions, as `GET /questions` serves them. */
let questions = questionsOf({ items: ['a', 'b', 'c0', 'c1', 'c2'].map((id) => ({ id })), containers: ['main'] });
/** A collector: its questions, and 202 to every report. */
const collector = async (url: string, init?: RequestInit) =>
  init?.method === 'POST'
    ? new Response(null, { status: 202 })
    : url === 'https://collect.example/questions'
      ? Response.json({ format: 'attnflow-questions', version: 2, questions })
      : new Response(null, { status: 404 });
const fetchMock = vi.fn(collector);

function tab(options: { periodDays?: number; epsilon?: number; rand?: () => number } = {}): Tab {
  const errors: unknown[] = [];
  const report = (e: unknown) => errors.push(e);
  const log = createLog({ retentionDays: 90, maxItemRecords: 50_000, report, log: () => {}, clock, flushIntervalMs: 1e9 });
  log.allow(allowed);
  const sinks = new Set<(s: AttentionSnapshot, r: ViewReason) => void>();
  const decisions = new Set<(r: PersonalizeReport) => void>();
  const stop = startReports({
    collectUrl: 'https://collect.example/report',
    collectEpsilon: options.epsilon ?? 1,
    collectPeriodDays: options.periodDays ?? 1,
    store: log,
    canStore: () => allowed,
    report,
    log: () => {},
    clock,
    onSnapshot: (fn) => (sinks.add(fn), () => void sinks.delete(fn)),
    onPersonalized: (fn) => (decisions.add(fn), () => void decisions.delete(fn)),
    locks,
    prepareDelayMs: 0,
    ...(options.rand && { rand: options.rand }),
  });
  const self: Tab = {
    log,
    errors,
    stop: () => (stop(), log.stop()),
    snapshot(s, r) {
      log.recordView(s, r);
      for (const fn of sinks) fn(s, r);
    },
    personalized: (r) => decisions.forEach((fn) => fn(r)),
    listeners: () => sinks.size,
  };
  tabs.push(self);
  return self;
}

/** Yesterday's views, recorded by a tab of yesterday. */
async function yesterday(views = 3): Promise<void> {
  t = TODAY - DAY;
  const old = tab();
  for (let v = 0; v < views; v++)
    old.snapshot(snap(`y${v}`, { a: item(4000), b: item(300), [`c${v}`]: item(1500, { clicks: 1 }) }, 0.3 * v), 'end');
  await old.log.flush();
  old.stop();
  t = TODAY;
}

const hide = () => window.dispatchEvent(new Event('pagehide'));
const settle = () => new Promise((r) => setTimeout(r, 30));
/** Waits until the tab's report for the last period is prepared. */
const prepared = (log: Log) =>
  vi.waitFor(async () => {
    const db = await (await log.ready())!.db();
    expect((await db!.get('settings', STATE_KEY))?.value).toBeDefined();
  });
const state = async (log: Log) => (await (await (await log.ready())!.db())!.get('settings', STATE_KEY))?.value as ReportState | undefined;
const posts = () => fetchMock.mock.calls.filter(([, init]) => init?.method === 'POST');
/** Drops the kept report, as if the period had not been reported. */
async function deleteReport(): Promise<void> {
  const db = await openDB('attnflow');
  await db.delete('settings', STATE_KEY);
  db.close();
}
const bodies = () => posts().map(([, init]) => init!.body as string);

beforeEach(() => {
  vi.stubGlobal('indexedDB', new IDBFactory());
  vi.stubGlobal('fetch', fetchMock);
  fetchMock.mockClear();
  fetchMock.mockImplementation(collector);
  questions = questionsOf({ items: ['a', 'b', 'c0', 'c1', 'c2'].map((id) => ({ id })), containers: ['main'] });
  locks = fakeLocks();
  allowed = true;
  t = TODAY;
});
afterEach(() => {
  tabs.splice(0).forEach((x) => x.stop());
  vi.unstubAllGlobals();
});

describe('periods', () => {
  it('cuts time into runs of UTC days from the epoch; a report carries its period’s last day', () => {
    expect(periodOf(TODAY, 1)).toBe(Math.floor(TODAY / DAY));
    expect(periodDay(periodOf(TODAY, 1) - 1, 1)).toBe('2026-03-09');
    const week = periodOf(TODAY, 7);
    const [from, to] = periodRange(week - 1, 7);
    expect(to - from).toBe(7 * DAY);
    expect(to).toBeLessThanOrEqual(TODAY);
    expect(TODAY - to).toBeLessThan(7 * DAY);
    expect(periodDay(week - 1, 7)).toBe(new Date(to - DAY).toISOString().slice(0, 10));
  });

  it('summarises views: each item once with its counts summed, each view’s depth, the container views', () => {
    const r = (itemId: string, attentionMs: number, extra: Partial<ItemRecord> = {}) =>
      ({ itemId, attentionMs, visibleMs: 1, viewable: true, skipped: false, clicks: 0, ...extra }) as ItemRecord;
    const s = summarize(
      [
        { scrollDepth: 0.2, items: [r('a', 3000), r('b', 100, { skipped: true }), r('off', 0, { visibleMs: 0 })] },
        { scrollDepth: 1, items: [r('a', 500, { clicks: 2, viewable: false }), r('b', 200, { skipped: true })] },
      ],
      [{ container: 'main', arm: 'h', attentionMs: 900 }],
    );
    expect(s.depths).toEqual([0.2, 1]);
    expect(s.containers).toEqual([{ container: 'main', arm: 'h', attentionMs: 900 }]);
    expect(s.items).toEqual([
      { itemId: 'a', views: 2, viewable: 1, attended: 2, skipped: 0, clicks: 2, attentionMs: 3500 },
      { itemId: 'b', views: 2, viewable: 2, attended: 0, skipped: 2, clicks: 0, attentionMs: 300 },
    ]);
  });
});

describe('reports from the device', () => {
  it('makes one report of the last period, posts it once on page hide as a simple keepalive request, and not again', async () => {
    await yesterday();
    const a = tab();
    await prepared(a.log);
    hide();
    hide();
    document.dispatchEvent(new Event('visibilitychange'));
    await settle();
    expect(posts()).toHaveLength(1);
    const [url, init] = posts()[0]! as [string, RequestInit];
    expect(url).toBe('https://collect.example/report');
    expect(init).toMatchObject({ method: 'POST', keepalive: true, mode: 'no-cors', credentials: 'omit', referrerPolicy: 'no-referrer' });
    expect(init.headers).toBeUndefined();
    const checked = validateReport(init.body, TODAY);
    expect(checked.ok).toBe(true);
    expect(Object.keys(JSON.parse(init.body as string)).sort()).toEqual(['day', 'epsilon', 'format', 'id', 'q', 'version', 'y']);
    expect(JSON.parse(init.body as string)).toMatchObject({ day: '2026-03-09', epsilon: 1 });
    expect(questions).toContain(JSON.parse(init.body as string).q);
    // The questions were read once, without credentials or referrer.
    const gets = fetchMock.mock.calls.filter(([, i]) => i?.method !== 'POST');
    expect(gets).toHaveLength(1);
    expect(gets[0]![1]).toMatchObject({ credentials: 'omit', referrerPolicy: 'no-referrer' });
    await vi.waitFor(async () => expect((await state(a.log))?.sent).toBe(true));
    a.stop();

    // The next page of the day: the period is reported.
    const b = tab();
    await settle();
    hide();
    await settle();
    expect(posts()).toHaveLength(1);
    expect(a.errors.concat(b.errors)).toEqual([]);
  });

  it('randomizes a period once: an unconfirmed report goes again unchanged, from a later page', async () => {
    await yesterday();
    fetchMock.mockImplementation(async (url, init) => {
      if (init?.method === 'POST') throw new TypeError('Failed to fetch');
      return collector(url, init);
    });
    const a = tab();
    await prepared(a.log);
    hide();
    hide();
    await settle();
    expect(posts()).toHaveLength(1);
    expect((await state(a.log))?.sent).toBe(false);
    a.stop();
    fetchMock.mockImplementation(collector);
    const b = tab();
    await prepared(b.log);
    await settle();
    hide();
    await settle();
    expect(bodies()).toHaveLength(2);
    expect(bodies()[1]).toBe(bodies()[0]);
  });

  it('sends nothing for a period without views, nor while storing is not allowed', async () => {
    const reads = vi.spyOn(IDBIndex.prototype, 'getAll');
    const a = tab();
    await settle();
    hide();
    await settle();
    expect(fetchMock).not.toHaveBeenCalled();
    // The period was found empty once: later hides of the page do not read the log again.
    const read = reads.mock.calls.length;
    expect(read).toBeGreaterThan(0);
    hide();
    document.dispatchEvent(new Event('visibilitychange'));
    await settle();
    expect(reads.mock.calls.length).toBe(read);
    reads.mockRestore();
    a.stop();

    await yesterday();
    allowed = false;
    const b = tab();
    await settle();
    hide();
    await settle();
    expect(fetchMock).not.toHaveBeenCalled();
    b.stop();
    const db = await openDB('attnflow');
    expect(await db.get('settings', STATE_KEY)).toBeUndefined();
    expect(await db.count('views')).toBe(3);
    db.close();
  });

  it('only the leader tab sends, one report for the period across tabs', async () => {
    await yesterday();
    const a = tab();
    const b = tab();
    await prepared(a.log);
    await settle();
    hide();
    await settle();
    expect(posts()).toHaveLength(1);
    // The leader goes; the other tab takes over and finds the period reported.
    a.stop();
    await settle();
    hide();
    await settle();
    expect(posts()).toHaveLength(1);
    expect((await state(b.log))?.sent).toBe(true);
  });

  it('covers a whole period of several days, reported on its last day', async () => {
    t = periodRange(periodOf(TODAY, 7) - 1, 7)[0] + DAY / 2;
    const old = tab({ periodDays: 7 });
    old.snapshot(snap('w1', { a: item(5000) }), 'end');
    await old.log.flush();
    old.stop();
    t = TODAY;
    const a = tab({ periodDays: 7 });
    await prepared(a.log);
    hide();
    await settle();
    const body = JSON.parse(bodies()[0]!);
    expect(body.day).toBe(periodDay(periodOf(TODAY, 7) - 1, 7));
    expect(validateReport(body, TODAY).ok).toBe(true);
  });

  it('keeps each view’s attention to its personalized containers, by arm, and reports them with the period', async () => {
    t = TODAY - DAY;
    const a = tab();
    const decision = (holdout: boolean): PersonalizeReport =>
      ({
        source: 'profile',
        modelWeight: 0,
        seed: 1,
        holdout,
        attended: 0,
        scores: {},
        variants: [],
        containers: [{ key: 'main', order: ['a', 'b'], original: ['a', 'b'], shown: ['a', 'b'], hidden: [], kept: [], applied: true }],
      }) as unknown as PersonalizeReport;
    // No decision, no snapshot taken for the reports: ticks cost them nothing.
    expect(a.listeners()).toBe(0);
    a.personalized(decision(false));
    expect(a.listeners()).toBe(1);
    // Kept with the first snapshot after the decision, a tick: the page need not live to its end.
    a.snapshot(snap('p1', { a: item(2500), b: item(1500), z: item(9000) }), 'tick');
    // Kept: the reports take no more snapshots until the next decision.
    expect(a.listeners()).toBe(0);
    a.snapshot(snap('p1', { a: item(3000), b: item(1500), z: item(9000) }), 'end');
    a.personalized(decision(true));
    a.snapshot(snap('h1', { a: item(700), z: item(100) }), 'end');
    // A view after a navigation, with no decision yet: nothing kept.
    a.snapshot(snap('n1', { a: item(5000) }), 'end');
    await a.log.flush();
    await vi.waitFor(async () => {
      const db = await (await a.log.ready())!.db();
      const kept = (await db!.get('settings', CONTAINERS_KEY))?.value as ContainerEntry[];
      expect(kept).toEqual([
        [Math.floor(t / DAY), 'p1', 'main', 'p', ['a', 'b']],
        [Math.floor(t / DAY), 'h1', 'main', 'h', ['a', 'b']],
      ]);
    });
    a.stop();
    t = TODAY;
    // The report answers the question it drew from what the period kept: asked for attention per
    // personalized view (4,500 ms against a 30 s cap), its coin comes up 1 below 0.15; kept at ε = 8.
    questions = ['o\tmain\tp'];
    for (const [coin, expected] of [
      [0.14, 1],
      [0.16, 0],
    ] as const) {
      const draws = [0, coin, 0];
      const b = tab({ epsilon: 8, rand: () => draws.shift() ?? Math.random() });
      await prepared(b.log);
      expect(JSON.parse((await state(b.log))!.body)).toMatchObject({ q: 'o\tmain\tp', y: expected });
      b.stop();
      await deleteReport();
    }
    // Asked whether it had a held-out view: it had.
    questions = ['n\tmain\th'];
    const draws = [0, 0];
    const c = tab({ epsilon: 8, rand: () => draws.shift() ?? Math.random() });
    await prepared(c.log);
    expect(JSON.parse((await state(c.log))!.body)).toMatchObject({ q: 'n\tmain\th', y: 1 });
  });
});
