import { on } from '../lib/on';

/**
 * What a click was, named by the count it adds to: any click, the third of a rage burst, or a dead
 * click (known 1 s later).
 */
export type ClickKind = 'clicks' | 'rageClicks' | 'deadClicks';

/** Calls `cb(target)` for every click on an element. Rage and dead clicks are judged by frustration.ts. */
export function observeClicks(cb: (target: Element) => void): () => void {
  return on(document, 'click', (e) => {
    const target = e.target as Element;
    // Not an element (a click dispatched on the document or window itself).
    if (!target?.closest) return;
    cb(target);
  });
}
