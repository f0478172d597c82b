import { createEmitter } from './lib/emitter';
import { systemClock, type Clock } from './lib/clock';
import { createLogger } from './lib/log';
import { stopAll } from './lib/on';
import { resolveOptions } from './options';
import { privacySignal } from './privacy/signals';
import { createStore, type StoreOptions } from './store';
import type { Attention, AttentionEvents, AttentionOptions, AttentionSnapshot, ViewReason } from './types';

/** Receives every snapshot the tracker hands out: each 'attention' tick (≤ 1/s), page hide, end of a view. */
export type ViewSink = (snapshot: AttentionSnapshot, reason: ViewReason) => void;

/** Internal hooks for tests: a fake clock. Not part of the public API. */
export interface TrackerInternals {
  clock?: Clock;
  /** Store settings for tests: flush interval, database name, Web Locks. */
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
  };
  const emitter = createEmitter<AttentionEvents>(report);
  const stops: Array<() => void> = [];
  const startedAt = clock.epoch();
  let consented = !opts.requireConsent;
  let stopped = false;

  const snapshot = (): AttentionSnapshot => ({
    page: { engagedMs: 0, visibleMs: 0, scrollDepth: 0, startedAt, viewId: '', path: '', rageClicks: 0, deadClicks: 0 },
    items: {},
  });

  // The one place a snapshot leaves the tracker: sinks (the on-device store) first, then 'attention' listeners.
  const sinks: ViewSink[] = [];
  const handOut = (reason: ViewReason) => {
    const s = snapshot();
    for (const sink of sinks) {
      try {
        sink(s, reason);
      } catch (error) {
        report(error, 'view sink');
      }
    }
    emitter.emit('attention', s);
  };
  void handOut;

  // The on-device log. Consent and the browser's privacy signals gate it; snapshots reach it first.
  const signal = privacySignal(opts.respectGpc, opts.respectDoNotTrack);
  const store = createStore({ ...opts, report, log, clock, ...internals.store });
  store.allow(consented && !signal);
  sinks.push(store.recordView);
  stops.push(store.stop);

  log('started', { ...opts, onError: undefined, root: undefined });

  return {
    snapshot,
    on: (type, fn) => emitter.on(type, fn),
    consent(granted) {
      consented = Boolean(granted);
      log('consent', consented, signal ? '(overridden by GPC/DNT)' : '');
      store.allow(consented && !signal);
      if (!consented) void store.forget();
    },
    flush: store.flush,
    export: store.export,
    forget: store.forget,
    stop() {
      if (stopped) return;
      stopped = true;
      stopAll(stops);
      emitter.clear();
      log('stopped');
    },
  };
}
