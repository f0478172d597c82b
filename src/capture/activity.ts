import { on, stopAll } from '../lib/on';

/** The inputs that show the visitor is there. */
const INPUTS = ['scroll', 'wheel', 'pointermove', 'pointerdown', 'keydown', 'touchstart'];

/** Calls `cb` on every input (scroll, wheel, pointer move/down, key, touch); passive, captured on the document. */
export function observeActivity(cb: () => void): () => void {
  return stopAll.bind(
    null,
    INPUTS.map((type) => on(document, type, cb)),
  );
}
