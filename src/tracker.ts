import { createEmitter } from './lib/emitter';
import { systemClock, type Clock } from './lib/clock';
import { createLogger } from './lib/log';
import { stopAll } from './lib/on';
import { resolveOptions } from './options';
import type { Attention, AttentionEvents, AttentionOptions, AttentionSnapshot } from './types';

/** Internal hooks for tests: a fake clock. Not part of the public API. */
export interface TrackerInternals {
  clock?: Clock;
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
    page: { engagedMs: 0, visibleMs: 0, scrollDepth: 0, startedAt },
    items: {},
  });

  log('started', { ...opts, onError: undefined, root: undefined });

  return {
    snapshot,
    on: (type, fn) => emitter.on(type, fn),
    consent(granted) {
      consented = Boolean(granted);
      log('consent', consented);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      stopAll(stops);
      emitter.clear();
      log('stopped');
    },
  };
}
