/**
 * Shared browser-test helpers. Every test imported from here fails when the page makes a request
 * to anything but 127.0.0.1 or throws an uncaught error.
 */
import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';

/**
 * Blocks every request of `context` to anything but 127.0.0.1 and collects those requests and
 * the uncaught errors of its pages, for a test to assert empty.
 */
export async function guardContext(context: BrowserContext): Promise<{ offsite: string[]; pageErrors: string[] }> {
  const offsite: string[] = [];
  const pageErrors: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    offsite.push(route.request().url());
    return route.abort('blockedbyclient');
  });
  const watch = (page: Page) => {
    page.on('pageerror', (error) => pageErrors.push(`${error.name}: ${error.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return { offsite, pageErrors };
}

export const test = base.extend<{ guard: { offsite: string[]; pageErrors: string[] } }>({
  guard: [
    async ({ context }, use) => {
      const { offsite, pageErrors } = await guardContext(context);
      await use({ offsite, pageErrors });
      expect(offsite, 'requests to anything but 127.0.0.1').toEqual([]);
      expect(pageErrors, 'uncaught page errors').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** Empties the test origin (port 4173): the log's database, and with `storage`, localStorage too. */
export async function emptyOrigin(page: Page, { storage = false } = {}): Promise<void> {
  await page.goto('/test/fixtures/store-blank.html');
  await page.evaluate(
    (storage) =>
      new Promise((r) => {
        if (storage) localStorage.clear();
        const q = indexedDB.deleteDatabase('attnflow');
        q.onsuccess = q.onerror = q.onblocked = r;
      }),
    storage,
  );
}

/** Collects console messages of the given types, for tests that assert warnings. */
export function collectConsole(page: Page, types: string[] = ['warning', 'error']): string[] {
  const out: string[] = [];
  page.on('console', (msg) => {
    if (types.includes(msg.type())) out.push(`${msg.type()}: ${msg.text()}`);
  });
  return out;
}

// ---- Attention capture helpers -------------------------------------------------------------

/** Waits until the script tag's tracker is up (`attnflow:ready` was dispatched). */
export async function waitForTracker(page: Page): Promise<void> {
  await page.waitForFunction(() => typeof (window as any).attnflow?.snapshot === 'function');
}

/** Waits until a chunk loaded after start-up (`attnflow-capture.js`, …) has arrived and started. */
export async function waitForChunk(page: Page, file: string): Promise<void> {
  await page.waitForFunction((f) => performance.getEntriesByType('resource').some((e) => e.name.endsWith(`/${f}`)), file);
  // The module runs, and its loader's callback starts it, in the tasks right after the response.
  await page.waitForTimeout(50);
}

/** "Hides the tab": overrides document.visibilityState (and hidden) and dispatches visibilitychange. */
export async function hideTab(page: Page): Promise<void> {
  await setVisibility(page, 'hidden');
}

/** Shows the tab again after `hideTab`. */
export async function showTab(page: Page): Promise<void> {
  await setVisibility(page, 'visible');
}

async function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  await page.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

/** "Goes idle": no input at all for `ms`. */
export async function goIdle(page: Page, ms: number): Promise<void> {
  await page.waitForTimeout(ms);
}

/** Scrolls (without input events) so that item `id`'s top is `top` px below the top of the viewport. */
export async function scrollToItem(page: Page, id: string, top = 0): Promise<void> {
  await page.evaluate(
    ([i, t]) => {
      const el = document.querySelector(`[data-attn-item="${i}"]`) as HTMLElement;
      window.scrollTo(0, el.getBoundingClientRect().top + scrollY - (t as number));
    },
    [id, top] as const,
  );
  // Let IntersectionObserver and the ground truth see the new position.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

/** Keeps the visitor active for `ms`: a small pointer move at `(x, y)` every `every` ms. */
export async function stayActive(page: Page, ms: number, x = 900, y = 400, every = 400): Promise<void> {
  const end = Date.now() + ms;
  let i = 0;
  while (Date.now() < end) {
    await page.mouse.move(x + (i++ % 2), y);
    await page.waitForTimeout(Math.min(every, Math.max(0, end - Date.now())));
  }
}

/** attnflow's snapshot and the fixture's ground truth (test/fixtures/capture-truth.js), read in one go. */
export async function readAttention(page: Page): Promise<{ af: any; truth: any }> {
  return page.evaluate(() => ({ af: (window as any).attnflow.snapshot(), truth: (window as any).__truth.snapshot() }));
}

/** The tolerance of every measured figure: max(150 ms, 5%) of the truth. */
export function expectClose(actual: number, truth: number, label: string): void {
  const tol = Math.max(150, 0.05 * Math.abs(truth));
  expect(
    Math.abs(actual - truth),
    `${label}: measured ${actual.toFixed(0)}, truth ${truth.toFixed(0)} (±${tol.toFixed(0)})`,
  ).toBeLessThanOrEqual(tol);
}
