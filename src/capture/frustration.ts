/**
 * Rage and dead clicks, judged in the capture chunk (`attnflow-capture.js`, loaded right after
 * start-up): nobody is frustrated by a page in its first moments. The core counts every click
 * itself (clicks.ts); this module only judges them.
 */
import { on, stopAll } from '../lib/on';
import type { ClickKind } from './clicks';

const INTERACTIVE =
  'a[href],button,input,select,textarea,label,summary,video,audio,[onclick],[contenteditable],[tabindex],[role=button],[role=link],[role=tab],[role=menuitem],[role=checkbox],[role=option]';
/** A rage burst: this many clicks within RAGE_MS and RAGE_PX of each other. */
const RAGE_CLICKS = 3;
const RAGE_MS = 1000;
const RAGE_PX = 30;
/** A click on a non-interactive element is dead when nothing follows within this long. */
const DEAD_MS = 1000;

/**
 * Calls `cb(target, 'rageClicks')` once per rage burst (≥ 3 clicks within 1 s and 30 px), and
 * `cb(target, 'deadClicks')` for each dead click: a click on a non-interactive element followed by no
 * DOM change, scroll or selection change within 1 s. The DOM is watched only during that second.
 */
export function observeFrustration(cb: (target: Element, kind: Exclude<ClickKind, 'clicks'>) => void): () => void {
  let burst: MouseEvent[] = [];
  let raged = false;
  let pending: Element[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let watch: Array<() => void> = [];

  const settle = (dead: boolean) => {
    if (dead) pending.forEach((el) => cb(el, 'deadClicks'));
    pending = [];
    clearTimeout(timer);
    stopAll(watch);
  };
  const alive = () => settle(false);

  const click = (event: Event) => {
    const e = event as MouseEvent;
    const target = e.target as Element;
    if (!target?.closest) return;

    burst = burst.filter((c) => e.timeStamp - c.timeStamp < RAGE_MS && Math.hypot(c.clientX - e.clientX, c.clientY - e.clientY) <= RAGE_PX);
    if (!burst.length) raged = false;
    burst.push(e);
    if (burst.length >= RAGE_CLICKS && !raged) {
      raged = true;
      cb(target, 'rageClicks');
    }

    if (target.closest(INTERACTIVE)) return;
    pending.push(target);
    clearTimeout(timer);
    timer = setTimeout(() => settle(true), DEAD_MS);
    if (!watch.length) {
      const mo = new MutationObserver(alive);
      mo.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
      watch = [
        () => mo.disconnect(),
        on(document, 'scroll', alive),
        // A click moves the caret (a collapsed selection); only a real selection is a response.
        on(document, 'selectionchange', () => getSelection()?.isCollapsed === false && alive()),
      ];
    }
  };
  const stop = on(document, 'click', click);
  return () => {
    stop();
    settle(false);
  };
}
