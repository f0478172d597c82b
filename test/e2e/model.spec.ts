import { guardContext, test, expect } from './helpers';

// The model chunk in a real page: backends agree, the fastest is picked, broken backends fall back,
// tensors do not leak and the main thread never gets a long task from the model.

const FIXTURE = '/test/fixtures/model.html';

async function open(page: import('@playwright/test').Page) {
  await page.goto(FIXTURE);
  await page.waitForFunction(() => (window as any).hostReady === true);
}

test('webgl, wasm and cpu give the same scores, on the page and in the worker', async ({ page }) => {
  test.setTimeout(180_000);
  await open(page);
  const result = await page.evaluate(async () => {
    const w = window as any;
    const chunk = await w.chunk();
    const history = w.visitorLog(40);
    const candidates = w.candidates(200);
    // One set of weights, made once, fed to every backend.
    const first = await chunk.createModelHost({ worker: false, init: { backends: ['cpu'], model: { seed: 11 } } });
    const weights = await first.host.save('float32');
    first.host.dispose();
    const out: Record<string, { backend: string; where: string; scores: number[] }> = {};
    for (const where of ['page', 'worker']) {
      for (const backend of ['webgl', 'wasm', 'cpu']) {
        const { host, state } = await chunk.createModelHost({
          worker: where === 'worker',
          init: { backends: [backend], skipSoftwareGL: false, model: { weights: weights.slice() } },
        });
        const scores = await host.score(history, candidates);
        out[`${where}/${backend}`] = { backend: state.backend.name, where: host.where, scores: Array.from(scores) };
        host.dispose();
      }
    }
    return out;
  });
  const reference = result['page/cpu']!.scores;
  expect(reference).toHaveLength(200);
  expect(new Set(reference.map((x) => x.toFixed(4))).size).toBeGreaterThan(50); // not a constant scorer
  for (const [key, run] of Object.entries(result)) {
    const [where, backend] = key.split('/');
    expect(run.backend, key).toBe(backend); // ran there, did not merely fall back
    expect(run.where, key).toBe(where);
    let worst = 0;
    run.scores.forEach((s, i) => {
      const r = reference[i]!;
      worst = Math.max(worst, Math.abs(s - r) / Math.max(1, Math.abs(r)));
    });
    console.log(`${key}: max relative error vs page/cpu ${worst.toExponential(2)}`);
    expect(worst, key).toBeLessThan(1e-3);
  }
});

test('the automatic choice measures the backends and keeps the fastest', async ({ page }) => {
  test.setTimeout(120_000);
  await open(page);
  const state = await page.evaluate(async () => {
    const w = window as any;
    const chunk = await w.chunk();
    const { host, state } = await chunk.createModelHost({
      init: { probe: { history: w.visitorLog(30), candidates: w.candidates(200), rounds: 5 }, model: { seed: 2 } },
    });
    host.dispose();
    return { ...state, where: host.where };
  });
  console.log(
    `probe (worker): ${state.probe.map((p: any) => `${p.backend} ${p.scoreMs?.toFixed(2) ?? p.error} ms`).join(', ')} → ${state.backend.name}`,
  );
  expect(state.where).toBe('worker');
  const measured = state.probe.filter((p: any) => p.scoreMs !== undefined);
  // This machine renders WebGL in software (SwiftShader): it is skipped unmeasured; on a GPU it is measured.
  expect(state.probe.find((p: any) => p.backend === 'webgl')).toEqual({ backend: 'webgl', error: 'software WebGL skipped' });
  expect(measured.map((p: any) => p.backend).sort()).toEqual(['cpu', 'wasm']);
  const fastest = measured.reduce((a: any, b: any) => (b.scoreMs < a.scoreMs ? b : a));
  expect(state.backend.name).toBe(fastest.backend);
});

test('software WebGL is measured when asked to, and then loses to WASM here', async ({ page }) => {
  test.setTimeout(120_000);
  await open(page);
  const state = await page.evaluate(async () => {
    const w = window as any;
    const chunk = await w.chunk();
    const { host, state } = await chunk.createModelHost({
      init: {
        skipSoftwareGL: false,
        backends: ['webgl', 'wasm'],
        probe: { history: w.visitorLog(10), candidates: w.candidates(200), rounds: 3 },
      },
    });
    host.dispose();
    return state;
  });
  console.log(`probe with software WebGL: ${state.probe.map((p: any) => `${p.backend} ${p.scoreMs?.toFixed(2)} ms`).join(', ')}`);
  expect(state.probe.map((p: any) => p.backend)).toEqual(['webgl', 'wasm']);
  expect(state.probe.every((p: any) => p.scoreMs > 0)).toBe(true);
  expect(state.backend.name).toBe('wasm');
});

test('on the page, WASM is measured alone while it works; without it, software WebGL is skipped unmeasured', async ({ page }) => {
  await open(page);
  const choose = () =>
    page.evaluate(async () => {
      const w = window as any;
      const chunk = await w.chunk();
      const { host, state } = await chunk.createModelHost({
        worker: false,
        init: { probe: { history: w.visitorLog(10), candidates: w.candidates(50) } },
      });
      host.dispose();
      return state;
    });
  const state = await choose();
  expect(state.backend.name).toBe('wasm');
  expect(state.probe[0].backend).toBe('wasm');
  expect(state.probe[0].scoreMs).toBeGreaterThan(0);
  expect(state.probe.slice(1)).toEqual([
    { backend: 'webgl', error: 'not measured on the page: WASM works' },
    { backend: 'cpu', error: 'not measured on the page: WASM works' },
  ]);
  // Without WASM (its binary blocked), the others are measured, but not WebGL in software.
  await open(page);
  await page.route('**/*.wasm', (route) => route.abort());
  const without = await choose();
  expect(without.probe.map((p: { backend: string }) => p.backend)).toEqual(['wasm', 'webgl', 'cpu']);
  expect(without.probe[0].error).toBeTruthy();
  expect(without.probe[1]).toEqual({ backend: 'webgl', error: 'software WebGL skipped' });
  expect(without.backend.name).toBe('cpu');
});

test('a lost WebGL context moves the model to the next backend with its weights', async ({ page }) => {
  await open(page);
  const out = await page.evaluate(async () => {
    const w = window as any;
    const chunk = await w.chunk();
    const history = w.visitorLog(20);
    const candidates = w.candidates(20);
    const { host, state } = await chunk.createModelHost({
      worker: false,
      init: { backends: ['webgl', 'wasm', 'cpu'], skipSoftwareGL: false, model: { seed: 5 } },
    });
    const before = Array.from(await host.score(history, candidates));
    const gl = await chunk.webglContext();
    gl.getExtension('WEBGL_lose_context').loseContext();
    await new Promise((r) => setTimeout(r, 50));
    const after = Array.from(await host.score(history, candidates));
    const info = await host.info();
    host.dispose();
    return { first: state.backend.name, before, after, now: info.backend.name, fellBackFrom: info.fellBackFrom };
  });
  expect(out.first).toBe('webgl');
  expect(out.fellBackFrom).toEqual(['webgl']);
  expect(out.now).toBe('wasm');
  expect(out.after).toHaveLength(20);
  out.after.forEach((s: number, i: number) => expect(Math.abs(s - out.before[i]!)).toBeLessThan(1e-3));
});

test('with WebGL unavailable the model runs on the next backend', async ({ page }) => {
  // A browser or policy without WebGL: every canvas refuses a WebGL context.
  await page.addInitScript(() => {
    for (const proto of [HTMLCanvasElement.prototype, (globalThis as any).OffscreenCanvas?.prototype].filter(Boolean)) {
      const get = proto.getContext;
      proto.getContext = function (this: unknown, type: string, ...rest: unknown[]) {
        return /webgl/.test(type) ? null : get.call(this, type, ...rest);
      };
    }
  });
  await open(page);
  const out = await page.evaluate(async () => {
    const w = window as any;
    const chunk = await w.chunk();
    const { host, state } = await chunk.createModelHost({ worker: false, init: { skipSoftwareGL: false, model: { seed: 4 } } });
    const scores = await host.score(w.visitorLog(5), w.candidates(10));
    host.dispose();
    return { backend: state.backend.name, n: scores.length };
  });
  expect(out).toEqual({ backend: 'wasm', n: 10 });
});

test('a missing worker script or blocked wasm binary falls back and keeps working', async ({ page }) => {
  await open(page);
  await page.route('**/*.wasm', (route) => route.abort());
  const out = await page.evaluate(async () => {
    const w = window as any;
    const chunk = await w.chunk();
    const a = await chunk.createModelHost({ workerUrl: '/dist/no-such-worker.js', init: { backends: ['cpu'] } });
    const b = await chunk.createModelHost({ worker: false, init: { backends: ['wasm', 'cpu'] } });
    const scores = await b.host.score(w.visitorLog(5), w.candidates(10));
    a.host.dispose();
    b.host.dispose();
    return { aWhere: a.host.where, bBackend: b.state.backend.name, n: scores.length };
  });
  expect(out).toEqual({ aWhere: 'page', bBackend: 'cpu', n: 10 });
});

test('100 train and score rounds leave no tensor behind, on the page and in the worker', async ({ page }) => {
  test.setTimeout(180_000);
  await open(page);
  const counts = await page.evaluate(async () => {
    const w = window as any;
    const chunk = await w.chunk();
    const out: Record<string, number[]> = {};
    for (const worker of [false, true]) {
      const { host } = await chunk.createModelHost({ worker, init: { backends: ['wasm', 'cpu'], model: { seed: 3 } } });
      const candidates = w.candidates(50);
      await host.score(w.visitorLog(10), candidates);
      await host.train([w.visitorLog(12, 1), w.visitorLog(12, 2)]);
      const start = await host.numTensors();
      for (let i = 0; i < 100; i++) {
        await host.train([w.visitorLog(12, i)]);
        await host.score(w.visitorLog(10, i), candidates);
      }
      out[worker ? 'worker' : 'page'] = [start, await host.numTensors()];
      host.dispose();
    }
    return out;
  });
  expect(counts.page![1]).toBe(counts.page![0]);
  expect(counts.worker![1]).toBe(counts.worker![0]);
});

test('loading, scoring and training in the worker cause no long task on the page', async ({ page }) => {
  test.setTimeout(120_000);
  await open(page);
  const out = await page.evaluate(async () => {
    const w = window as any;
    const long: number[] = [];
    const obs = new PerformanceObserver((list) => list.getEntries().forEach((e) => long.push(e.duration)));
    obs.observe({ type: 'longtask' });
    const chunk = await w.chunk();
    const { host, state } = await chunk.createModelHost({
      init: { probe: { history: w.visitorLog(30), candidates: w.candidates(200) }, model: { seed: 9 } },
    });
    for (let i = 0; i < 5; i++) await host.train([w.visitorLog(40, i), w.visitorLog(40, i + 1)]);
    for (let i = 0; i < 20; i++) await host.score(w.visitorLog(30, i), w.candidates(200));
    await new Promise((r) => setTimeout(r, 100));
    obs.disconnect();
    host.dispose();
    return { long, where: host.where, backend: state.backend.name };
  });
  expect(out.where).toBe('worker');
  expect(out.long).toEqual([]);
});

test('on the page (no worker), a first visit choosing the backend, scoring, training and saving causes no long task', async ({
  browser,
  baseURL,
}) => {
  test.setTimeout(120_000);
  type Run = {
    long: number[];
    where: string;
    backend: string;
    probe: { backend: string; error?: string }[];
    steps: number;
    bytes: number;
    offsite: string[];
    errors: string[];
  };
  // Each visit in a browser context of its own: a new renderer, which has compiled none of the
  // model's code (the browser keeps compiled scripts and WASM modules in memory across pages of
  // one renderer), as on a visitor's first page view.
  const run = async (): Promise<Run> => {
    const context = await browser.newContext({ baseURL });
    const { offsite, pageErrors: errors } = await guardContext(context);
    const page = await context.newPage();
    await open(page);
    const out = await page.evaluate(async () => {
      const w = window as any;
      const long: number[] = [];
      const obs = new PerformanceObserver((list) => list.getEntries().forEach((e) => long.push(Math.round(e.duration))));
      obs.observe({ type: 'longtask' });
      const chunk = await w.chunk();
      const { host, state } = await chunk.createModelHost({
        worker: false,
        init: { probe: { history: w.visitorLog(30), candidates: w.candidates(200) }, model: { seed: 9 } },
      });
      for (let i = 0; i < 5; i++) await host.score(w.visitorLog(30, i), w.candidates(200));
      let steps = 0;
      for (let i = 0; i < 5; i++) steps += (await host.train([w.visitorLog(50, i), w.visitorLog(50, i + 1)])).targets > 0 ? 1 : 0;
      const bytes = (await host.save('float32')).byteLength;
      await new Promise((r) => setTimeout(r, 100));
      obs.disconnect();
      host.dispose();
      return { long, where: host.where, backend: state.backend.name, probe: state.probe, steps, bytes };
    });
    await context.close();
    return { ...out, offsite, errors };
  };
  // A stall of the machine itself (another process, a garbage collection) can make one long task
  // anywhere, once: a visit with one gets a second chance, a first visit again, and that one must
  // be clean.
  let out = await run();
  if (out.long.length > 0) {
    console.log(`first visit: long tasks ${JSON.stringify(out.long)} ms`);
    out = await run();
  }
  expect(out.where).toBe('page');
  expect(out.backend).toBe('wasm');
  expect(out.probe.find((p) => p.backend === 'cpu')?.error).toMatch(/not measured on the page/);
  expect(out.steps).toBe(5);
  expect(out.bytes).toBeGreaterThan(1_000_000);
  expect(out.offsite).toEqual([]);
  expect(out.errors).toEqual([]);
  expect(out.long).toEqual([]);
});
