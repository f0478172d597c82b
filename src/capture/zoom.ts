/**
 * Calls `cb(true)` at most once a frame while the visual viewport is zoomed in (pinch-zoom) and
 * pans or zooms, and `cb(false)` once when it is back at its normal scale. While zoomed, only the
 * visual viewport is on screen, and IntersectionObserver keeps answering for the layout viewport.
 */
export function observeZoom(cb: (zoomed: boolean) => void): () => void {
  const v = globalThis.visualViewport;
  if (!v) return () => {};
  let frame = 0;
  let was = false;
  const read = () => {
    frame = 0;
    const zoomed = v.scale > 1.001;
    if (zoomed || was) cb(zoomed);
    was = zoomed;
  };
  const ask = () => {
    frame ||= requestAnimationFrame(read);
  };
  v.addEventListener('resize', ask);
  v.addEventListener('scroll', ask);
  read();
  return () => {
    v.removeEventListener('resize', ask);
    v.removeEventListener('scroll', ask);
    cancelAnimationFrame(frame);
  };
}
