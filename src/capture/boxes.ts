/**
 * Where a set of boxes is on screen, read from their layout: an item that is several elements (a
 * headed block of a flat page), and every item while the page is pinch-zoomed, when only the
 * visual viewport is on screen and IntersectionObserver still answers for the layout viewport.
 */
import type { Placement } from './visibility';

type Box = [left: number, top: number, right: number, bottom: number];

/** The area the union of `boxes` covers, each box counted once where they overlap. */
export function unionArea(boxes: Box[]): number {
  const ys = [...new Set(boxes.flatMap((b) => [b[1], b[3]]))].sort((a, b) => a - b);
  let sum = 0;
  for (let i = 1; i < ys.length; i++) {
    const y0 = ys[i - 1]!;
    const y1 = ys[i]!;
    let len = 0;
    let end = -Infinity;
    for (const b of boxes.filter((b) => b[1] <= y0 && b[3] >= y1).sort((a, b) => a[0] - b[0])) {
      if (b[2] > end) (len += b[2] - Math.max(b[0], end)), (end = b[2]);
    }
    sum += len * (y1 - y0);
  }
  return sum;
}

const clip = (boxes: Box[], l: number, t: number, r: number, b: number): Box[] =>
  boxes
    .map((x): Box => [Math.max(x[0], l), Math.max(x[1], t), Math.min(x[2], r), Math.min(x[3], b)])
    .filter((x) => x[2] > x[0] && x[3] > x[1]);

/**
 * The placement of the union of `els`' boxes in the visual viewport (the layout viewport when the
 * page is not zoomed): the same three shares IntersectionObserver gives for one element. Null when
 * none of them is in the document any more.
 */
export function placeBoxes(els: Element[]): Placement | null {
  const on = els.filter((el) => el.isConnected);
  if (!on.length) return null;
  const boxes = on.map((el): Box => {
    const r = el.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom];
  });
  const v = globalThis.visualViewport;
  const de = document.documentElement;
  const [x, y, w, h] = v ? [v.offsetLeft, v.offsetTop, v.width, v.height] : [0, 0, de.clientWidth, de.clientHeight];
  const all = unionArea(boxes.filter((b) => b[2] > b[0] && b[3] > b[1]));
  const seen = unionArea(clip(boxes, x, y, x + w, y + h));
  return {
    ratio: all ? seen / all : 0,
    share: Math.min(1, seen / (w * h || 1)),
    band: Math.min(1, unionArea(clip(boxes, x, y + h / 4, x + w, y + (3 * h) / 4)) / ((w * h) / 2 || 1)),
  };
}
