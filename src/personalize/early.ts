/**
 * The synchronous path in the core script: puts the last page view's order into the page while
 * nothing is painted yet (or the container is off screen), so personalized content never jumps.
 * Kept tiny on purpose (every page loads it); the full logic lives in the personalization chunk.
 */

/** Where the order of the last page view is kept (item ids only), by the personalization chunk. */
export const CACHE_KEY = 'attnflow:rank';

const attr = (el: Element, name: string) => el.getAttribute(name);

/** True when changing `el` cannot move anything the visitor sees: nothing painted yet, or it is off screen. */
export function safeToChange(el: Element): boolean {
  if (!performance.getEntriesByType('paint').length) return true;
  const r = el.getBoundingClientRect();
  return r.bottom <= 0 || r.top >= innerHeight || r.right <= 0 || r.left >= innerWidth || (!r.width && !r.height);
}

/**
 * Applies the cached order of the last page view where it is safe, and records each container's
 * page order in `original` (first sight only) for explanations; a held-out page (`held`) keeps its
 * own order. Never throws.
 */
export function applyCachedOrder(root: ParentNode, original: WeakMap<Element, string[]>, held?: boolean): void {
  try {
    const cache = JSON.parse((!held && localStorage.getItem(CACHE_KEY)) || 'null') as {
      c: Record<string, string[]>;
      v: Record<string, string>;
    } | null;
    root.querySelectorAll('[data-attn-rank]').forEach((el, i) => {
      const items = [...el.children].filter((c) => attr(c, 'data-attn-item') || c.querySelector('[data-attn-item]'));
      const ids = items.map((c) => attr(c, 'data-attn-item') || attr(c.querySelector('[data-attn-item]')!, 'data-attn-item')!);
      if (!original.has(el)) original.set(el, ids);
      const shown = cache?.c[attr(el, 'data-attn-rank') || `#${i}`];
      if (!shown || !items.length || !safeToChange(el)) return;
      const pos = (k: number) => shown.indexOf(ids[k]!) + 1 || shown.length + 1 + k;
      const order = items.map((_, k) => k).sort((a, b) => pos(a) - pos(b));
      const after = items[items.length - 1]!.nextSibling;
      const limited = attr(el, 'data-attn-rank-limit') !== null;
      for (const k of order) {
        el.insertBefore(items[k]!, after);
        (items[k] as HTMLElement).hidden = limited && !shown.includes(ids[k]!);
      }
      el.classList.add('attn-personalized');
    });
    root.querySelectorAll('[data-attn-variant]').forEach((el) => {
      const shown = cache?.v[attr(el, 'data-attn-variant')!];
      const id = attr(el, 'data-attn-item');
      if (shown && id) {
        const group = root.querySelectorAll(`[data-attn-variant="${CSS.escape(attr(el, 'data-attn-variant')!)}"]`);
        // Only when the group has the cached pick, and none of it is on screen.
        if ([...group].some((g) => attr(g, 'data-attn-item') === shown) && [...group].every(safeToChange))
          (el as HTMLElement).hidden = id !== shown;
      }
    });
  } catch {
    // No storage, or odd markup: the page simply keeps its own order.
  }
}
