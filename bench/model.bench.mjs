#!/usr/bin/env node
// Model in the browser, per backend (webgl, wasm, cpu), on the page and in the Worker:
// time to first score (chunk fetch + backend init + weights, cold cache), scoring 200 candidates
// for a new visitor each call: the median of the first 50 calls (JavaScript still compiling, which
// on 2 cores competes with the call) and of 50 calls after 200 more (warm, with the 90th
// percentile), and for the same visitor again (its vector kept: the candidates alone), an empty call (what the host itself costs: on the page the wait for an idle slot,
// in the worker the message round trip), a training step on one visitor's log (the step the SDK
// takes) and one of 64 examples, with the long tasks of each; then the automatic
// choice, a returning visitor's first score and first 50 calls (second page view, caches warm),
// and the chunk sizes.
import { spawnSync } from 'node:child_process';
import { chromium } from '@playwright/test';
import { startServer } from '../scripts/serve.mjs';

const ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-swiftshader',
];
const port = Number(process.env.ATTNFLOW_BENCH_PORT || 4175);
const { url, close } = await startServer({ port });
const fixture = `${url}test/fixtures/model.html`;
const browser = await chromium.launch({ executablePath: process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium', args: ARGS });

async function freshPage() {
  const context = await browser.newContext(); // cold HTTP cache
  await context.route('**/*', (r) => (new URL(r.request().url()).hostname === '127.0.0.1' ? r.continue() : r.abort()));
  const page = await context.newPage();
  await page.goto(fixture);
  await page.waitForFunction(() => window.hostReady === true);
  return { page, context };
}

try {
  // Weights made once, so every backend loads the same model.
  let { page, context } = await freshPage();
  const weights = await page.evaluate(async () => {
    const chunk = await window.chunk();
    const { host } = await chunk.createModelHost({ worker: false, init: { backends: ['cpu'], model: { seed: 21 } } });
    const bytes = await host.save('float16');
    host.dispose();
    return Array.from(bytes);
  });
  await context.close();
  console.log(`model weights: ${(weights.length / 1024).toFixed(0)} KB (float16)`);

  const rows = [];
  for (const where of ['page', 'worker']) {
    for (const backend of ['webgl', 'wasm', 'cpu']) {
      ({ page, context } = await freshPage());
      const r = await page.evaluate(
        async ({ where, backend, weights }) => {
          const w = window;
          const history = w.visitorLog(50);
          const candidates = w.candidates(200);
          const long = [];
          const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => long.push(e.duration)));
          obs.observe({ type: 'longtask' });
          const t0 = performance.now();
          const chunk = await w.chunk();
          const { host, state } = await chunk.createModelHost({
            worker: where === 'worker',
            init: { backends: [backend], skipSoftwareGL: false, model: { weights: new Uint8Array(weights) } },
          });
          await host.score(history, candidates);
          const firstScore = performance.now() - t0;
          const times = [];
          const warm = [];
          const again = [];
          // Software WebGL takes tens of ms a call here: fewer rounds, same medians.
          const rounds = state.backend.software ? 9 : 50;
          const warmUp = state.backend.software ? 20 : 200;
          const visitors = Array.from({ length: 2 * rounds + warmUp }, (_, i) => w.visitorLog(50, i + 2));
          for (let i = 0; i < rounds; i++) {
            const t = performance.now();
            await host.score(visitors[i], candidates);
            times.push(performance.now() - t);
          }
          for (let i = rounds; i < rounds + warmUp; i++) await host.score(visitors[i], candidates);
          for (let i = rounds + warmUp; i < 2 * rounds + warmUp; i++) {
            const t = performance.now();
            await host.score(visitors[i], candidates);
            warm.push(performance.now() - t);
          }
          await host.score(history, candidates);
          for (let i = 0; i < rounds; i++) {
            const t = performance.now();
            await host.score(history, candidates);
            again.push(performance.now() - t);
          }
          times.sort((a, b) => a - b);
          warm.sort((a, b) => a - b);
          again.sort((a, b) => a - b);
          // The host's own cost per call: a call that does no work (the message round trip in the worker).
          const idle = [];
          for (let i = 0; i < 50; i++) {
            const t = performance.now();
            await host.numTensors();
            idle.push(performance.now() - t);
          }
          idle.sort((a, b) => a - b);
          // The step the SDK itself takes: the visitor's own log, negatives from the page's items.
          const own = [w.visitorLog(51, 7)];
          const ownSteps = [];
          for (let i = 0; i < (state.backend.software ? 2 : 4); i++) {
            const t = performance.now();
            await host.train(own, { negativePool: candidates });
            if (i > 0) ownSteps.push(performance.now() - t); // the first step compiles
          }
          ownSteps.sort((a, b) => a - b);
          await new Promise((r) => setTimeout(r, 50)); // long tasks are reported a moment late
          const ownLong = long.splice(0);
          const batch = Array.from({ length: 64 }, (_, i) => w.visitorLog(20, i));
          await host.train(batch); // first step compiles
          const steps = [];
          for (let i = 0; i < (state.backend.software ? 1 : 3); i++) {
            const t = performance.now();
            await host.train(batch);
            steps.push(performance.now() - t);
          }
          steps.sort((a, b) => a - b);
          await new Promise((r) => setTimeout(r, 50));
          obs.disconnect();
          host.dispose();
          const med = (a) => a[Math.floor(a.length / 2)];
          return {
            renderer: state.backend.renderer,
            backend: state.backend.name,
            where: host.where,
            firstScore,
            score: med(times),
            warm: med(warm),
            warm90: warm[Math.floor(warm.length * 0.9)],
            again: med(again),
            call: idle[25],
            rounds,
            own: med(ownSteps),
            train: med(steps),
            ownLong,
            long,
          };
        },
        { where, backend, weights },
      );
      rows.push(r);
      await context.close();
    }
  }
  const renderer = rows.find((r) => r.renderer)?.renderer;
  if (renderer) console.log(`WebGL renderer: ${renderer}`);
  const base = rows.find((r) => r.where === 'page' && r.backend === 'cpu');
  console.log('\n                           score 200 candidates, new visitor each call');
  const longs = (l) => `${String(l.length).padStart(3)}${l.length ? ` (${Math.max(...l).toFixed(0)} ms)` : ''}`;
  console.log(
    'where   backend  first score   first 50 calls   warm: median (× cpu), p90     same visitor   empty call   visitor step   train step (64 ex.)   long tasks: start, scores, visitor steps | 64-ex. steps',
  );
  for (const r of rows) {
    console.log(
      `${r.where.padEnd(8)}${r.backend.padEnd(9)}${`${r.firstScore.toFixed(0)} ms`.padStart(10)}   ${`${r.score.toFixed(2)} ms`.padStart(14)}   ${`${r.warm.toFixed(2)} ms`.padStart(9)} (${(r.warm / base.warm).toFixed(3)}×), ${`${r.warm90.toFixed(2)} ms`.padStart(8)}   ${`${r.again.toFixed(2)} ms`.padStart(12)}   ${`${r.call.toFixed(2)} ms`.padStart(10)}   ${`${r.own.toFixed(0)} ms`.padStart(12)}   ${`${r.train.toFixed(0)} ms`.padStart(9)} (${(r.train / base.train).toFixed(3)}× cpu)   ${longs(r.ownLong).padEnd(37)}| ${longs(r.long)}`,
    );
  }
  console.log('(medians of n=50 calls, 9 on software WebGL; "warm" after 200 more calls, 20 on software WebGL; a visitor step is');
  console.log(
    " the one the SDK takes, on one visitor's log of 50 events, median of 3 after the first; the SDK never takes a 64-example step)",
  );

  ({ page, context } = await freshPage());
  const auto = await page.evaluate(async () => {
    const w = window;
    const chunk = await w.chunk();
    const { host, state } = await chunk.createModelHost({
      init: { probe: { history: w.visitorLog(50), candidates: w.candidates(200) }, model: { seed: 21 } },
    });
    host.dispose();
    return { where: host.where, backend: state.backend.name, renderer: state.backend.renderer, probe: state.probe };
  });
  await context.close();
  const measured = auto.probe.filter((p) => p.scoreMs !== undefined);
  const fastest = measured.reduce((a, b) => (b.scoreMs < a.scoreMs ? b : a));
  console.log(
    `\nautomatic choice (${auto.where}): ${auto.backend}; probe ${measured.map((p) => `${p.backend} ${p.scoreMs.toFixed(2)} ms`).join(', ')}`,
  );
  console.log(`  ${auto.backend === fastest.backend ? 'the fastest backend was chosen' : `NOT the fastest (${fastest.backend})`}`);
  if (auto.renderer) console.log(`  webgl renderer: ${auto.renderer}`);

  // A returning visitor, the one personalization is for (a first visit has no history yet): the
  // second page view in the same browser, where the chunks come from the HTTP cache and V8 has
  // their compiled code (the .wasm module's optimized code too), and the backend chosen on the
  // first view is remembered, as the learner remembers it in the store.
  console.log('\nreturning visitor (second page view, same browser), automatic choice');
  console.log('where   backend   first score   first 50 calls   long tasks');
  for (const where of ['page', 'worker']) {
    const context = await browser.newContext();
    await context.route('**/*', (r) => (new URL(r.request().url()).hostname === '127.0.0.1' ? r.continue() : r.abort()));
    const page = await context.newPage();
    let r;
    for (let view = 0; view < 2; view++) {
      await page.goto(fixture);
      await page.waitForFunction(() => window.hostReady === true);
      r = await page.evaluate(
        async ({ worker, remembered }) => {
          const w = window;
          const long = [];
          const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => long.push(e.duration)));
          obs.observe({ type: 'longtask' });
          const candidates = w.candidates(200);
          const t0 = performance.now();
          const { host, state } = await (await w.chunk()).createModelHost({
            worker,
            init: { probe: { history: w.visitorLog(50), candidates }, remembered, model: { seed: 21 } },
          });
          await host.score(w.visitorLog(50, 1), candidates);
          const firstScore = performance.now() - t0;
          const times = [];
          for (let i = 0; i < 50; i++) {
            const t = performance.now();
            await host.score(w.visitorLog(50, i + 2), candidates);
            times.push(performance.now() - t);
          }
          times.sort((a, b) => a - b);
          obs.disconnect();
          host.dispose();
          return { where: host.where, backend: state.backend.name, firstScore, score: times[25], long: long.length };
        },
        { worker: where === 'worker', remembered: r?.backend },
      );
      // Compiled code is written to the cache a moment after a page used it.
      await page.waitForTimeout(1500);
    }
    await context.close();
    console.log(
      `${r.where.padEnd(8)}${r.backend.padEnd(9)}${`${r.firstScore.toFixed(0)} ms`.padStart(11)}   ${`${r.score.toFixed(2)} ms`.padStart(14)}   ${String(r.long).padStart(10)}`,
    );
  }
} finally {
  await browser.close();
  await close();
}

console.log('\nchunk sizes (min+gz):');
const size = spawnSync(process.execPath, [new URL('../scripts/size.mjs', import.meta.url).pathname], { encoding: 'utf8' }).stdout;
console.log(
  size
    .split('\n')
    .filter((l) => /model chunk|attnflow-(model|worker|engine|webgl|wasm|cpu|tfjs-core)\.js/.test(l))
    .join('\n'),
);
