import { on, stopAll } from '../lib/on';

type HistoryMethod = 'pushState' | 'replaceState';

/**
 * Calls `cb` after every SPA navigation: `history.pushState`/`replaceState` (wrapped), `popstate`
 * and `hashchange`. On stop the wrappers are removed, or made inert when someone wrapped them after us.
 */
export function observeNavigation(cb: () => void): () => void {
  let live = true;
  const wrap = (name: HistoryMethod) => {
    const original = history[name];
    const wrapper = function (this: History, ...args: Parameters<History[HistoryMethod]>) {
      const result = original.apply(this, args);
      if (live) cb();
      return result;
    };
    history[name] = wrapper;
    return () => {
      if (history[name] === wrapper) history[name] = original;
    };
  };
  const stops = [wrap('pushState'), wrap('replaceState'), on(window, 'popstate', cb), on(window, 'hashchange', cb)];
  return () => {
    live = false;
    stopAll(stops);
  };
}

/** What tells one SPA view from the next: the path and the hash (never the query string). */
export const viewKey = (): string => location.pathname + location.hash;

/** A random id for a page view (crypto.randomUUID needs a secure context; fall back outside one). */
export const newViewId = (): string => globalThis.crypto?.randomUUID?.() ?? Math.random().toString(36).slice(2) + Date.now().toString(36);
