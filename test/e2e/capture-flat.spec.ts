/**
 * Flat documents — headings and paragraphs as siblings, nothing wrapping a section — written to
 * resemble real ones: an encyclopedia article (infobox, contents, references), a technical article
 * (code, tables, a side bar of links, no `main`), a Markdown-rendered blog post (tags), a docs page
 * (sidebar, on-this-page box, a section taller than two viewports). Each fixture marks the elements
 * of every block it expects with `data-truth="id"`: the ground truth (capture-truth.js) measures
 * those unions of boxes every frame (a figure inside a block, an item of its own too, carries
 * `data-truth-also`); attnflow must find the same items on its own, and nothing else.
 */
import { test, expect, expectClose, readAttention, stayActive, waitForChunk, waitForTracker } from './helpers';
import type { Page } from '@playwright/test';

test.use({ viewport: { width: 1200, height: 800 } });

const FIXTURES = ['flat-encyclopedia', 'flat-technical', 'flat-blog', 'flat-docs'];

async function open(page: Page, fixture: string) {
  await page.goto(`/test/fixtures/${fixture}.html`);
  await waitForTracker(page);
  await waitForChunk(page, 'attnflow-detect.js');
  await page.mouse.move(700, 400);
}

/** The ids of the blocks the fixture expects. */
const expected = (page: Page): Promise<string[]> =>
  page.evaluate(() =>
    [
      ...new Set(
        [...document.querySelectorAll<HTMLElement>('[data-truth],[data-truth-also]')].map(
          (el) => el.dataset.truthAlso ?? el.dataset.truth!,
        ),
      ),
    ].sort(),
  );

/** Wheels through the whole page and returns the ids attnflow measured. */
async function seen(page: Page): Promise<string[]> {
  for (let i = 0; i < 40; i++) {
    await page.mouse.wheel(0, 400);
    await page.waitForTimeout(40);
  }
  await page.waitForTimeout(400);
  return page.evaluate(() => Object.keys((window as any).attnflow.snapshot().items).sort());
}

for (const fixture of FIXTURES) {
  test(`${fixture}: its headed blocks are found, the same on every load, and nothing from navigation, contents or footer`, async ({
    page,
  }) => {
    await open(page, fixture);
    const want = await expected(page);
    const first = await seen(page);
    await open(page, fixture);
    const second = await seen(page);
    console.log(`${fixture}: ${first.length} items: ${first.join(' ')}`);
    expect(want.length).toBeGreaterThanOrEqual(3);
    expect(second).toEqual(first);
    // Every expected block (and figure), nothing else.
    expect(first).toEqual(want);
    // No id holds the page's text: each is an id attribute, a heading's anchor, a link's path or a place in the tree.
    const from = await page.evaluate(
      (ids) =>
        ids.filter((id) => {
          const m = /^[a-z0-9]+(?:#(.+)|:(#[\w-]+)?(\/[a-z]+\d*)+|@(\/[^?#\s]*))$/.exec(id);
          if (!m) return true;
          const name = m[1];
          return !!name && !document.getElementById(name) && !document.querySelector(`a[name="${name}"],a[href="#${name}"]`);
        }),
      first,
    );
    expect(from, 'ids from text').toEqual([]);
  });

  test(`${fixture}: a reading session's attention, visible, viewable and hover time per block match the truth`, async ({ page }) => {
    await open(page, fixture);
    await waitForChunk(page, 'attnflow-capture.js');
    const ids = await expected(page);
    const r0 = await readAttention(page);
    // Read the top, scroll down in steps with pauses of reading, the pointer resting on the text.
    await stayActive(page, 1500, 700, 400);
    for (let step = 0; step < 6; step++) {
      await page.mouse.wheel(0, 450);
      await stayActive(page, 900 + 300 * (step % 3), 700, 300 + 60 * step);
    }
    const r1 = await readAttention(page);
    const delta = (r: typeof r0, side: 'af' | 'truth', id: string, k: string) => r[side].items[id]?.[k] ?? 0;
    let attended = 0;
    let worst = { error: 0, label: '' };
    for (const id of ids) {
      for (const k of ['attentionMs', 'visibleMs', 'viewableMs', 'hoverMs']) {
        const af = delta(r1, 'af', id, k) - delta(r0, 'af', id, k);
        const truth = delta(r1, 'truth', id, k) - delta(r0, 'truth', id, k);
        if (Math.abs(af - truth) >= worst.error)
          worst = { error: Math.abs(af - truth), label: `${id}.${k} ${af.toFixed(0)} vs ${truth.toFixed(0)}` };
        expectClose(af, truth, `${fixture} ${id}.${k}`);
      }
      if (r1.af.items[id]?.attentionMs >= 1000) attended++;
    }
    console.log(
      `${fixture}: ${ids.length} blocks, ${attended} attended ≥ 1 s in the session; worst error ${worst.error.toFixed(0)} ms (${worst.label})`,
    );
    expect(attended).toBeGreaterThanOrEqual(2);
    expect(Object.values(r1.af.items).some((it: any) => it.hoverMs > 300)).toBe(true);
  });
}

test('a headed block added later (lazy content) is picked up like any other item', async ({ page }) => {
  await open(page, 'flat-blog');
  await page.evaluate(() => {
    const post = document.querySelector('.post')!;
    const h2 = document.createElement('h2');
    h2.id = 'comments-later';
    post.append(h2);
    for (let i = 0; i < 3; i++) post.append(Object.assign(document.createElement('p'), { textContent: 'x '.repeat(200) }));
  });
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await expect.poll(() => page.evaluate(() => Object.keys((window as any).attnflow.snapshot().items))).toContain('h2#comments-later');
  // The block before it ends where the new heading starts.
  const before = await page.evaluate(() => (window as any).attnflow.snapshot().items['h2#lessons']);
  expect(before).toBeTruthy();
});

test('nothing of the page is wrapped, moved or styled; the overlay tints every element of a block and shows topics with their sources', async ({
  page,
}) => {
  await page.goto('/test/fixtures/flat-blog.html');
  await waitForTracker(page);
  const shape = () =>
    page.evaluate(() =>
      [...document.body.querySelectorAll('*')]
        .map((e) => `${e.localName}>${e.parentElement!.localName}:${e.getAttribute('style') ?? ''}`)
        .join(),
    );
  const before = await shape();
  await waitForChunk(page, 'attnflow-detect.js');
  await stayActive(page, 1200, 700, 300);
  expect(await shape()).toBe(before);

  await page.goto('/test/fixtures/flat-blog.html?attn-debug');
  await waitForTracker(page);
  await stayActive(page, 1500, 700, 300);
  const view = await page.evaluate(() => {
    const labels = [...document.getElementById('attnflow-debug')!.shadowRoot!.querySelectorAll('[data-part="label"]')];
    const lead = labels.find((l) => l.getAttribute('data-item') === 'h1:/main/div/h1')?.textContent ?? '';
    const tinted = [...document.querySelectorAll<HTMLElement>('[data-truth="h1:/main/div/h1"]')].map((e) => e.style.boxShadow !== '');
    return { lead, tinted };
  });
  expect(view.tinted.length).toBeGreaterThanOrEqual(3);
  expect(view.tinted.every(Boolean)).toBe(true);
  expect(view.lead).toContain('topics cycling (tag), travel (tag), railways (meta), railway-paths (meta)');
});
