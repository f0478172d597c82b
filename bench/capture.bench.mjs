#!/usr/bin/env node
// Main-thread cost of attention capture, against the bare page and two peers.
//
// A long news page; an ~8 s scripted reading session (wheel scrolling with pauses, pointer moves,
// clicks). Cost = CDP Performance.getMetrics ScriptDuration + TaskDuration over the session, and
// long tasks (PerformanceObserver 'longtask'), each minus the same session on the bare page of the
// same round. Rounds interleave the variants; the table shows the median over rounds. ThreadTime
// (the main thread's CPU time) is printed too: unlike task durations it does not grow while the
// thread waits for a core, so it is steadier on a busy machine.
//   attnflow  dist/attnflow.js (the script tag: capture + the IndexedDB store, consent given)
//   attnflow-capture  the same script with data-require-consent, so nothing is stored: the cost of
//             capture and accounting alone
//   rrweb     rrweb's recorder, events kept in memory
//   snowplow  Snowplow browser tracker with activity tracking (page pings every 5 s) and the
//             element-tracking plugin (expose events for every item); collector on 127.0.0.1
//   floor     what the browser itself does for the mechanisms the capture needs, with empty
//             callbacks: passive capture listeners for the same input events, and the same three
//             IntersectionObservers: threshold 0 on every item, handing the items in view to one
//             in 1% steps and one in 5% steps on the middle half
// Own code: CPU-profiler samples (200 µs) whose nearest script frame belongs to the SDK's own
// file, natives it calls included. The profiler runs only in extra rounds after the measured
// ones: while it samples, the bare page's main thread takes twice the time, and every event
// callback, even an empty one, costs something.
// Usage: npm run build && node bench/capture.bench.mjs [--rounds 7] [--profiled-rounds 3]
// Env: ATTNFLOW_BENCH_PORT (default 4179), ATTNFLOW_CHROMIUM (default /usr/bin/chromium).
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { chromium } from '@playwright/test';
import { startServer } from '../scripts/serve.mjs';

const root = new URL('../', import.meta.url);
const out = new URL('./out/', import.meta.url);
const argRounds = process.argv.indexOf('--rounds');
const ROUNDS = argRounds > 0 ? Number(process.argv[argRounds + 1]) : 7;
const argProfiled = process.argv.indexOf('--profiled-rounds');
const PROFILED_ROUNDS = argProfiled > 0 ? Number(process.argv[argProfiled + 1]) : 3;
const PORT = Number(process.env.ATTNFLOW_BENCH_PORT || 4179);
const ITEMS = 120;

if (!existsSync(new URL('dist/attnflow.js', root))) {
  console.error('capture.bench: dist/attnflow.js is missing; run `npm run build` first');
  process.exit(1);
}
mkdirSync(out, { recursive: true });
// Peers from their published browser builds, served from 127.0.0.1 like everything else.
const peers = {
  'rrweb.js': 'node_modules/rrweb/dist/rrweb.umd.min.cjs',
  'snowplow.js': 'node_modules/@snowplow/browser-tracker/dist/index.umd.min.js',
  'snowplow-element.js': 'node_modules/@snowplow/browser-plugin-element-tracking/dist/index.umd.min.js',
};
for (const [name, from] of Object.entries(peers)) copyFileSync(new URL(from, root), new URL(name, out));

/** Which script files are the SDK's own, per variant (for the profiler attribution). */
const OWN = {
  bare: /^$/,
  floor: /^$/,
  attnflow: /\/dist\/attnflow/,
  'attnflow-capture': /\/dist\/attnflow/,
  rrweb: /\/bench\/out\/rrweb/,
  snowplow: /\/bench\/out\/snowplow/,
};

/** ms of profile samples whose nearest frame with a script URL matches `own`. */
function ownTime(profile, own) {
  const parent = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cache = new Map();
  const isOwn = (id) => {
    if (cache.has(id)) return cache.get(id);
    let n = byId.get(id);
    while (n && !n.callFrame.url && parent.has(n.id)) n = byId.get(parent.get(n.id));
    const r = !!n?.callFrame.url && own.test(n.callFrame.url);
    cache.set(id, r);
    return r;
  };
  let us = 0;
  profile.samples.forEach((id, i) => {
    if (isOwn(id)) us += profile.timeDeltas[i + 1] ?? 0;
  });
  return us / 1000;
}

const VARIANTS = {
  bare: '',
  attnflow: '<script src="/dist/attnflow.js"></script>',
  // The same script with data-require-consent: capture and accounting only, nothing stored.
  'attnflow-capture': '<script src="/dist/attnflow.js" data-require-consent></script>',
  floor: `<script>
  for (const t of ['scroll', 'wheel', 'pointermove', 'pointerdown', 'keydown', 'touchstart', 'pointerover', 'pointerout', 'click'])
    document.addEventListener(t, () => {}, { passive: true, capture: true });
  addEventListener('DOMContentLoaded', () => {
    const steps = (n) => Array.from({ length: n + 1 }, (_, i) => i / n);
    const all = new IntersectionObserver(() => {}, { threshold: steps(100) });
    const middle = new IntersectionObserver(() => {}, { threshold: steps(20), rootMargin: '-25% 0px' });
    const gate = new IntersectionObserver((entries) => {
      for (const e of entries) for (const o of [all, middle]) e.isIntersecting ? o.observe(e.target) : o.unobserve(e.target);
    });
    document.querySelectorAll('[data-attn-item]').forEach((e) => gate.observe(e));
  });
</script>`,
  rrweb: `<script src="/bench/out/rrweb.js"></script>
<script>window.__rr = []; rrweb.record({ emit: (e) => window.__rr.push(e) });</script>`,
  snowplow: `<script src="/bench/out/snowplow.js"></script><script src="/bench/out/snowplow-element.js"></script>
<script>
  const sp = window.snowplowBrowserTracking, el = window.snowplowElementTracking;
  sp.newTracker('sp', 'http://127.0.0.1:${PORT}', { appId: 'bench', plugins: [el.SnowplowElementTrackingPlugin()] });
  sp.enableActivityTracking({ minimumVisitLength: 5, heartbeatDelay: 5 });
  el.startElementTracking({ elements: [{ selector: '[data-attn-item]', expose: { when: 'element', minPercentage: 0.5, minTimeMillis: 1000 } }] });
  sp.trackPageView();
</script>`,
};

const IMG = 'data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 width=%2216%22 height=%229%22/%3E';
function pageHtml(variant) {
  const items = Array.from({ length: ITEMS }, (_, i) => {
    const topic = ['sport', 'politics', 'science', 'culture', 'money'][i % 5];
    return `<article data-attn-item="story-${i}" data-attn-topics="${topic}">
  <a href="/news/story-${i}"><img src="${IMG}" alt=""></a>
  <h2><a href="/news/story-${i}">Story ${i}: a headline of ordinary length for a news front page</a></h2>
  <p>${'A paragraph of body text that a reader skims while scrolling down the page. '.repeat(3 + (i % 4))}</p>
  <ul class="tags"><li>${topic}</li><li>today</li></ul>
</article>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bench: ${variant}</title>
<style>
  body { margin: 0; font: 16px/1.5 Georgia, serif; }
  header { padding: 1rem 2rem; border-bottom: 1px solid #ccc; }
  main { max-width: 720px; margin: 0 auto; padding: 1rem; }
  article { margin-bottom: 2rem; } article img { width: 100%; height: 180px; background: #dde; display: block; }
  .tags { display: flex; gap: .5rem; list-style: none; padding: 0; color: #666; }
</style>
${VARIANTS[variant]}
</head><body>
<header><nav><a href="/">Front page</a> · <a href="/sport">Sport</a> · <a href="/politics">Politics</a></nav></header>
<main>
${items}
</main>
</body></html>`;
}
for (const variant of Object.keys(VARIANTS)) writeFileSync(new URL(`page-${variant}.html`, out), pageHtml(variant));

/** The reading session: ~8 s of wheel scrolling with pauses, pointer moves and clicks. */
async function session(page) {
  for (let i = 0; i < 16; i++) {
    await page.mouse.wheel(0, 220 + (i % 3) * 60);
    await page.waitForTimeout(100);
    await page.mouse.move(200 + ((i * 37) % 400), 200 + ((i * 53) % 350), { steps: 6 });
    await page.waitForTimeout(120);
    if (i % 4 === 3) {
      // Click on body text (never a link: a navigation would end the measured document).
      const at = await page.evaluate(() => {
        for (const p of document.querySelectorAll('main p')) {
          const r = p.getBoundingClientRect();
          if (r.top > 80 && r.bottom < innerHeight - 40) return { x: r.left + 40, y: r.top + 10 };
        }
        return null;
      });
      if (at) await page.mouse.click(at.x, at.y);
    }
    await page.waitForTimeout(150);
  }
}

async function run(browser, variant, profiled) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Nothing leaves 127.0.0.1; Snowplow's collector is answered here.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname !== '127.0.0.1') return route.abort('blockedbyclient');
    if (url.pathname.startsWith('/com.snowplowanalytics')) return route.fulfill({ status: 200, body: '' });
    return route.continue();
  });
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__longTasks = 0;
    try {
      new PerformanceObserver((list) => (window.__longTasks += list.getEntries().length)).observe({ type: 'longtask' });
    } catch {}
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`http://127.0.0.1:${PORT}/bench/out/page-${variant}.html`);
  await page.waitForLoadState('load');
  await page.waitForTimeout(500);
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  if (profiled) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  await page.evaluate(() => (window.__longTasks = 0));
  const m0 = await metrics();
  const t0 = Date.now();
  await session(page);
  const wall = Date.now() - t0;
  const m1 = await metrics();
  const profile = profiled ? (await cdp.send('Profiler.stop')).profile : undefined;
  const longTasks = await page.evaluate(() => window.__longTasks);
  await context.close();
  if (errors.length) throw new Error(`${variant}: page errors: ${errors.join('; ')}`);
  return {
    script: (m1.ScriptDuration - m0.ScriptDuration) * 1000,
    task: (m1.TaskDuration - m0.TaskDuration) * 1000,
    thread: (m1.ThreadTime - m0.ThreadTime) * 1000,
    longTasks,
    wall,
    own: profile ? ownTime(profile, OWN[variant]) : NaN,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const server = await startServer({ port: PORT });
const browser = await chromium.launch({
  executablePath: process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
const variants = Object.keys(VARIANTS);
const results = Object.fromEntries(variants.map((v) => [v, []]));
const profiled = Object.fromEntries(variants.map((v) => [v, []]));
try {
  // Measured rounds first, then the profiled ones; each interleaved, and rotated so no variant
  // always runs first.
  for (let r = 0; r < ROUNDS + PROFILED_ROUNDS; r++) {
    const order = variants.slice(r % variants.length).concat(variants.slice(0, r % variants.length));
    const prof = r >= ROUNDS;
    for (const v of order) (prof ? profiled : results)[v].push(await run(browser, v, prof));
    process.stdout.write(`${prof ? 'profiled round' : 'round'} ${prof ? r - ROUNDS + 1 : r + 1}/${prof ? PROFILED_ROUNDS : ROUNDS} done\n`);
  }
} finally {
  await browser.close();
  await server.close();
}

// Overhead per round = variant − bare of the same round; the median of those.
const overhead = {};
for (const v of variants.filter((x) => x !== 'bare')) {
  const d = (k) => median(results[v].map((x, i) => x[k] - results.bare[i][k]));
  overhead[v] = {
    script: d('script'),
    task: d('task'),
    sum: d('script') + d('task'),
    thread: d('thread'),
    longTasks: median(results[v].map((x) => x.longTasks)),
    own: PROFILED_ROUNDS > 0 ? median(profiled[v].map((x) => x.own)) : NaN,
  };
}
const bare = {
  script: median(results.bare.map((x) => x.script)),
  task: median(results.bare.map((x) => x.task)),
  thread: median(results.bare.map((x) => x.thread)),
};
const wall = median(
  Object.values(results)
    .flat()
    .map((x) => x.wall),
);
const f = (n, w = 9) => n.toFixed(1).padStart(w);
console.log(
  `\ncapture overhead over a ${(wall / 1000).toFixed(1)} s reading session (${ITEMS} items), median of ${ROUNDS} interleaved rounds`,
);
console.log(
  `bare page itself: ScriptDuration ${bare.script.toFixed(1)} ms, TaskDuration ${bare.task.toFixed(1)} ms, ThreadTime ${bare.thread.toFixed(1)} ms\n`,
);
console.log(
  `${'variant'.padEnd(18)}${'script ms'.padStart(11)}${'task ms'.padStart(11)}${'sum ms'.padStart(11)}${'thread ms'.padStart(11)}${'long tasks'.padStart(12)}${'own code ms'.padStart(13)}`,
);
for (const [v, o] of Object.entries(overhead)) {
  console.log(
    `${v.padEnd(18)}${f(o.script, 11)}${f(o.task, 11)}${f(o.sum, 11)}${f(o.thread, 11)}${String(o.longTasks).padStart(12)}${f(o.own, 13)}`,
  );
}
console.log(
  `(own code: median of ${PROFILED_ROUNDS} more rounds run under the CPU profiler, kept apart because the profiler itself doubles the bare page's thread time)`,
);
console.log('');
const lightest = Math.min(overhead.rrweb.sum, overhead.snowplow.sum);
for (const mine of ['attnflow', 'attnflow-capture']) {
  const a = overhead[mine];
  const r = (x, y) => (y > 0 && x >= 0 ? `${(x / y).toFixed(2)}×` : 'n/a (within noise)');
  for (const peer of ['rrweb', 'snowplow']) {
    const o = overhead[peer];
    console.log(
      `${mine} / ${peer.padEnd(8)} script+task ${r(a.sum, o.sum).padEnd(19)} script ${r(a.script, o.script).padEnd(19)} own code ${r(a.own, o.own)}`,
    );
  }
  const ok = a.sum <= 0.5 * lightest && a.longTasks === 0;
  console.log(`${mine}: goal (≤ 0.5× the lightest peer, 0 long tasks) ${ok ? 'met' : 'NOT met'}\n`);
}
const fl = overhead.floor;
console.log(
  `floor / rrweb  script+task ${(fl.sum / overhead.rrweb.sum).toFixed(2)}×: the browser's own cost of the listeners and observers the capture needs, before any of our code`,
);
console.log(
  `goal: ≤ ${(0.5 * lightest).toFixed(1)} ms of script+task; the floor alone is ${fl.sum.toFixed(1)} ms, our code adds ${(overhead['attnflow-capture'].sum - fl.sum).toFixed(1)} ms to it (capture only)`,
);
console.log('Overheads are differences of noisy totals (a shared machine): a negative task figure means within noise.');
