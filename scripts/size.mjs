#!/usr/bin/env node
// Size report: min+gzip bytes of every built file, and of what a page downloads on each model
// path (model entry + one backend, with everything they import). Fails when a budget is exceeded.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';

const dist = new URL('../dist/', import.meta.url).pathname;
const KB = 1024;
// `max` is the budget. `ceiling`, where set, is a ratchet for a budget not met yet: the report says
// so on every run, and the build fails only if the file grows past where it stands today.
const BUDGETS = [
  // The core places items of several elements (headed blocks of flat pages) and, pinch-zoomed,
  // every item by the visual viewport; the private reports' options and the holdout's draw before
  // first paint joined it (the reports themselves are a chunk only their sites load): 6.5 KB.
  { name: 'dist/attnflow.js (core, every page)', max: 6.5 * KB, files: () => ['attnflow.js'] },
  // The log keeps its aggregates (catalogue, topic totals) up to date as it writes; it lets go of
  // its transactions as the page enters the back/forward cache, and carries on in memory while
  // another page's holds the database: 7.5 KB.
  { name: 'log chunk (after start-up)', max: 7.5 * KB, files: () => ['attnflow-store.js'] },
  // Private reports, loaded only by sites that set collectUrl: the period's summary, the questions, randomized response, the tab election: 4 KB.
  { name: 'reports chunk (sites with collectUrl)', max: 4 * KB, files: () => ['attnflow-report.js'] },
  // Pinch-zoom and the geometry of boxes in the visual viewport joined it: 1.5 KB.
  { name: 'capture chunk (after start-up)', max: 1.5 * KB, files: () => ['attnflow-capture.js'] },
  { name: 'model chunk, WebGL path', max: 130 * KB, files: () => closure(['attnflow-model.js', 'attnflow-worker.js', chunkOf('webgl')]) },
];

if (!existsSync(join(dist, 'attnflow.js'))) {
  console.error('size: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(join(dist, 'chunks.json'), 'utf8'));

function chunkOf(backend) {
  const file = `attnflow-${backend}.js`;
  if (!manifest[file]) throw new Error(`size: no chunk ${file} in dist/chunks.json`);
  return file;
}

/** The files a page fetches when it loads `roots`: each with all its static imports. */
function closure(roots) {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const dep of manifest[file]?.imports ?? []) visit(dep);
  };
  roots.forEach(visit);
  return [...seen];
}

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const sizes = new Map();
async function measure(path) {
  if (sizes.has(path)) return sizes.get(path);
  const raw = readFileSync(path);
  let min = raw;
  // The ESM build is left readable for bundlers; measure it as a bundler would ship it.
  if (path.includes('/esm/') && path.endsWith('.js')) {
    min = Buffer.from((await minify(raw.toString(), { module: true, format: { comments: false } })).code);
  }
  const entry = { raw: raw.length, min: min.length, gz: gzipSync(min, { level: 9 }).length };
  sizes.set(path, entry);
  return entry;
}

const fmt = (n) => n.toLocaleString('en-US').padStart(9);
const files = walk(dist)
  .filter((f) => /\.(js|wasm)$/.test(f))
  .sort();
console.log(`${'file'.padEnd(44)}${'bytes'.padStart(9)}${'min'.padStart(9)}${'min+gz'.padStart(9)}`);
for (const f of files) {
  const s = await measure(f);
  console.log(`${relative(join(dist, '..'), f).padEnd(44)}${fmt(s.raw)}${fmt(s.min)}${fmt(s.gz)}`);
}

console.log('');
let failed = false;
for (const budget of BUDGETS) {
  const parts = budget.files();
  let gz = 0;
  for (const f of parts) gz += (await measure(join(dist, f))).gz;
  const ok = gz <= budget.max;
  const held = !ok && budget.ceiling !== undefined && gz <= budget.ceiling;
  failed ||= !ok && !held;
  console.log(
    `${ok ? 'ok  ' : 'OVER'} ${budget.name.padEnd(40)} ${fmt(gz)} B gz  (budget ${fmt(budget.max)} B, ${((100 * gz) / budget.max).toFixed(0)}%)` +
      (parts.length > 1 ? `\n       = ${parts.join(' + ')}` : '') +
      (held ? `\n       BUDGET NOT MET; tolerated up to the ratchet of ${fmt(budget.ceiling)} B so that it cannot grow further` : ''),
  );
}
for (const backend of ['wasm', 'cpu']) {
  const parts = closure(['attnflow-model.js', 'attnflow-worker.js', chunkOf(backend)]);
  let gz = 0;
  for (const f of parts) gz += (await measure(join(dist, f))).gz;
  const note = backend === 'wasm' ? '  (+ one .wasm binary)' : '';
  console.log(`info model chunk, ${backend.toUpperCase()} path${' '.repeat(28 - backend.length)} ${fmt(gz)} B gz${note}`);
}
if (failed) {
  console.error('\nsize: a budget is exceeded');
  process.exit(1);
}
