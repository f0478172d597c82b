import { createEmitter } from './lib/emitter';
import { systemClock, type Clock } from './lib/clock';
import { createLogger } from './lib/logger';
import { stopAll } from './lib/on';
import { resolveOptions } from './options';
import { createAccount, type ViewMeta } from './attention/account';
import { observeActivity } from './capture/activity';
import { loadChunk } from './chunks/load';
import { observeClicks, type ClickKind } from './capture/clicks';
import { observeHover } from './capture/hover';
import { itemsAt, observeItems } from './capture/items';
import { newViewId, observeNavigation, viewKey } from './capture/navigation';
import { observePage } from './capture/page';
import { observeVisibility, type Placement } from './capture/visibility';
import { privacySignal } from './store/privacy';
import { createLog } from './store/log';
import type { StoreOptions } from './store/store';
import { wirePersonalization } from './personalize/wire';
import type { Attention, AttentionEvents, AttentionOptions, AttentionSnapshot, ViewReason } from './types';

/** Places an item of several boxes, or any item while the page is zoomed. */
type Measure = (els: Element[]) => Placement | null;

/** Receives every snapshot the tracker hands out: each 'attention' tick (≤ 1/s), page hide, end of a view. */
export type ViewSink = (snapshot: AttentionSnapshot, reason: ViewReason) => void;

/** Internal hooks for tests: a fake clock. Not part of the public API. */
export interface TrackerInternals {
  clock?: Clock;
  /** Store settings for tests: flush interval, database name. */
  store?: Partial<StoreOptions>;
}

/**
 * Starts measuring attention on the page. Throws AttnflowConfigError on bad options;
 * after that it never throws into the page and reports through `onError`.
 */
export function createAttention(options?: AttentionOptions, internals: TrackerInternals = {}): Attention {
  const opts = resolveOptions(options);
  const clock = internals.clock ?? systemClock;
  const log = createLogger(opts.debug);
  const report = (error: unknown, where: string) => {
    log('error in', where, error);
    try {
      opts.onError?.(error);
    } catch {
      // The integrator's own handler failing must not reach the page either.
    }
    // An 'error' listener that throws is reported to onError only, not to itself again.
    if (where !== 'listener for "error"') emitter.emit('error', error);
  };
  const emitter = createEmitter<AttentionEvents>(report);
  const stops: Array<() => void> = [];
  let consented = !opts.requireConsent;
  let stopped = false;

  const dom = typeof document !== 'undefined';
  const now = () => clock.now();
  const view = (): ViewMeta => ({ startedAt: clock.epoch(), viewId: newViewId(), path: dom ? location.pathname : '' });
  const account = createAccount(opts.idleAfterMs, now(), view(), !dom || document.visibilityState === 'visible');
  const snapshot = (): AttentionSnapshot => account.snapshot(now());

  // The on-device log. Consent and the browser's privacy signals gate it; snapshots reach it first.
  const signal = privacySignal(opts.respectGpc, opts.respectDoNotTrack);
  const canStore = () => consented && !signal;
  const store = createLog({ ...opts, report, log, clock, ...internals.store });
  store.allow(canStore());

  // The one place a snapshot leaves the tracker: the log first, then other sinks (personalization),
  // then 'attention' listeners. A tick gives the log only the items that changed since the last
  // one, so its cost follows what is on screen, not every item seen; hides and ends, which the log
  // copies to localStorage, go whole. The whole snapshot is made only when someone takes it.
  const sinks: ViewSink[] = [];
  const handOut = (reason: ViewReason) => {
    account.tick(now());
    const tick = reason === 'tick';
    const s = !tick || sinks.length || emitter.has('attention') ? snapshot() : undefined;
    for (const sink of [(x: AttentionSnapshot, r: ViewReason) => store.recordView(tick ? account.snapshot(now(), true) : x, r), ...sinks]) {
      try {
        sink(s!, reason);
      } catch (error) {
        report(error, 'view sink');
      }
    }
    if (s) emitter.emit('attention', s);
  };

  // 'attention' at most once a second, and only while the page is visible with an item on screen.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    timer = undefined;
    if (account.tick(now())) {
      handOut('tick');
      schedule();
    }
  };
  const schedule = () => {
    if (!timer && !stopped && account.busy()) timer = setTimeout(tick, 1000);
  };
  // Everything the page calls back into: errors are reported, never thrown into the page.
  const safe =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A) => {
      try {
        fn(...args);
        schedule();
      } catch (error) {
        report(error, 'capture');
      }
    };

  // The elements of each item found by detection, and for items of several elements (headed
  // blocks) how to place them. Marked items are known by their attribute.
  const items = new Map<string, [Element[], Measure?]>();
  if (dom) {
    const known = new WeakMap<Element, string>();
    // The elements IntersectionObserver sees in the layout viewport; placed again as the visual one pans.
    const inView = new Set<Element>();
    // Set while the page is pinch-zoomed: then every item is placed by its boxes in the visual viewport.
    let zoomed: Measure | undefined;
    const elsOf = (id: string) => items.get(id)?.[0] || [...inView].filter((e) => known.get(e) === id);
    // The registry's size when it was last rid of items no longer in the document (an endless feed).
    let kept = 50;
    // Items placed by their boxes are placed once per batch of intersection entries, however many
    // of their elements moved in it: a scrolled block's edges change in both observers each frame.
    const due = new Map<string, number>();
    const placeDue = safe(() => {
      due.forEach((t, id) => {
        const measure = items.get(id)?.[1] ?? zoomed;
        if (measure) account.place(t, id, measure(elsOf(id)));
      });
      due.clear();
    });
    const place = (t: number, id: string, p: Placement | null) => {
      const [, measure = zoomed] = items.get(id) ?? [];
      if (!measure) return account.place(t, id, p);
      if (!due.size) queueMicrotask(placeDue);
      due.set(id, t);
    };
    const vis = observeVisibility(
      safe((el, p, time) => {
        const id = known.get(el);
        p?.ratio ? inView.add(el) : inView.delete(el);
        // The browser's own time of the change when our clock is its clock: callbacks come late under load.
        if (id) place(clock === systemClock ? Math.min(time, now()) : now(), id, p);
      }),
    );
    const click = safe((el: Element, kind: ClickKind = 'clicks') => account.click(itemsAt(known, el), kind));
    const late: Array<() => void> = [];
    let key = viewKey();
    let hidden = false;
    stops.push(
      () => vis?.stop(),
      observeItems(
        safe((el, id, topics, els, measure) => {
          account.add(id, topics);
          if (els) {
            items.set(id, [els, measure]);
            if (items.size > 2 * kept) {
              items.forEach(([e], i) => e.some((x) => x.isConnected) || items.delete(i));
              kept = items.size;
            }
          }
          for (const m of els ?? [el]) known.set(m, id), vis?.watch(m);
        }),
        { root: opts.root, known, report: (e) => report(e, 'loading item detection') },
      ),
      // The hottest path (every pointer move): plain arithmetic that cannot throw, and a timer
      // only when the input ends an idle spell.
      observeActivity(() => account.input(now()) && schedule()),
      observePage(
        safe((visible) => {
          account.page(now(), visible);
          if (!visible && !hidden) handOut('hide');
          hidden = !visible;
        }),
      ),
      observeHover(safe((el) => account.hover(now(), itemsAt(known, el)))),
      observeClicks(click),
      observeNavigation(
        safe(() => {
          if (viewKey() === key) return;
          key = viewKey();
          handOut('end');
          account.reset(now(), view());
        }),
      ),
      () => clearTimeout(timer),
      () => stopAll(late),
    );
    // Rage and dead clicks, playing media and scroll depth start a moment later, from their own chunk.
    loadChunk('capture')
      .then(
        (m) =>
          stopped ||
          late.push(
            m.observeFrustration(click),
            m.observeMedia(safe((playing) => account.media(now(), playing))),
            m.observeScroll(safe((depth) => account.depth(depth))),
            m.observeZoom(
              safe((z) => {
                zoomed = z ? m.placeBoxes : undefined;
                const t = now();
                for (const id of new Set([...inView].map((el) => known.get(el)!))) place(t, id, m.placeBoxes(elsOf(id)));
              }),
            ),
          ),
      )
      .catch((e) => report(e, 'loading the capture chunk'));
  }

  stops.push(store.stop);

  const onSnapshot = (fn: ViewSink) => (sinks.push(fn), () => void sinks.splice(sinks.indexOf(fn) >>> 0, 1));

  // Personalization: the cached order before first paint here, the rest, with the model, in a lazily loaded chunk.
  const personal = wirePersonalization({
    ...opts,
    root: opts.root ?? (globalThis as { document?: ParentNode }).document!,
    snapshot,
    onSnapshot,
    emit: (r) => emitter.emit('personalized', r),
    report,
    log,
    canStore,
    store,
    onScores: (s) => emitter.emit('scores', s),
    items: () => items,
  });
  stops.push(personal.stop);

  // Private reports to the site, only where it asked for them: their own chunk.
  if (opts.collectUrl)
    loadChunk('report')
      .then(
        (m) =>
          stopped ||
          stops.push(
            m.startReports({
              ...(opts as typeof opts & { collectUrl: string }),
              store,
              canStore,
              report,
              log,
              clock,
              onSnapshot,
              onPersonalized: (fn) => emitter.on('personalized', fn),
            }),
          ),
      )
      .catch((e) => report(e, 'loading the report chunk'));
  const forget = () => (personal.forget(), store.forget());

  log('started', { ...opts, onError: undefined, root: undefined });

  return {
    snapshot,
    on: (type, fn) => emitter.on(type, fn),
    personalize: personal.personalize,
    explain: personal.explain,
    scores: personal.scores,
    consent(granted) {
      consented = Boolean(granted);
      log('consent', consented, signal ? '(overridden by GPC/DNT)' : '');
      store.allow(canStore());
      // Ticks give the log only what changed: from consent on, it starts from the whole view.
      if (consented) store.recordView(snapshot());
      else void forget();
    },
    // Everything measured up to now, not only up to the last 1 s tick.
    flush: () => (store.recordView(snapshot()), store.flush()),
    export: () => (store.recordView(snapshot()), store.export()),
    forget,
    stop() {
      if (stopped) return;
      handOut('end');
      stopped = true;
      stopAll(stops);
      emitter.clear();
      log('stopped');
    },
  };
}
