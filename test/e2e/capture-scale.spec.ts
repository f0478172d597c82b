/** 10,000 items on one page, items removed while being read, items added later. */
import { test, expect, stayActive, waitForTracker } from './helpers';

test.use({ viewport: { width: 1000, height: 800 } });

test('10,000 items: no errors, removed items keep what they earned, numbers add up', async ({ page }) => {
  await page.goto('/test/fixtures/capture-10k.html');
  await waitForTracker(page);
  await page.mouse.move(900, 400);

  // Wheel through the first few hundred items, then dwell on one.
  for (let i = 0; i < 15; i++) {
    await page.mouse.wheel(0, 600);
    await page.waitForTimeout(40);
  }
  await page.evaluate(() => window.scrollTo(0, 500 * 60 - 300));
  await stayActive(page, 1500);
  const mid = await page.evaluate(() => (window as any).attnflow.snapshot().items.i500);
  expect(mid.visibleMs).toBeGreaterThan(1000);

  // Removed mid-dwell: the item and its neighbours go, what they earned stays.
  await page.evaluate(() => ['i499', 'i500', 'i501'].forEach((id) => document.querySelector(`[data-attn-item="${id}"]`)!.remove()));
  await stayActive(page, 300);
  const afterRemoval = await page.evaluate(() => (window as any).attnflow.snapshot().items.i500);
  await stayActive(page, 1000);
  const later = await page.evaluate(() => (window as any).attnflow.snapshot());
  expect(later.items.i500).toEqual(afterRemoval);
  expect(later.items.i500.visibleMs).toBeGreaterThanOrEqual(mid.visibleMs);
  expect(later.items.i500.topics).toEqual(['t0']);

  // Items appended later are measured too.
  await page.evaluate(() => (window as any).appendItems(0, 50));
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await stayActive(page, 800);

  const timing = await page.evaluate(() => {
    const t = performance.now();
    const s = (window as any).attnflow.snapshot();
    return { ms: performance.now() - t, s };
  });
  const s = timing.s;
  const items = Object.values(s.items) as any[];
  expect(Object.keys(s.items).some((id) => id.startsWith('late'))).toBe(true);
  const sum = items.reduce((a, it) => a + it.attentionMs, 0);
  expect(sum).toBeLessThanOrEqual(s.page.engagedMs + items.length);
  expect(sum).toBeGreaterThan(s.page.engagedMs * 0.8);
  for (const it of items) {
    expect(it.visibleMs).toBeLessThanOrEqual(s.page.visibleMs + 1);
    expect(it.viewableMs).toBeLessThanOrEqual(it.visibleMs + 1);
    expect(it.attentionMs).toBeLessThanOrEqual(it.visibleMs + 1);
  }
  // Only items that were on screen are reported, not all 10,000.
  expect(items.length).toBeLessThan(1000);
  expect(timing.ms).toBeLessThan(50);
});
