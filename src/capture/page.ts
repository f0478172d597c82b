import { on, stopAll } from '../lib/on';

/**
 * Calls `cb(visible)` when the page is shown or hidden: `visibilitychange`, and `pagehide` /
 * `pageshow` for the back/forward cache and closing tabs.
 */
export function observePage(cb: (visible: boolean) => void): () => void {
  const check = () => cb(document.visibilityState === 'visible');
  return stopAll.bind(null, [
    on(document, 'visibilitychange', check),
    on(window, 'pageshow', check),
    on(window, 'pagehide', () => cb(false)),
  ]);
}
