/**
 * The device side of the private attention reports (the `report` chunk, loaded only where the site
 * set `collectUrl`). Once a period has ended, the leader tab summarises that period's views from the
 * log, reads the collector's questions (`questions` beside `collectUrl`), answers one drawn at
 * random with randomized response (`buildReport`) and keeps the report in the log's settings:
 * the randomization happens once per period, so sending it again reveals nothing new. On page hide
 * the leader posts it with `fetch(..., { keepalive: true })`, which outlives the tab; a report whose
 * delivery is not confirmed goes again, unchanged, from a later page, and the collector keeps one
 * copy by its id. Nothing happens where storing is not allowed (consent, GPC, DNT) or where the log
 * cannot persist (in memory, every page would randomize the period afresh). Never throws into the
 * page: errors go to the tracker's `report`.
 */
import type { Clock } from '../lib/clock';
import { on } from '../lib/on';
import { itemsOf } from '../store/schema';
import type { Db, Store } from '../store/store';
import { createTabs, type LockManagerLike, type Tabs } from '../store/tabs';
import type { Log } from '../store/types';
import type { AttentionSnapshot, PersonalizeReport, ViewReason } from '../types';
import { answers } from './questions';
import { type ContainerEntry, containerViews, periodDay, periodOf, periodRange, summarize } from './summary';
import { buildReport, utcDay } from './values';

/** What the tracker lends the reports: narrow functions, never the tracker itself. */
export interface ReportsHost {
  /** Where reports are posted. */
  collectUrl: string;
  /** The privacy budget of each report. */
  collectEpsilon: number;
  /** UTC days per period. */
  collectPeriodDays: number;
  store: Log;
  /** True while storing is allowed (consent given, no GPC or DNT). */
  canStore(): boolean;
  report(error: unknown, where: string): void;
  log(...args: unknown[]): void;
  clock: Clock;
  /** Every snapshot the tracker hands out, with why. */
  onSnapshot(fn: (snapshot: AttentionSnapshot, reason: ViewReason) => void): () => void;
  /** Every `personalized` decision. */
  onPersonalized(fn: (report: PersonalizeReport) => void): () => void;
  /** Tests: the randomness (default the platform's cryptographic generator). */
  rand?: () => number;
  /** Tests: Web Locks for the leader election. */
  locks?: LockManagerLike;
  /** Tests: ms from start-up to preparing the report. Default 2000. */
  prepareDelayMs?: number;
}

/** The report of one period as the log keeps it, in the settings store. */
export interface ReportState {
  period: number;
  /** The report's JSON, exactly as posted. */
  body: string;
  /** Delivery confirmed (the request completed); an unconfirmed report goes again, unchanged. */
  sent: boolean;
}

/** Container views are kept as the decision is made; their attention is read from the view's records when the period is reported. */
export type { ContainerEntry };

/** Settings key of the report state. */
export const STATE_KEY = 'report';
/** Settings key of the container views kept until their period is reported. */
export const CONTAINERS_KEY = 'report:containers';
/** The collector accepts reports of the last 7 days. */
const MAX_AGE_DAYS = 7;
/** Container views kept, at most (oldest go first). */
const MAX_CONTAINER_ENTRIES = 5000;
const DAY_MS = 864e5;

export function startReports(host: ReportsHost): () => void {
  const days = host.collectPeriodDays;
  const stops: Array<() => void> = [];
  let tabs: Tabs | undefined;
  let store: Store | undefined;
  let state: ReportState | undefined;
  let preparing: Promise<void> | undefined;
  let sentHere = false;
  let stopped = false;
  // A period found without views: this page need not read the log for it again.
  let empty: number | undefined;
  // The containers of the latest decision and the arm it showed them in.
  let arms: Array<[string, 'p' | 'h', string[]]> = [];

  const fail = (where: string) => (error: unknown) => host.report(error, `reports: ${where}`);
  const target = () => periodOf(host.clock.epoch(), days) - 1;
  const db = async (): Promise<Db | undefined> => (host.canStore() ? (await host.store.ready())?.db() : undefined);

  /** Reads, then writes, one settings record in one transaction: `change` returns undefined to leave it. */
  async function update<T>(key: string, change: (value: T | undefined) => T | undefined): Promise<T | undefined> {
    const d = await db();
    if (!d) return undefined;
    const tx = d.transaction('settings', 'readwrite');
    const value = change((await tx.store.get(key))?.value as T | undefined);
    if (value !== undefined) await tx.store.put({ key, value });
    await tx.done;
    return value;
  }

  /** The collector's questions, `questions` beside `collectUrl`: public, the same for every device. */
  async function fetchQuestions(): Promise<string[]> {
    const url = new URL('questions', new URL(host.collectUrl, location.href)).href;
    const res = await fetch(url, { credentials: 'omit', referrerPolicy: 'no-referrer', cache: 'no-store' });
    if (!res.ok) throw new Error(`attnflow: ${url} answered ${res.status}`);
    const body = (await res.json()) as { format?: unknown; questions?: unknown };
    const questions = body?.questions;
    if (
      body?.format !== 'attnflow-questions' ||
      !Array.isArray(questions) ||
      !questions.length ||
      !questions.every((q) => answers(q) > 0)
    ) {
      throw new Error(`attnflow: ${url} is not a list of report questions`);
    }
    return questions as string[];
  }

  /** The report of the last period that ended, made once and kept; undefined when the period has no views. */
  async function prepare(): Promise<void> {
    const period = target();
    const d = await db();
    if (!d || !tabs?.isLeader() || stopped) return;
    const kept = (await d.get('settings', STATE_KEY))?.value as ReportState | undefined;
    if (kept && kept.period >= period) {
      state = kept;
      return;
    }
    await store?.flush();
    const [from, to] = periodRange(period, days);
    const views = (await d.getAllFromIndex('views', 'by-updated', IDBKeyRange.lowerBound(from))).filter(
      (v) => v.startedAt >= from && v.startedAt < to,
    );
    if (!views.length) {
      empty = period;
      return;
    }
    const records = new Map(views.map((v) => [v.viewId, itemsOf(v)]));
    const containers = containerViews(((await d.get('settings', CONTAINERS_KEY))?.value ?? []) as ContainerEntry[], records);
    const summary = summarize(
      views.map((v) => ({ scrollDepth: v.scrollDepth, items: records.get(v.viewId)! })),
      containers,
    );
    const questions = await fetchQuestions();
    const report = buildReport(summary, {
      epsilon: host.collectEpsilon,
      questions,
      day: periodDay(period, days),
      ...(host.rand && { rand: host.rand }),
    });
    // Another tab may have made this period's report meanwhile: the first one made stays.
    state = await update<ReportState>(STATE_KEY, (now) =>
      now && now.period >= period ? now : { period, body: JSON.stringify(report), sent: false },
    );
    if (!state) return;
    host.log('report prepared', { day: report.day, epsilon: report.epsilon, views: views.length });
  }
  const prepareSoon = () => {
    if (stopped || (state && state.period >= target()) || empty === target()) return;
    preparing ??= prepare()
      .catch(fail('preparing'))
      .finally(() => (preparing = undefined));
  };

  /** On page hide: the kept report, if this tab leads and it has not gone yet. Synchronous up to `fetch`. */
  function send(): void {
    const s = state;
    const due = s && !s.sent && periodDay(s.period, days) >= utcDay(host.clock.epoch() - MAX_AGE_DAYS * DAY_MS);
    if (!due || sentHere || stopped || !host.canStore() || !tabs?.isLeader()) {
      // Consent given since start-up, a period ended while the tab stayed open: ready for a later hide.
      prepareSoon();
      return;
    }
    sentHere = true;
    s.sent = true;
    fetch(host.collectUrl, {
      method: 'POST',
      body: s.body,
      keepalive: true,
      // A simple request (text/plain, no credentials, no referrer): no preflight, no cookie, no page URL.
      mode: 'no-cors',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      cache: 'no-store',
    })
      .then(
        () => {
          host.log('report sent', { day: JSON.parse(s.body).day });
          return update<ReportState>(STATE_KEY, (now) => (now?.period === s.period ? { ...now, sent: true } : undefined));
        },
        (error) => {
          s.sent = false;
          host.log('report not sent; it goes again from a later page', error);
        },
      )
      .catch(fail('sending'));
  }

  /** Keeps which containers the view showed, in which arm, until its period is reported. */
  function keep(s: AttentionSnapshot): void {
    const viewId = s.page.viewId;
    const day = Math.floor(s.page.startedAt / DAY_MS);
    const entries = arms.map(([container, arm, ids]): ContainerEntry => [day, viewId, container, arm, ids]);
    const oldest = Math.floor(host.clock.epoch() / DAY_MS) - 2 * days - 1;
    void update<ContainerEntry[]>(CONTAINERS_KEY, (now = []) =>
      [...now.filter((e) => e[1] !== viewId && e[0] >= oldest), ...entries].slice(-MAX_CONTAINER_ENTRIES),
    ).catch(fail('keeping container views'));
  }

  // A decision is kept with the next snapshot, which names the view (ticks come within a second):
  // snapshots are taken only then, not on every tick.
  let keptFor = '';
  let listening: (() => void) | undefined;
  const once = (s: AttentionSnapshot) => {
    listening?.();
    listening = undefined;
    const key = JSON.stringify([s?.page.viewId, arms]);
    if (!s || !arms.length || !host.canStore() || key === keptFor) return;
    keptFor = key;
    keep(s);
  };
  stops.push(
    host.onPersonalized((r) => {
      arms = r.containers
        .filter((c) => r.holdout || c.applied)
        .map((c): [string, 'p' | 'h', string[]] => [c.key, r.holdout ? 'h' : 'p', [...c.order].sort()]);
      listening ??= host.onSnapshot(once);
    }),
    () => listening?.(),
  );
  if (typeof document !== 'undefined') {
    stops.push(
      on(document, 'visibilitychange', () => document.visibilityState === 'hidden' && send()),
      on(window, 'pagehide', send),
    );
  }

  const timer = setTimeout(
    () =>
      void host.store
        .ready()
        .then((s) => {
          if (!s || stopped) return;
          store = s;
          tabs = createTabs(`${s.options.name ?? 'attnflow'}-report`, () => {}, host.locks);
          tabs.onLeader(prepareSoon);
        })
        .catch(fail('starting')),
    host.prepareDelayMs ?? 2000,
  );

  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const stop of stops) stop();
    tabs?.close();
  };
}
