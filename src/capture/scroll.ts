import { on } from '../lib/on';

/**
 * Calls `cb(depth)` with how far down the page the bottom of the viewport is, 0..1, at most once
 * a frame while the page scrolls. The read happens in requestAnimationFrame, where layout is
 * already clean, never in the scroll handler itself.
 */
export function observeScroll(cb: (depth: number) => void): () => void {
  let frame = 0;
  const read = () => {
    frame = 0;
    cb((scrollY + innerHeight) / Math.max(1, document.documentElement.scrollHeight));
  };
  const ask = () => {
    frame ||= requestAnimationFrame(read);
  };
  const stop = on(document, 'scroll', ask);
  ask();
  return () => {
    stop();
    cancelAnimationFrame(frame);
  };
}
