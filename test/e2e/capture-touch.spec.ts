/**
 * Phones: Chromium's phone emulation (390×844, isMobile, hasTouch); fingers through CDP
 * `Input.dispatchTouchEvent` (a one-finger drag scrolls, with the fling after it; two fingers
 * apart pinch-zoom), taps. (`Input.synthesizeScrollGesture` and `synthesizePinchGesture` with
 * touch as their source do nothing in this Chromium: the same touch events, sent one by one, do.)
 * Checked against the ground truth (capture-truth.js), which measures against the visual viewport
 * and counts no hover for a finger, within max(150 ms, 5%) like every capture test.
 */
import { test, expect, expectClose, readAttention, waitForChunk, waitForTracker } from './helpers';
import type { CDPSession, Page } from '@playwright/test';

test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });

const MS = ['attentionMs', 'visibleMs', 'viewableMs', 'hoverMs'] as const;

async function open(page: Page): Promise<CDPSession> {
  await page.goto('/test/fixtures/flat-blog.html');
  await waitForTracker(page);
  await waitForChunk(page, 'attnflow-detect.js');
  await waitForChunk(page, 'attnflow-capture.js');
  return page.context().newCDPSession(page);
}

const frame = () => new Promise((r) => setTimeout(r, 16));

/** A finger drags the page up by about `dy` CSS px (scrolls down), one move a frame. */
async function swipe(cdp: CDPSession, dy: number, x = 195, y = 600): Promise<void> {
  const steps = 12;
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x, y }] });
  for (let i = 1; i <= steps; i++) {
    await frame();
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x, y: y - (dy * i) / steps }] });
  }
  // A pause before lifting: no fling, the page stops where the finger did.
  await new Promise((r) => setTimeout(r, 150));
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
}

/** Two fingers move apart around (x, y) until the page is zoomed about `scale` times. */
async function pinch(cdp: CDPSession, x: number, y: number, scale: number): Promise<void> {
  const from = 100;
  const steps = 12;
  const at = (d: number) => [
    { x: x - d / 2, y, id: 0 },
    { x: x + d / 2, y, id: 1 },
  ];
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at(from) });
  for (let i = 1; i <= steps; i++) {
    await frame();
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: at(from * (1 + ((scale - 1) * i) / steps)) });
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
}

/** Compares every measured figure of every block between two reads with the truth; returns the worst error. */
function compare(r0: any, r1: any, label: string): string {
  const d = (r: any, side: string, id: string, k: string) => r[side].items[id]?.[k] ?? 0;
  let worst = { error: 0, at: '' };
  expectClose(r1.af.page.engagedMs - r0.af.page.engagedMs, r1.truth.page.engagedMs - r0.truth.page.engagedMs, `${label} page.engagedMs`);
  for (const id of Object.keys(r1.truth.items)) {
    for (const k of MS) {
      const af = d(r1, 'af', id, k) - d(r0, 'af', id, k);
      const truth = d(r1, 'truth', id, k) - d(r0, 'truth', id, k);
      if (Math.abs(af - truth) >= worst.error)
        worst = { error: Math.abs(af - truth), at: `${id}.${k} ${af.toFixed(0)} vs ${truth.toFixed(0)}` };
      expectClose(af, truth, `${label} ${id}.${k}`);
    }
  }
  return `worst error ${worst.error.toFixed(0)} ms (${worst.at})`;
}

test('touch: swipes keep the visitor active, attention splits as on the desktop, a finger hovers nothing, taps are clicks', async ({
  page,
}) => {
  const cdp = await open(page);
  const r0 = await readAttention(page);
  // Read, swipe on, read: the gaps between swipes (3 s) are shorter than the idle timeout (5 s).
  for (let i = 0; i < 5; i++) {
    await swipe(cdp, 300);
    await page.waitForTimeout(3000);
  }
  const tapped = await page.evaluate(() => {
    const p = [...document.querySelectorAll<HTMLElement>('[data-truth]')].find(
      (e) => e.localName === 'p' && e.getBoundingClientRect().top > 100,
    )!;
    const r = p.getBoundingClientRect();
    return { id: p.dataset.truth!, x: r.left + 20, y: r.top + 10 };
  });
  const clicks0 = await page.evaluate((id) => (window as any).attnflow.snapshot().items[id]?.clicks ?? 0, tapped.id);
  await page.touchscreen.tap(tapped.x, tapped.y);
  await page.waitForTimeout(1500);
  const r1 = await readAttention(page);
  console.log(`touch: ${compare(r0, r1, 'touch')}`);
  // Active all along: engaged grows with visible time, never an idle gap.
  const engaged = r1.af.page.engagedMs - r0.af.page.engagedMs;
  expect(engaged).toBeGreaterThan(0.9 * (r1.af.page.visibleMs - r0.af.page.visibleMs));
  expect(Object.values(r1.af.items).every((it: any) => it.hoverMs === 0)).toBe(true);
  expect(r1.af.items[tapped.id].clicks).toBe(clicks0 + 1);
  expect(Object.values(r1.af.items).filter((it: any) => it.attentionMs > 1000).length).toBeGreaterThanOrEqual(3);
});

test('pinch-zoom: items are measured against the visual viewport, not the layout viewport', async ({ page }) => {
  const cdp = await open(page);
  await swipe(cdp, 500);
  await page.waitForTimeout(500);
  await pinch(cdp, 120, 300, 1.8);
  await page.waitForTimeout(300);
  const scale = await page.evaluate(() => visualViewport!.scale);
  expect(scale).toBeGreaterThan(1.5);
  const r0 = await readAttention(page);
  // Pan down the zoomed page, reading as it goes.
  for (let i = 0; i < 4; i++) {
    await swipe(cdp, 120, 150, 500);
    await page.waitForTimeout(2000);
  }
  const r1 = await readAttention(page);
  const zoomed = await page.evaluate(() => ({ scale: visualViewport!.scale, height: visualViewport!.height, layout: innerHeight }));
  console.log(`pinch-zoom (scale ${zoomed.scale.toFixed(2)}): ${compare(r0, r1, 'pinch-zoom')}`);
  expect(zoomed.scale).toBeGreaterThan(1.5);
  // Zoomed in, an item fills more of the screen: a block the visual viewport is inside of is viewable as a whole screen of it.
  expect(Object.values(r1.af.items).some((it: any) => it.viewable)).toBe(true);
});
