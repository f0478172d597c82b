/**
 * Pages without any attnflow markup: the script tag still finds ≥ 3 items, with ids that are the
 * same on every load and carry no text, query string or hash.
 */
import { test, expect, waitForTracker } from './helpers';
import type { Page } from '@playwright/test';

test.use({ viewport: { width: 1200, height: 800 } });

/** Scrolls through the whole page with the wheel and returns the item ids attnflow saw. */
async function seenIds(page: Page, fixture: string): Promise<string[]> {
  await page.goto(`/test/fixtures/${fixture}.html`);
  await waitForTracker(page);
  await page.mouse.move(600, 400);
  for (let i = 0; i < 12; i++) {
    await page.mouse.wheel(0, 350);
    await page.waitForTimeout(120);
  }
  await page.waitForTimeout(300);
  return page.evaluate(() => Object.keys((window as any).attnflow.snapshot().items).sort());
}

const pages: Array<[string, string[], RegExp]> = [
  // fixture, ids that must be found, words of the page's text (and query strings) that must appear in
  // no id; words of a link's path may (ids come from href paths)
  ['auto-news', ['div@/local/bus-fares-frozen', 'li@/sport/derby-report'], /council|riverside|marathon|Pereira|utm/i],
  ['auto-products', ['div@/shop/p/sku-1001', 'div@/shop/p/sku-1012'], /mug|skillet|Add to cart|ref=|pos=|€/i],
  ['auto-docs', ['section#config-file', 'section#options', 'section#environment'], /Configuration|quarry|toml|Precedence/],
];

for (const [fixture, expected, text] of pages) {
  test(`${fixture}: ≥ 3 items found without markup, with ids stable across reload`, async ({ page }) => {
    const first = await seenIds(page, fixture);
    const second = await seenIds(page, fixture);
    console.log(`${fixture}: ${first.length} items: ${first.join(' ')}`);
    expect(first.length).toBeGreaterThanOrEqual(3);
    expect(second).toEqual(first);
    for (const id of expected) expect(first).toContain(id);
    for (const id of first) {
      expect(id).not.toMatch(text);
      expect(id).not.toMatch(/[?#&=].*[?&=]|\?/);
    }
    // Nothing outside the content: no id from the site navigation or footer.
    expect(first.filter((id) => /@\/(news|politics|about|privacy|shipping|returns|cart)$/.test(id))).toEqual([]);
  });
}
