/** Where an element is on screen, from one intersection measurement. */
export interface Placement {
  /** Share of the element's own area in view, 0..1. */
  ratio: number;
  /** Share of the viewport's area the element covers, 0..1. */
  share: number;
  /** Share of the centre band of the viewport (its middle half) the element covers, 0..1. */
  band: number;
}

/** Watches elements' intersection with the viewport; `undefined` where IntersectionObserver is missing. */
export interface VisibilityWatcher {
  watch(el: Element): void;
  stop(): void;
}

// 1% steps: partly visible items report while they move, and the 50% rules are crossed exactly.
// The centre band only weighs attention: 5% steps are enough and halve its callbacks.
const steps = (n: number) => Array.from({ length: n + 1 }, (_, i) => i / n);

/**
 * Calls `cb(element, placement)` whenever an element's share in view changes, from
 * IntersectionObserver entries only (no layout reads of our own). A second observer watches the
 * middle half of the viewport, so the centre bias comes from the browser too. `placement` is null
 * once the element left the document. `time` is when the browser computed the intersection
 * (performance.now() time): callbacks can come late on a busy page.
 */
export function observeVisibility(cb: (el: Element, p: Placement | null, time: number) => void): VisibilityWatcher | undefined {
  if (typeof IntersectionObserver === 'undefined') return;
  const seen = new WeakMap<Element, Placement>();
  const area = (r: DOMRectReadOnly | null) => (r ? r.width * r.height : innerWidth * innerHeight);
  const observer = (centre: boolean) =>
    new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          const el = e.target;
          if (!el.isConnected) {
            observers.forEach((o) => o.unobserve(el));
            seen.delete(el);
            cb(el, null, e.time);
            continue;
          }
          const p = seen.get(el) ?? { ratio: 0, share: 0, band: 0 };
          const share = Math.min(1, area(e.intersectionRect) / (area(e.rootBounds) || 1));
          if (centre) p.band = share;
          else {
            p.ratio = e.intersectionRatio;
            p.share = share;
          }
          seen.set(el, p);
          cb(el, { ...p }, e.time);
        }
      },
      { threshold: steps(centre ? 20 : 100), rootMargin: centre ? '-25% 0px' : '0px' },
    );
  const observers = [observer(false), observer(true)];
  return {
    watch: (el) => observers.forEach((o) => o.observe(el)),
    stop: () => observers.forEach((o) => o.disconnect()),
  };
}
