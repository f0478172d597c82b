#!/usr/bin/env node
// Main-thread cost of measuring a flat document (headed blocks, found by attnflow itself) against
// the same text with every section marked `data-attn-item` (one element per item).
//
// A headed block is several elements whose union of boxes is read from layout when one of them
// changes intersection; a marked item is one element that IntersectionObserver places alone. The
// same article at two lengths (12 and 60 sections, each ~1.5 viewports of text, code and lists), a
// ~5 s reading session (wheel scrolling, pointer moves). Cost = CDP Performance.getMetrics
// ScriptDuration + TaskDuration, and ThreadTime (CPU), over the session, minus the same session on
// the same page without the SDK in the same round. Rounds interleave the pages; medians shown.
// Usage: npm run build && node bench/flat.bench.mjs [--rounds 5]
// Env: ATTNFLOW_BENCH_PORT (default 4179), ATTNFLOW_CHROMIUM (default /usr/bin/chromium).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { chromium } from '@playwright/test';
import { startServer } from '../scripts/serve.mjs';

const root = new URL('../', import.meta.url);
const out = new URL('./out/', import.meta.url);
const argRounds = process.argv.indexOf('--rounds');
const ROUNDS = argRounds > 0 ? Number(process.argv[argRounds + 1]) : 5;
const PORT = Number(process.env.ATTNFLOW_BENCH_PORT || 4179);
const SIZES = [12, 60];

if (!existsSync(new URL('dist/attnflow.js', root))) {
  console.error('flat.bench: dist/attnflow.js is missing; run `npm run build` first');
  process.exit(1);
}
mkdirSync(out, { recursive: true });

const TEXT = 'A paragraph of body text in a long article that a reader follows line by line down the page. ';
/** One section: a heading, paragraphs, a code block and a list; wrapped and marked, or flat. */
function section(i, marked) {
  const body = `<h2 id="s${i}">Section ${i}</h2>
<p>${TEXT.repeat(4)}</p><p>${TEXT.repeat(3)}</p>
<pre>for (const x of items) {\n  total += x;\n}</pre>
<ul><li>${TEXT}</li><li>${TEXT}</li></ul><p>${TEXT.repeat(2)}</p>`;
  return marked ? `<section data-attn-item="s${i}">${body}</section>` : body;
}
function pageHtml(n, layout, sdk) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bench: ${n} sections, ${layout}</title>
<style>body { margin: 0; font: 16px/1.6 Georgia, serif; } main { max-width: 720px; margin: 0 auto; padding: 1rem; } pre { background: #eee; padding: .5rem; }</style>
${sdk ? '<script src="/dist/attnflow.js"></script>' : ''}
</head><body>
<header><nav><a href="/">Home</a> · <a href="/docs">Docs</a></nav></header>
<main><h1>A long article</h1><p>${TEXT.repeat(3)}</p>
${Array.from({ length: n }, (_, i) => section(i, layout === 'marked')).join('\n')}
</main><footer><a href="/about">About</a></footer>
</body></html>`;
}
const pages = [];
for (const n of SIZES) {
  for (const layout of ['marked', 'flat']) {
    for (const sdk of [false, true]) {
      const name = `flat-${n}-${layout}-${sdk ? 'sdk' : 'bare'}`;
      writeFileSync(new URL(`${name}.html`, out), pageHtml(n, layout, sdk));
      pages.push({ n, layout, sdk, name });
    }
  }
}

/** The reading session: ~5 s of wheel scrolling with pauses and pointer moves. */
async function session(page) {
  for (let i = 0; i < 14; i++) {
    await page.mouse.wheel(0, 260 + (i % 3) * 80);
    await page.waitForTimeout(120);
    await page.mouse.move(300 + ((i * 37) % 300), 200 + ((i * 53) % 350), { steps: 5 });
    await page.waitForTimeout(200);
  }
}

async function run(browser, name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.route('**/*', (route) =>
    new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort('blockedbyclient'),
  );
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`http://127.0.0.1:${PORT}/bench/out/${name}.html`);
  await page.waitForLoadState('load');
  await page.waitForTimeout(800);
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const m0 = await metrics();
  await session(page);
  const m1 = await metrics();
  const items = await page.evaluate(() => (window.attnflow ? Object.keys(window.attnflow.snapshot().items).length : 0));
  await context.close();
  if (errors.length) throw new Error(`${name}: page errors: ${errors.join('; ')}`);
  return {
    cost: (m1.ScriptDuration - m0.ScriptDuration + m1.TaskDuration - m0.TaskDuration) * 1000,
    cpu: (m1.ThreadTime - m0.ThreadTime) * 1000,
    items,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const server = await startServer({ port: PORT });
const browser = await chromium.launch({
  executablePath: process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--enable-unsafe-swiftshader',
  ],
});
const results = new Map(pages.map((p) => [p.name, []]));
try {
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 ? [...pages].reverse() : pages;
    for (const p of order) results.get(p.name).push(await run(browser, p.name));
  }
} finally {
  await browser.close();
  await server.close();
}

// The SDK's cost per round: the page with it minus the same page without it, in the same round.
const cost = (n, layout, key) => {
  const sdk = results.get(`flat-${n}-${layout}-sdk`);
  const bare = results.get(`flat-${n}-${layout}-bare`);
  return median(sdk.map((s, i) => s[key] - bare[i][key]));
};
console.log(`\nSDK cost over a ~5 s reading session (median of ${ROUNDS} rounds, each minus the bare page of its round)`);
console.log('sections  layout   items   script+task          CPU (ThreadTime)');
for (const n of SIZES) {
  const base = { cost: cost(n, 'marked', 'cost'), cpu: cost(n, 'marked', 'cpu') };
  for (const layout of ['marked', 'flat']) {
    const c = cost(n, layout, 'cost');
    const t = cost(n, layout, 'cpu');
    const items = median(results.get(`flat-${n}-${layout}-sdk`).map((x) => x.items));
    console.log(
      `${String(n).padStart(8)}  ${layout.padEnd(7)} ${String(items).padStart(5)}   ${c.toFixed(0).padStart(5)} ms (${(c / base.cost).toFixed(2)}×)    ${t.toFixed(0).padStart(5)} ms (${(t / base.cpu).toFixed(2)}×)`,
    );
  }
}
