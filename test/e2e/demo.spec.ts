/**
 * The demo site end to end: the scripted visitor of `npm run demo:headless` on the news page, the
 * other demo pages, layout stability and the promise that nothing leaves the device.
 */
import type { BrowserContext, Request } from '@playwright/test';
import { test, expect, waitForTracker, collectConsole } from './helpers';
// @ts-expect-error plain ES module shared with scripts/demo.mjs
import { visitOnce } from '../../scripts/demo-visitor.mjs';

/** Records every request of the context and every layout shift of its pages. */
async function watch(context: BrowserContext) {
  const requests: Request[] = [];
  context.on('request', (r) => requests.push(r));
  await context.addInitScript(() => {
    const w = window as any;
    w.__shifts = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as any[]) {
        w.__shifts.push({
          value: e.value,
          input: e.hadRecentInput,
          sources: (e.sources || []).map((s: any) => s.node?.getAttribute?.('data-attn-item') || s.node?.nodeName || '?'),
        });
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
  return requests;
}

/** Only GETs of this origin's static files: the page, dist/, examples/ and React's UMD files. */
function offDevice(requests: Request[], origin: string): string[] {
  return requests
    .filter((r) => {
      const u = new URL(r.url());
      if (u.origin !== origin || r.method() !== 'GET' || r.postData()) return true;
      return !/^\/(examples\/|dist\/|node_modules\/react(-dom)?\/umd\/|favicon\.ico)/.test(u.pathname);
    })
    .map((r) => `${r.method()} ${r.url()}`);
}

test('a visitor who prefers one topic sees it rise into the top 3 of For you within 20 attended items; CLS 0', async ({
  page,
  context,
  baseURL,
}) => {
  test.setTimeout(180_000);
  const requests = await watch(context);
  const topic = 'science';
  const visits = [];
  let shifts: any[] = [];
  for (let visit = 1; visit <= 4; visit++) {
    const p = visit === 1 ? page : await context.newPage();
    const v = await visitOnce(p, '/examples/', { topic, dwellMs: 4000, readsPerVisit: 4 });
    shifts = shifts.concat(await p.evaluate(() => (window as any).__shifts));
    visits.push(v);
    await p.close({ runBeforeUnload: true });
    if (v.forYou.slice(0, 3).every((x: any) => x.topics.includes(topic))) break;
  }
  const top3 = (order: any[]) => order.slice(0, 3).filter((x) => x.topics.includes(topic)).length;
  const summary = visits.map((v) => ({ attended: v.report.attended, source: v.report.source, top3: top3(v.forYou) }));
  console.log('visits:', JSON.stringify(summary));

  // Visit 1: nothing known, the page's own order (no science story in the top 3).
  expect(summary[0]).toMatchObject({ attended: 0, top3: 0 });
  // The topic fills the top 3 at a visit before which the visitor had attended at most 20 items.
  const risen = summary.find((v) => v.top3 === 3);
  expect(risen, 'a visit where the top 3 of For you are all science').toBeDefined();
  expect(risen!.attended).toBeLessThanOrEqual(20);
  console.log(`risen after ${risen!.attended} attended items, scored by: ${risen!.source}`);

  // Layout stability: no layout shift at all during load, scrolling and reordering.
  const cls = shifts.filter((s) => !s.input).reduce((sum, s) => sum + s.value, 0);
  console.log(`CLS over the whole session: ${cls} (${shifts.length} layout-shift entries)`);
  expect(shifts).toEqual([]);
  expect(offDevice(requests, new URL(baseURL!).origin)).toEqual([]);
});

test('the demo tour: shop variants, the unannotated article, the React list and the overlay, all on-device', async ({
  page,
  context,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const requests = await watch(context);
  // A console error (a file that failed to load, an error the SDK logs) is what a developer trying
  // the demo with DevTools open sees first.
  const errors = collectConsole(page, ['error']);

  await page.goto('/examples/shop.html');
  await waitForTracker(page);
  const shop = await page.evaluate(async () => {
    const report = await (window as any).attnflow.personalize();
    const groups: Record<string, number> = {};
    for (const el of document.querySelectorAll<HTMLElement>('[data-attn-variant]')) {
      const g = el.getAttribute('data-attn-variant')!;
      groups[g] = (groups[g] ?? 0) + (el.hidden ? 0 : 1);
    }
    const grid = [...document.querySelectorAll<HTMLElement>('[data-attn-rank="products"] > [data-attn-item]')];
    return { groups, first: grid[0]!.getAttribute('data-attn-item'), shown: grid.filter((e) => !e.hidden).length, report };
  });
  expect(shop.groups).toEqual({ hero: 1, signup: 1 });
  expect(shop.first).toBe('p-deal');
  expect(shop.shown).toBe(8);

  await page.goto('/examples/article.html');
  await waitForTracker(page);
  await page.mouse.move(500, 400);
  await page.mouse.wheel(0, 400);
  await page.waitForTimeout(1500);
  const items = await page.evaluate(() => Object.keys((window as any).attnflow.snapshot().items));
  expect(items.length).toBeGreaterThanOrEqual(3);

  // A flat page: its headed blocks are found without markup, the lead with topics from its tags and metadata.
  await page.goto('/examples/guide.html');
  await waitForTracker(page);
  await page.mouse.move(500, 300);
  for (let i = 0; i < 8; i++) {
    await page.mouse.wheel(0, 300);
    await page.waitForTimeout(150);
  }
  const guide = await page.evaluate(() => (window as any).attnflow.snapshot().items);
  expect(Object.keys(guide).sort()).toEqual(['h1#lisbon', 'h2#alfama', 'h2#arriving', 'h2#belem', 'h2#practical', 'h2#tram-28']);
  expect(guide['h1#lisbon'].topics).toEqual(['portugal', 'city-breaks', 'travel', 'lisbon', 'walking', 'trams']);

  await page.goto('/examples/react/');
  await expect.poll(() => page.locator('#app [data-attn-item]').count(), { timeout: 10_000 }).toBe(10);

  await page.goto('/examples/?attn-debug');
  await waitForTracker(page);
  await expect
    .poll(() => page.evaluate(() => document.getElementById('attnflow-debug')?.shadowRoot?.querySelector('[data-part="panel"]') != null))
    .toBe(true);

  // Why this? on a For you story answers in words.
  await page.evaluate(() => document.querySelector('[data-attn-rank="for-you"]')!.scrollIntoView());
  await page.locator('[data-attn-rank="for-you"] .why').first().click();
  await expect(page.locator('#why-box')).toBeVisible();
  await expect(page.locator('#why-box li').first()).not.toBeEmpty();

  const offsite = offDevice(requests, new URL(baseURL!).origin);
  expect(offsite).toEqual([]);
  expect(requests.length).toBeGreaterThan(10);
  expect(errors).toEqual([]);
});
