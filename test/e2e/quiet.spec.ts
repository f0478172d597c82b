/**
 * A quiet guest: nothing of the SDK or of TensorFlow.js reaches the host page's console unless
 * `debug` is on, also where a backend cannot start (a browser without WebGL, as headless Firefox
 * is): the model falls back to WASM and says why in its state and the debug log.
 */
import type { ConsoleMessage } from '@playwright/test';
import { test, expect, guardContext } from './helpers';

// No GPU and no software rasterizer: no WebGL, on the page nor in workers, as in headless Firefox.
const ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-gpu',
  '--disable-software-rasterizer',
];

test('without WebGL, a personalized page says nothing on the console; the model runs on WASM and debug says why', async ({
  playwright,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const browser = await playwright.chromium.launch({
    executablePath: process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium',
    args: ARGS,
  });
  try {
    const context = await browser.newContext({ baseURL });
    const guard = await guardContext(context);
    const page = await context.newPage();
    const messages: string[] = [];
    // The page's console, and its workers' (the model's), which the page's console shows too.
    const listen = (m: ConsoleMessage) => messages.push(`${m.type()}: ${m.text()}`);
    page.on('console', listen);
    page.on('worker', (w) => w.on('console', listen));
    // The site hears of it on its error hook: a command in the script tag's queue, before the script loads.
    await page.route('**/returning.html*', async (route) => {
      const html = await (await route.fetch()).text();
      const hook = `window.__errors = []; window.attnflow = [['on', 'error', (e) => window.__errors.push({ name: e.name, backend: e.backend, reason: e.reason, usedInstead: e.usedInstead })],`;
      await route.fulfill({ contentType: 'text/html', body: html.replace('window.attnflow = [', hook) });
    });
    await page.goto('/test/fixtures/returning.html');
    await page.waitForFunction(() => (window as any).__times.score, null, { timeout: 60_000 });
    const state = await page.evaluate(async () => {
      const c = document.createElement('canvas');
      return { webgl: !!(c.getContext('webgl2') || c.getContext('webgl')), flushed: await (window as any).attnflow.flush() };
    });
    expect(state.webgl).toBe(false);
    await page.waitForTimeout(1000);
    expect(messages).toEqual([]);
    expect(await page.evaluate(() => (window as any).__errors)).toEqual([
      { name: 'AttnflowBackendError', backend: 'webgl', reason: 'WebGL2 is unavailable here', usedInstead: 'wasm' },
    ]);

    // With debug on (`data-debug` on the script tag), the same page says which backend runs and why WebGL does not.
    // A new visitor, whose backend is chosen again.
    const fresh = await browser.newContext({ baseURL });
    const freshGuard = await guardContext(fresh);
    const debug = await fresh.newPage();
    await debug.route('**/returning.html*', async (route) => {
      const html = await (await route.fetch()).text();
      await route.fulfill({ contentType: 'text/html', body: html.replace('data-explore="0"', 'data-explore="0" data-debug') });
    });
    const said: unknown[][] = [];
    debug.on('console', async (m) => said.push(await Promise.all(m.args().map((a) => a.jsonValue().catch(() => String(a))))));
    await debug.goto('/test/fixtures/returning.html');
    await debug.waitForFunction(() => (window as any).__times.score, null, { timeout: 60_000 });
    await expect
      .poll(() => JSON.stringify(said.find((args) => args.includes('model on')) ?? null))
      .toMatch(/"model on","wasm","in the","worker".*"webgl","error":"WebGL2 is unavailable here"/);
    for (const g of [guard, freshGuard]) {
      expect(g.offsite).toEqual([]);
      expect(g.pageErrors).toEqual([]);
    }
  } finally {
    await browser.close();
  }
});
