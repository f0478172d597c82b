import { loadClicks } from '../clicks-loader';
import { on, stopAll } from '../lib/on';

/** What a click was: any click, the third of a rage burst, or a dead click (known 1 s later). */
export type ClickKind = 'click' | 'rage' | 'dead';

/**
 * Calls `cb(target, 'click')` for every click, and, from its own chunk loaded right after
 * start-up (frustration.ts), `cb(target, 'rage')` once per rage burst and `cb(target, 'dead')`
 * for each dead click. Clicks before that chunk has arrived count as clicks only. `report` is
 * told when it cannot load.
 */
export function observeClicks(cb: (target: Element, kind: ClickKind) => void, report?: (error: unknown) => void): () => void {
  let stopped = false;
  const stops = [
    on(document, 'click', (e) => {
      const target = e.target as Element;
      // Not an element (a click dispatched on the document or window itself).
      if (!target?.closest) return;
      cb(target, 'click');
    }),
  ];
  loadClicks().then((m) => stopped || stops.push(m.observeFrustration(cb)), report);
  return () => {
    stopped = true;
    stopAll(stops);
  };
}
