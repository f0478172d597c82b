/**
 * Scripted sessions on the minified script tag, each checked against ground truth measured in the
 * page by test/fixtures/capture-truth.js (boxes read every frame, its own input tracking). Every
 * figure must be within max(150 ms, 5%) of the truth. Figures are compared as differences between
 * two reads, so that start-up (the async script, the first IntersectionObserver round) does not count.
 */
import { test, expect, expectClose, goIdle, hideTab, readAttention, scrollToItem, showTab, stayActive, waitForTracker } from './helpers';
import type { Page } from '@playwright/test';

test.use({ viewport: { width: 1000, height: 800 } });

const MS = ['attentionMs', 'visibleMs', 'viewableMs', 'hoverMs'] as const;
const zero = { attentionMs: 0, visibleMs: 0, viewableMs: 0, hoverMs: 0 };
type Read = Awaited<ReturnType<typeof readAttention>>;

/** Compares what attnflow measured between two reads with what the truth measured. */
function compare(r0: Read, r1: Read) {
  const delta = (a: any, b: any, k: string) => (b?.[k] ?? 0) - (a?.[k] ?? 0);
  for (const k of ['engagedMs', 'visibleMs'])
    expectClose(delta(r0.af.page, r1.af.page, k), delta(r0.truth.page, r1.truth.page, k), `page.${k}`);
  const ids = new Set([...Object.keys(r1.truth.items), ...Object.keys(r1.af.items)]);
  for (const id of ids) {
    for (const k of MS) {
      expectClose(
        delta(r0.af.items[id] ?? zero, r1.af.items[id] ?? zero, k),
        delta(r0.truth.items[id] ?? zero, r1.truth.items[id] ?? zero, k),
        `${id}.${k}`,
      );
    }
  }
  // Σ attention never exceeds engaged time (1 ms of rounding per item allowed).
  const sum = Object.values(r1.af.items).reduce((s: number, it: any) => s + it.attentionMs, 0);
  expect(sum).toBeLessThanOrEqual(r1.af.page.engagedMs + ids.size);
}

const itemDelta = (r0: Read, r1: Read, id: string, k: (typeof MS)[number]) => (r1.af.items[id]?.[k] ?? 0) - (r0.af.items[id]?.[k] ?? 0);

async function open(page: Page, fixture = 'capture-reading') {
  await page.goto(`/test/fixtures/${fixture}.html`);
  await waitForTracker(page);
  await page.mouse.move(900, 400);
}

test('reading one item: its attention, visible, viewable time match the truth', async ({ page }) => {
  await open(page);
  await scrollToItem(page, 'third', 200);
  const r0 = await readAttention(page);
  await stayActive(page, 3000);
  const r1 = await readAttention(page);
  compare(r0, r1);
  expect(itemDelta(r0, r1, 'third', 'attentionMs')).toBeGreaterThan(1500);
  expect(r1.af.items.third).toMatchObject({ viewable: true, skipped: false, topics: ['science'], maxVisibleRatio: 1 });
  expect(r1.af.page.path).toBe('/test/fixtures/capture-reading.html');
  expect(r1.af.page.viewId).toMatch(/^[\w-]{8,}$/);
});

test('going idle: engaged time stops idleAfterMs (default 5 s) after the last input', async ({ page }) => {
  await open(page);
  await scrollToItem(page, 'third', 200);
  await page.mouse.move(901, 400);
  const r0 = await readAttention(page);
  await goIdle(page, 6500);
  const r1 = await readAttention(page);
  compare(r0, r1);
  const engaged = r1.af.page.engagedMs - r0.af.page.engagedMs;
  const visible = r1.af.page.visibleMs - r0.af.page.visibleMs;
  expect(engaged).toBeLessThan(5200);
  expect(visible - engaged).toBeGreaterThan(1300);
});

test('custom idle via the script tag: data-idle-after="1500"', async ({ page }) => {
  await open(page, 'capture-idle');
  await scrollToItem(page, 'third', 200);
  await page.mouse.move(901, 400);
  const r0 = await readAttention(page);
  await goIdle(page, 3500);
  const r1 = await readAttention(page);
  compare(r0, r1);
  const engaged = r1.af.page.engagedMs - r0.af.page.engagedMs;
  expect(engaged).toBeLessThan(1650);
  expect(r1.af.page.visibleMs - r0.af.page.visibleMs).toBeGreaterThan(3300);
});

test('hiding the tab: nothing counts while hidden, and a snapshot is handed out at once', async ({ page }) => {
  await open(page);
  await scrollToItem(page, 'second', 100);
  const r0 = await readAttention(page);
  await stayActive(page, 1000);
  const before = await page.evaluate(() => (window as any).__events.length);
  await hideTab(page);
  const atHide = await page.evaluate(() => (window as any).__events.length);
  await page.waitForTimeout(2000);
  await showTab(page);
  await stayActive(page, 1000);
  const r1 = await readAttention(page);
  compare(r0, r1);
  expect(atHide).toBe(before + 1);
  const visible = r1.af.page.visibleMs - r0.af.page.visibleMs;
  expect(visible).toBeLessThan(2600);
  expect(itemDelta(r0, r1, 'second', 'visibleMs')).toBeLessThan(2600);
});

test('hovering: hover time and the hover boost match the truth', async ({ page }) => {
  await open(page);
  await scrollToItem(page, 'third', 200);
  await page.mouse.move(300, 400);
  const r0 = await readAttention(page);
  await stayActive(page, 2000, 300, 400);
  await stayActive(page, 1000, 300, 760);
  await page.mouse.move(900, 400);
  const r1 = await readAttention(page);
  compare(r0, r1);
  expect(itemDelta(r0, r1, 'third', 'hoverMs')).toBeGreaterThan(1700);
  expect(itemDelta(r0, r1, 'tall', 'hoverMs')).toBeGreaterThan(700);
});

test('fast scrolling past items: brief visibility, and a fling is not a skip', async ({ page }) => {
  await open(page);
  const r0 = await readAttention(page);
  for (let i = 0; i < 32; i++) {
    await page.mouse.wheel(0, 400);
    await page.waitForTimeout(30);
  }
  await stayActive(page, 1000);
  const r1 = await readAttention(page);
  compare(r0, r1);
  const flung = ['sixth', 'seventh', 'eighth', 'ninth'];
  for (const id of flung) {
    const truth = r1.truth.items[id];
    expect(truth, `${id} was on screen`).toBeTruthy();
    expect(r1.af.items[id].visibleMs).toBeLessThan(800);
    if (truth.viewableMs < 120) expect(r1.af.items[id].skipped, `${id} flung past`).toBe(false);
  }
  const depth = await page.evaluate(() => (scrollY + innerHeight) / document.documentElement.scrollHeight);
  expect(depth).toBe(1);
  expect(r1.af.page.scrollDepth).toBe(1);
});

test('two items half in view: each gets half the attention', async ({ page }) => {
  await open(page);
  await scrollToItem(page, 'pair-a', -400);
  const r0 = await readAttention(page);
  await stayActive(page, 2500);
  const r1 = await readAttention(page);
  compare(r0, r1);
  const engaged = r1.af.page.engagedMs - r0.af.page.engagedMs;
  for (const id of ['pair-a', 'pair-b']) {
    expectClose(itemDelta(r0, r1, id, 'attentionMs'), engaged / 2, `${id} half of the attention`);
    expect(r1.af.items[id]).toMatchObject({ maxVisibleRatio: 0.5, viewable: true });
  }
});

test("'attention' fires at most once a second while something changes, and stops when idle", async ({ page }) => {
  await open(page, 'capture-idle');
  await scrollToItem(page, 'third', 200);
  await page.evaluate(() => ((window as any).__events.length = 0));
  await stayActive(page, 2600);
  await goIdle(page, 3500);
  const times = await page.evaluate(() => (window as any).__events.map((s: any) => s.page.engagedMs));
  // ~2.6 s active + 1.5 s until idle: 3–5 ticks, none once idle.
  expect(times.length).toBeGreaterThanOrEqual(3);
  expect(times.length).toBeLessThanOrEqual(5);
  const last = await page.evaluate(() => (window as any).__events.length);
  await page.waitForTimeout(1500);
  expect(await page.evaluate(() => (window as any).__events.length)).toBe(last);
});
