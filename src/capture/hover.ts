import { on, stopAll } from '../lib/on';

/**
 * Calls `cb(element)` with the element under the pointer whenever it changes; `null` once the
 * pointer leaves the page. A finger hovers nothing: touch pointers are passed over.
 */
export function observeHover(cb: (target: Element | null) => void): () => void {
  return stopAll.bind(null, [
    on(document, 'pointerover', (e) => (e as PointerEvent).pointerType !== 'touch' && cb(e.target as Element)),
    on(document, 'pointerout', (e) => {
      if (!(e as PointerEvent).relatedTarget) cb(null);
    }),
  ]);
}
