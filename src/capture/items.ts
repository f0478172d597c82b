/**
 * Finds the items of a page: elements marked `data-attn-item="id"` (topics from
 * `data-attn-topics="a,b"`), or, on a page with no markup, the blocks `detectItems` picks (its
 * own small chunk, loaded only by such pages).
 * Items added later (infinite scroll, SPA rendering) are reported as they arrive, and so are
 * items put back after being removed, under the id they had.
 */
import { loadChunk, type Chunks } from '../chunks/load';
import type { Found } from './detect';

const MARK = '[data-attn-item]';

/** Where to look for items, and the map of element to item id that the observer fills. */
export interface ItemOptions {
  root?: ParentNode;
  known: WeakMap<Element, string>;
  /** Told when item detection cannot load (pages without markup only). */
  report?(error: unknown): void;
}

/**
 * Calls `cb(element, id, topics)` for every item now and every item added later; returns stop. An
 * item of several elements (a headed block) comes with all of them and the function that places
 * them on screen.
 */
export function observeItems(cb: (...item: Found) => void, { root = document, known, report }: ItemOptions): () => void {
  const used = new Set<string>();
  let marked = !!root.querySelector(MARK);
  let detect: Chunks['detect'] | undefined;
  // Detection is requested once; the promise is kept only to know that it was.
  let _loading: Promise<unknown> | undefined;
  let stopped = false;

  const scan = (node: ParentNode) => {
    if (!marked && !detect) {
      // The whole page is scanned once detection has loaded: what arrives meanwhile is included.
      _loading ??= loadChunk('detect').then(
        (d) => !stopped && ((detect = d), scan(root)),
        (e) => report?.(e),
      );
      return;
    }
    if (!marked) return detect!.scan(node, known, used).forEach((item) => cb(...item));
    const els = [...node.querySelectorAll(MARK)];
    if ((node as Element).matches?.(MARK)) els.push(node as Element);
    for (const el of els) {
      const id = known.get(el) || el.getAttribute('data-attn-item')!.trim();
      if (!id) continue;
      known.set(el, id);
      const topics = el.getAttribute('data-attn-topics');
      cb(
        el,
        id,
        topics
          ? topics
              .split(',')
              .map((t) => t.trim())
              .filter(Boolean)
          : [],
      );
    }
  };
  scan(root);

  if (typeof MutationObserver === 'undefined') return () => void (stopped = true);
  const observer = new MutationObserver((records) => {
    const roots = new Set<ParentNode>();
    for (const r of records) {
      for (const node of r.addedNodes) {
        if (node.nodeType !== 1) continue;
        const el = node as Element;
        marked ||= el.matches(MARK) || !!el.querySelector(MARK);
        // Marked items are in the added subtree; cards are known only beside their siblings. Until
        // detection has loaded there is nothing to scan: it scans the whole page once it has.
        if (marked) roots.add(el);
        else if (detect && el.parentNode && detect.addsItems(el)) roots.add(el.parentNode);
      }
    }
    roots.forEach(scan);
  });
  observer.observe(root, { childList: true, subtree: true });
  return () => {
    stopped = true;
    observer.disconnect();
  };
}

/** The ids of the items `el` is inside, innermost first. */
export function itemsAt(known: WeakMap<Element, string>, el: Element | null): string[] {
  const out: string[] = [];
  for (; el; el = el.parentElement) {
    const id = known.get(el);
    if (id) out.push(id);
  }
  return out;
}
