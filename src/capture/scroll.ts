import { on } from '../lib/on';

/**
 * Calls `cb(depth)` with how far down the page the bottom of the visual viewport is, 0..1, at
 * most once a frame while the page scrolls or, pinch-zoomed, pans. The read happens in requestAnimationFrame, where layout is
 * already clean, never in the scroll handler itself.
 */
export function observeScroll(cb: (depth: number) => void): () => void {
  let frame = 0;
  const v = globalThis.visualViewport;
  const read = () => {
    frame = 0;
    cb((v ? v.pageTop + v.height : scrollY + innerHeight) / Math.max(1, document.documentElement.scrollHeight));
  };
  const ask = () => {
    frame ||= requestAnimationFrame(read);
  };
  const stop = on(document, 'scroll', ask);
  v?.addEventListener('scroll', ask);
  ask();
  return () => {
    stop();
    v?.removeEventListener('scroll', ask);
    cancelAnimationFrame(frame);
  };
}
