/**
 * Finds the items of a page: elements marked `data-attn-item="id"` (topics from
 * `data-attn-topics="a,b"`), or, on a page with no markup, the blocks `detectItems` picks.
 * Items added later (infinite scroll, SPA rendering) are reported as they arrive, and so are
 * items put back after being removed, under the id they had.
 */
import { autoId, detectItems } from './detect';

const MARK = '[data-attn-item]';
/** What an unmarked item can be built from; added nodes without any cannot add an item. */
const BLOCKS = 'article,section,figure,img,h2,h3,h4,h5,h6,[role=article]';

/** Where to look for items, and the map of element to item id that the observer fills. */
export interface ItemOptions {
  root?: ParentNode;
  known: WeakMap<Element, string>;
}

/** Calls `cb(element, id, topics)` for every item now and every item added later; returns stop. */
export function observeItems(
  cb: (el: Element, id: string, topics: string[]) => void,
  { root = document, known }: ItemOptions,
): () => void {
  const used = new Set<string>();
  let marked = !!root.querySelector(MARK);

  const scan = (node: ParentNode) => {
    const els = marked ? [...node.querySelectorAll(MARK)] : detectItems(node);
    if (marked && (node as Element).matches?.(MARK)) els.push(node as Element);
    for (const el of els) {
      let id = known.get(el);
      if (!id && marked) id = el.getAttribute('data-attn-item')!.trim();
      if (!id && !marked) {
        const base = autoId(el);
        id = base;
        for (let n = 2; used.has(id); n++) id = `${base}~${n}`;
        used.add(id);
      }
      if (!id) continue;
      known.set(el, id);
      const topics = el.getAttribute('data-attn-topics');
      cb(el, id, topics ? topics.split(',').map((t) => t.trim()).filter(Boolean) : []);
    }
  };
  scan(root);

  if (typeof MutationObserver === 'undefined') return () => {};
  const observer = new MutationObserver((records) => {
    const roots = new Set<ParentNode>();
    for (const r of records) {
      for (const node of r.addedNodes) {
        if (node.nodeType !== 1) continue;
        const el = node as Element;
        marked ||= el.matches(MARK) || !!el.querySelector(MARK);
        // Marked items are in the added subtree; cards are known only beside their siblings.
        if (marked) roots.add(el);
        else if (el.parentNode && (el.matches(BLOCKS) || el.querySelector(BLOCKS))) roots.add(el.parentNode);
      }
    }
    roots.forEach(scan);
  });
  observer.observe(root, { childList: true, subtree: true });
  return () => observer.disconnect();
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
