/** Single-page apps: a navigation ends one view and starts the next; rage and dead clicks. */
import { test, expect, stayActive, waitForChunk, waitForTracker } from './helpers';

test.use({ viewport: { width: 1000, height: 800 } });

test('pushState, popstate and hashchange end a view and start the next', async ({ page }) => {
  await page.goto('/test/fixtures/capture-spa.html');
  await waitForTracker(page);
  await page.mouse.wheel(0, 300);
  await stayActive(page, 1200);
  const first = await page.evaluate(() => (window as any).attnflow.snapshot());
  expect(Object.keys(first.items).sort()).toEqual(['home-1', 'home-2', 'home-3']);
  expect(first.page.scrollDepth).toBeGreaterThan(0.3);

  const events = await page.evaluate(() => (window as any).__events.length);
  await page.click('#next');
  await stayActive(page, 800);
  const handed = await page.evaluate((n) => (window as any).__events.slice(n), events);
  // The ended view was handed out with its own id.
  expect(handed[0].page.viewId).toBe(first.page.viewId);
  expect(handed[0].page.engagedMs).toBeGreaterThanOrEqual(first.page.engagedMs);

  const second = await page.evaluate(() => (window as any).attnflow.snapshot());
  expect(second.page.viewId).not.toBe(first.page.viewId);
  expect(second.page.path).toBe('/spa/second');
  expect(JSON.stringify(second)).not.toContain('secret');
  expect(second.page.engagedMs).toBeLessThan(first.page.engagedMs + 100);
  expect(second.page.engagedMs).toBeLessThan(1500);
  for (const id of ['second-1', 'second-2', 'second-3']) expect(second.items[id].visibleMs).toBeGreaterThan(500);
  // The old page's items were on screen only until the app replaced them, right after pushState.
  for (const id of ['home-1', 'home-2', 'home-3']) expect(second.items[id]?.visibleMs ?? 0).toBeLessThan(250);

  // replaceState to the same path and hash is not a new view.
  await page.evaluate(() => history.replaceState({ x: 1 }, ''));
  expect(await page.evaluate(() => (window as any).attnflow.snapshot().page.viewId)).toBe(second.page.viewId);

  await page.evaluate(() => history.back());
  await page.waitForFunction((id) => (window as any).attnflow.snapshot().page.viewId !== id, second.page.viewId);
  const third = await page.evaluate(() => (window as any).attnflow.snapshot());
  expect(third.page.path).toBe('/test/fixtures/capture-spa.html');

  await page.evaluate(() => (location.hash = 'section-2'));
  await page.waitForFunction((id) => (window as any).attnflow.snapshot().page.viewId !== id, third.page.viewId);
});

test('rage clicks and dead clicks are counted per item and per page', async ({ page }) => {
  await page.goto('/test/fixtures/capture-spa.html');
  await waitForTracker(page);
  // Rage and dead clicks are judged by a chunk that loads right after start-up.
  await waitForChunk(page, 'attnflow-capture.js');
  const box = (await page.locator('[data-attn-item="home-1"] .blank').boundingBox())!;
  const x = box.x + 50;
  const y = box.y + 50;
  // Three clicks within 1 s and 30 px on a non-interactive block: one rage burst, three dead clicks.
  for (let i = 0; i < 3; i++) {
    await page.mouse.click(x + i * 5, y);
    await page.waitForTimeout(100);
  }
  await page.waitForTimeout(1300);
  let s = await page.evaluate(() => (window as any).attnflow.snapshot());
  expect(s.page).toMatchObject({ rageClicks: 1, deadClicks: 3 });
  expect(s.items['home-1']).toMatchObject({ clicks: 3, rageClicks: 1, deadClicks: 3 });

  // Clicks spread in time are no rage; a click on a button is never dead; a click that changes the DOM is not dead.
  await page.mouse.click(x, y + 100);
  await page.waitForTimeout(1100);
  await page.click('#toggle');
  await page.evaluate(() => {
    const blank = document.querySelector('[data-attn-item="home-2"] .blank')!;
    blank.addEventListener('click', () => blank.setAttribute('data-open', ''));
  });
  await page.locator('[data-attn-item="home-2"] .blank').click();
  await page.waitForTimeout(1300);
  s = await page.evaluate(() => (window as any).attnflow.snapshot());
  expect(s.page).toMatchObject({ rageClicks: 1, deadClicks: 4 });
  expect(s.items['home-1']).toMatchObject({ clicks: 4, rageClicks: 1, deadClicks: 4 });
  expect(s.items['home-2']).toMatchObject({ clicks: 1, rageClicks: 0, deadClicks: 0 });
});
