/**
 * What the cross-engine tests do in a page, through the driver (test/engines/drivers.mjs): the
 * same steps as test/e2e/helpers.ts, done from inside the page so that both engines run them the
 * same way (no engine-specific input API): scrolling with window.scrollTo, the visitor kept active
 * with dispatched pointer moves, the tab "hidden" by overriding document.visibilityState.
 */
import assert from 'node:assert/strict';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until the script tag's tracker is up (the stub replaced by the API). */
export function waitForTracker(tab) {
  return tab.waitFor(() => typeof window.attnflow?.snapshot === 'function' && !Array.isArray(window.attnflow), [], {
    message: 'attnflow did not start',
  });
}

/**
 * Keeps the visitor active for `ms`: a pointer move at (x, y) every `every` ms, dispatched in the
 * page (an input like any other to attnflow and to the fixtures' ground truth, but no hover: the
 * browser's :hover follows only a real pointer, so x defaults to a point beside the items).
 */
export function stayActive(tab, ms, x = 900, y = 400, every = 400) {
  return tab.evaluate(
    (ms, x, y, every) =>
      new Promise((resolve) => {
        const end = performance.now() + ms;
        let i = 0;
        const move = () => {
          const target = document.elementFromPoint(x, y) || document.documentElement;
          target.dispatchEvent(
            new PointerEvent('pointermove', { bubbles: true, composed: true, clientX: x + (i++ % 2), clientY: y, pointerType: 'mouse' }),
          );
          const left = end - performance.now();
          if (left <= 0) return resolve();
          setTimeout(move, Math.min(every, left));
        };
        move();
      }),
    ms,
    x,
    y,
    every,
  );
}

/** Scrolls so that item `id`'s top is `top` px below the top of the viewport, then waits two frames. */
export function scrollToItem(tab, id, top = 0) {
  return tab.evaluate(
    (id, top) =>
      new Promise((resolve) => {
        const el = document.querySelector(`[data-attn-item="${id}"]`);
        window.scrollTo(0, el.getBoundingClientRect().top + scrollY - top);
        requestAnimationFrame(() => requestAnimationFrame(resolve));
      }),
    id,
    top,
  );
}

/** Overrides document.visibilityState (and hidden) and dispatches visibilitychange. */
export function setVisibility(tab, state) {
  return tab.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

/** attnflow's snapshot and the fixture's ground truth (test/fixtures/capture-truth.js), read in one go. */
export function readAttention(tab) {
  return tab.evaluate(() => ({ af: window.attnflow.snapshot(), truth: window.__truth.snapshot() }));
}

/** The tolerance of the Chromium tests (test/e2e/helpers.ts): max(150 ms, 5%) of the truth. */
export function expectClose(actual, truth, label) {
  const tol = Math.max(150, 0.05 * Math.abs(truth));
  assert.ok(Math.abs(actual - truth) <= tol, `${label}: measured ${actual.toFixed(0)}, truth ${truth.toFixed(0)} (±${tol.toFixed(0)})`);
}

const MS = ['attentionMs', 'visibleMs', 'viewableMs', 'hoverMs'];
const zero = { attentionMs: 0, visibleMs: 0, viewableMs: 0, hoverMs: 0 };

/**
 * Compares what attnflow measured between two reads with what the truth measured, page and every
 * item (as test/e2e/capture.spec.ts does), and checks Σ attention ≤ engaged time.
 */
export function compare(r0, r1) {
  const delta = (a, b, k) => (b?.[k] ?? 0) - (a?.[k] ?? 0);
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
  const sum = Object.values(r1.af.items).reduce((s, it) => s + it.attentionMs, 0);
  assert.ok(sum <= r1.af.page.engagedMs + ids.size, `Σ attentionMs ${sum} > engagedMs ${r1.af.page.engagedMs}`);
}

export const itemDelta = (r0, r1, id, k) => (r1.af.items[id]?.[k] ?? 0) - (r0.af.items[id]?.[k] ?? 0);

/** Names of the origin's IndexedDB databases. */
export const dbNames = (tab) => tab.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
export const exportAll = (tab) => tab.evaluate(() => window.attnflow.export());
export const snapshot = (tab) => tab.evaluate(() => window.attnflow.snapshot());
export const flush = (tab) => tab.evaluate(() => window.attnflow.flush());

/**
 * Empties the origin: no attnflow database, no localStorage (the unsaved copies, the cached order).
 * WebKit at times leaves a deletion pending while the previous page's connection is still being
 * torn down: each try gives up after 5 s and the next starts from a freshly loaded blank page.
 */
export async function emptyOrigin(tab) {
  for (let attempt = 1; ; attempt++) {
    await tab.open('/test/fixtures/store-blank.html');
    const done = await tab.evaluate(
      () =>
        new Promise((resolve) => {
          localStorage.clear();
          const q = indexedDB.deleteDatabase('attnflow');
          q.onsuccess = q.onerror = q.onblocked = () => resolve(true);
          setTimeout(() => resolve(false), 5000);
        }),
    );
    if (done) return;
    if (attempt === 3) assert.fail('emptyOrigin: the attnflow database could not be deleted in 3 tries');
  }
}

/** Polls `fn` (in Node) until `check(value)` holds; fails with the last value after `timeout`. */
export async function poll(fn, check, { timeout = 5000, message = 'poll' } = {}) {
  const end = Date.now() + timeout;
  let value;
  for (;;) {
    value = await fn();
    if (check(value)) return value;
    if (Date.now() > end) assert.fail(`${message}: still ${JSON.stringify(value)?.slice(0, 400)} after ${timeout} ms`);
    await sleep(100);
  }
}
