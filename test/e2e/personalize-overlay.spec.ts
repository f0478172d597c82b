/** The debug overlay: a separate chunk, loaded only with ?attn-debug (or debug: true). */
import { test, expect, waitForTracker, stayActive } from './helpers';

test('the overlay chunk is not loaded without ?attn-debug, nor the personalizer on a page without containers', async ({ page }) => {
  const requested: string[] = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await page.goto('/test/fixtures/personalize-rank.html');
  await waitForTracker(page);
  await page.evaluate(() => new Promise((r) => setTimeout(r, 500)));
  expect(requested).toContain('/dist/attnflow-personalize.js');
  expect(requested).not.toContain('/dist/attnflow-debug.js');

  requested.length = 0;
  await page.goto('/test/fixtures/smoke.html');
  await waitForTracker(page);
  await page.evaluate(() => new Promise((r) => setTimeout(r, 500)));
  expect(requested.filter((p) => /attnflow-(personalize|debug)/.test(p))).toEqual([]);
});

test('the overlay renders a heatmap tint, per-item numbers, page figures and the personalizer state', async ({ page }) => {
  await page.goto('/test/fixtures/personalize-rank.html?attn-debug');
  await waitForTracker(page);
  const box = (await page.locator('[data-attn-item="b1"]').boundingBox())!;
  await stayActive(page, 2500, box.x + box.width / 2, box.y + box.height / 2, 250);
  await page.evaluate(() => {
    (window as any).__reports = [];
    (window as any).attnflow.on('personalized', (r: any) => (window as any).__reports.push(r));
    return (window as any).attnflow.personalize();
  });
  await page.waitForTimeout(1200);

  const view = await page.evaluate(() => {
    const root = document.getElementById('attnflow-debug')!.shadowRoot!;
    const text = (sel: string) => root.querySelector(sel)?.textContent ?? null;
    const alpha = (id: string) => {
      const shadow = (document.querySelector(`[data-attn-item="${id}"]`) as HTMLElement).style.boxShadow;
      return Number(/rgba\([^)]*,\s*([\d.]+)\)/.exec(shadow)?.[1] ?? -1);
    };
    return {
      title: text('[data-part="title"]'),
      engaged: text('[data-part="engaged"]'),
      depth: text('[data-part="scroll-depth"]'),
      source: text('[data-part="source"]'),
      container: [...root.querySelectorAll('[data-part="container"]')].map((e) => e.textContent),
      model: root.querySelector('[data-part="model"]') !== null,
      labels: [...root.querySelectorAll('[data-part="label"]')].map((e) => e.getAttribute('data-item')),
      b1Label: root.querySelector('[data-part="label"][data-item="b1"]')?.textContent ?? '',
      alpha: { b1: alpha('b1'), a1: alpha('a1'), c2: alpha('c2') },
      html: document.getElementById('attnflow-debug')!.innerHTML,
      b1Scores: ((window as any).__reports as any[]).map((r) => r.scores?.b1).filter((x) => x !== undefined) as number[],
    };
  });
  expect(view.title).toBe('attnflow debug');
  expect(view.engaged).toMatch(/^engaged\d+\.\d s$/);
  expect(view.depth).toMatch(/^scroll depth\d+%$/);
  expect(view.source).toMatch(/^scores from(profile|model)$/);
  expect(view.container.some((t) => t!.startsWith('[top] top') && t!.includes('(waits off screen)'))).toBe(true);
  expect(view.model).toBe(true);
  expect(view.labels).toEqual(expect.arrayContaining(['a1', 'a2', 'c1', 'b1', 'b2', 'c2']));
  // b1 held the pointer: the largest share of attention, the strongest tint, and its numbers.
  expect(view.alpha.b1).toBe(0.45);
  expect(view.alpha.a1).toBeLessThan(0.45);
  expect(view.alpha.c2).toBeGreaterThanOrEqual(0);
  expect(view.b1Label).toMatch(/^b1 {2}\d+\.\d s \(\d+%\)\nviewable yes {2}hover \d+\.\d s/);
  // The label shows the score of a decision this page made (profile or model, whichever it shows).
  const shown = /score (\d\.\d{2}) {2}#\d+/.exec(view.b1Label)?.[1];
  expect(shown).toBeDefined();
  expect(view.b1Scores.map((x) => x.toFixed(2))).toContain(shown);
  // Everything lives in the shadow root: the host element itself holds no markup.
  expect(view.html).toBe('');
});
