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
 *
 * The fine observers watch only the elements on screen. A third one, with the single threshold 0,
 * watches every element and hands them over as they come into view and back as they leave: the
 * browser computes fine thresholds in every frame of a scroll for every element they watch, but
 * skips an element watched at threshold 0 while the scroll is too short to reach it. On a page of
 * 1,000 items this halves the observers' cost over a reading session.
 */
export function observeVisibility(cb: (el: Element, p: Placement | null, time: number) => void): VisibilityWatcher | undefined {
  if (typeof IntersectionObserver === 'undefined') return;
  const seen = new WeakMap<Element, Placement>();
  // The elements the gate saw in view last. A fine entry of another was queued before the gate
  // took the element back (on a busy page, several frames' entries come in one callback): it is
  // out of date.
  const inside = new WeakSet<Element>();
  const area = (r: DOMRectReadOnly | null) => (r ? r.width * r.height : innerWidth * innerHeight);
  // An entry of the gate (0), of the fine observer of the whole viewport (1) or of its middle half (2).
  const take = (e: IntersectionObserverEntry, from: number) => {
    const el = e.target;
    if (!el.isConnected) {
      all.forEach((o) => o.unobserve(el));
      seen.delete(el);
      return cb(el, null, e.time);
    }
    if (from && !inside.has(el)) return;
    const p = seen.get(el) ?? { ratio: 0, share: 0, band: 0 };
    const share = Math.min(1, area(e.intersectionRect) / (area(e.rootBounds) || 1));
    if (from > 1) p.band = share;
    else {
      p.ratio = e.intersectionRatio;
      p.share = share;
    }
    seen.set(el, p);
    cb(el, { ...p }, e.time);
  };
  // The gate's entries are entries of the whole viewport as well: an element is placed at once, a
  // frame before the fine observers' first entries.
  const all = [0, 1, 2].map(
    (from) =>
      new IntersectionObserver(
        (entries) => {
          for (const e of entries) {
            const el = e.target;
            const on = e.isIntersecting;
            if (!from) {
              inside[on ? 'add' : 'delete'](el);
              all.slice(1).forEach((o) => (on ? o.observe(el) : o.unobserve(el)));
            }
            take(e, from);
          }
        },
        from ? { threshold: steps(from > 1 ? 20 : 100), rootMargin: from > 1 ? '-25% 0px' : '0px' } : {},
      ),
  );
  return {
    watch: (el) => all[0]!.observe(el),
    stop: () => all.forEach((o) => o.disconnect()),
  };
}
