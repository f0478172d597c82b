import { test, expect, collectConsole } from './helpers';

test('the script tag creates one tracker, drains the queue and announces itself', async ({ page }) => {
  const warnings = collectConsole(page);
  await page.goto('/test/fixtures/smoke.html');
  await page.waitForFunction(() => (window as any).__ready === 1);

  const state = await page.evaluate(() => {
    const af = (window as any).attnflow;
    return {
      isArray: Array.isArray(af),
      methods: ['snapshot', 'on', 'consent', 'stop', 'push', 'loadModel'].filter((m) => typeof af[m] === 'function'),
      version: af.version,
      snapshot: af.snapshot(),
    };
  });
  expect(state.isArray).toBe(false);
  expect(state.methods).toEqual(['snapshot', 'on', 'consent', 'stop', 'push', 'loadModel']);
  expect(state.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(state.snapshot.page.startedAt).toBeGreaterThan(Date.now() - 60_000);

  // Calls pushed after load run at once; unknown commands warn instead of throwing.
  await page.evaluate(() => (window as any).attnflow.push(['noSuchCommand', 1]));
  expect(warnings.some((w) => w.includes('attnflow: ignored an unknown command') && w.includes('noSuchCommand'))).toBe(true);
});

test('including the script twice keeps the first tracker', async ({ page }) => {
  await page.goto('/test/fixtures/smoke.html');
  await page.waitForFunction(() => (window as any).__ready === 1);
  const first = await page.evaluateHandle(() => (window as any).attnflow);
  await page.evaluate(
    () =>
      new Promise<void>((resolve, reject) => {
        const s = document.createElement('script');
        s.src = '/dist/attnflow.js';
        s.onload = () => resolve();
        s.onerror = () => reject(new Error('second copy failed to load'));
        document.head.appendChild(s);
      }),
  );
  const same = await page.evaluate((f) => f === (window as any).attnflow, first);
  expect(same).toBe(true);
  expect(await page.evaluate(() => (window as any).__ready)).toBe(1);
});

test('the queue stub is drained in order before attnflow:ready', async ({ page }) => {
  await page.addInitScript(() => {
    const order: string[] = ((window as any).__order = []);
    const warn = console.warn.bind(console);
    console.warn = (...args: unknown[]) => {
      order.push(`${args[0]} ${JSON.stringify(args[1])}`);
      warn(...args);
    };
    addEventListener('attnflow:ready', () => order.push('ready'));
    (window as any).attnflow = [['firstQueued'], ['consent', true], ['secondQueued']];
  });
  await page.goto('/test/fixtures/smoke.html');
  await page.waitForFunction(() => (window as any).__ready === 1);
  expect(await page.evaluate(() => (window as any).__order)).toEqual([
    'attnflow: ignored an unknown command, or a queued call that is not [command, ...args]: ["firstQueued"]',
    'attnflow: ignored an unknown command, or a queued call that is not [command, ...args]: ["secondQueued"]',
    'ready',
  ]);
  expect(await page.evaluate(() => typeof (window as any).attnflow.push)).toBe('function');
});

test('bad data-* options are a clear named error, and the page keeps working', async ({ page }) => {
  const messages = collectConsole(page, ['error']);
  await page.goto('/test/fixtures/bad-options.html');
  expect(messages.join('\n')).toMatch(/AttnflowConfigError: attnflow: data-idle-after: expected a number of ms, received "soon"/);
  expect(await page.evaluate(() => Array.isArray((window as any).attnflow) || (window as any).attnflow === undefined)).toBe(true);
});

test('the model chunk loads from the script folder and tfjs WebGL initializes', async ({ page }, testInfo) => {
  const requested: string[] = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await page.goto('/test/fixtures/smoke.html');
  await page.waitForFunction(() => (window as any).__ready === 1);
  // The log's and the capture chunk load at start-up; nothing of the model before it is asked for.
  expect(requested.filter((p) => p.includes('attnflow-') && !/\/attnflow-(store|capture)\.js$/.test(p))).toEqual([]);

  const info = await page.evaluate(async () => {
    const chunk = await (window as any).attnflow.loadModel();
    return chunk.initBackend('webgl');
  });
  expect(info.name).toBe('webgl');
  expect(info.renderer).toBeTruthy();
  console.log(`WebGL renderer: ${info.renderer} (software: ${info.software}, init ${info.initMs.toFixed(0)} ms)`);
  testInfo.annotations.push({ type: 'webgl-renderer', description: info.renderer });
  expect(requested).toContain('/dist/attnflow-model.js');
  expect(requested).toContain('/dist/attnflow-webgl.js');
});
