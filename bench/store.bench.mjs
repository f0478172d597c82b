#!/usr/bin/env node
// Store benchmark (issue 4): 10,000 item records through the real write path (createStore →
// recordView → flush, as the tracker calls them) in Debian's Chromium, against writing the same
// records one transaction per record, and against the floor (the same documents put with idb alone). Reports wall ms until durable and the main-thread side of
// one flush: the synchronous part of the call and any long task (PerformanceObserver 'longtask').
// Goal: 10,000 records durable in ≤ 500 ms, and no long task.
import { createServer } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { rollup } from 'rollup';
import typescript from '@rollup/plugin-typescript';
import resolve from '@rollup/plugin-node-resolve';
import sirv from 'sirv';
import { chromium } from '@playwright/test';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = new URL('./out/', import.meta.url);
const RECORDS = 10_000;
const VIEWS = 100;
const RUNS = Number(process.env.BENCH_RUNS || 5);

// The store exactly as the SDK ships it, plus idb for the per-record baseline.
mkdirSync(OUT, { recursive: true });
const entry = `export { createStore } from ${JSON.stringify(`${ROOT}src/store/store.ts`)}; export { createLog } from ${JSON.stringify(`${ROOT}src/store/log.ts`)}; export { packView } from ${JSON.stringify(`${ROOT}src/store/schema.ts`)}; export { openDB } from 'idb';`;
const bundle = await rollup({
  input: 'bench-entry',
  plugins: [
    { name: 'entry', resolveId: (id) => (id === 'bench-entry' ? id : null), load: (id) => (id === 'bench-entry' ? entry : null) },
    resolve({ browser: true }),
    typescript({
      tsconfig: `${ROOT}tsconfig.build.json`,
      declaration: false,
      outDir: undefined,
      rootDir: undefined,
      include: [`${ROOT}src/**/*.ts`],
    }),
  ],
  onwarn() {},
});
await bundle.write({
  file: fileURLToPath(new URL('store-bench.js', OUT)),
  format: 'iife',
  name: 'attnflowStoreBench',
  inlineDynamicImports: true,
});
writeFileSync(
  new URL('store-bench.html', OUT),
  '<!doctype html><meta charset="utf-8"><title>store bench</title><script src="store-bench.js"></script>',
);

const files = sirv(ROOT, { dev: true });
const server = createServer((req, res) => files(req, res, () => ((res.statusCode = 404), res.end())));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}bench/out/store-bench.html`);
  const results = await page.evaluate(
    async ({ RECORDS, VIEWS, RUNS }) => {
      const { createStore, createLog, openDB, packView } = window.attnflowStoreBench;
      const _longTasks = [];
      const entries = [];
      new PerformanceObserver((list) => entries.push(...list.getEntries())).observe({ type: 'longtask', buffered: true });
      // Long tasks overlapping [from, to], once the observer has caught up.
      const longIn = async (from, to) => (
        await idle(), entries.filter((e) => e.startTime <= to && e.startTime + e.duration >= from).map((e) => e.duration)
      );
      const del = (name) =>
        new Promise((r) => {
          const q = indexedDB.deleteDatabase(name);
          q.onsuccess = q.onerror = q.onblocked = r;
        });
      const idle = () => new Promise((r) => setTimeout(r, 100));
      const snapshots = (run) =>
        Array.from({ length: VIEWS }, (_, v) => ({
          page: {
            viewId: `r${run}v${v}`,
            path: '/bench',
            startedAt: Date.now(),
            engagedMs: 5000,
            visibleMs: 6000,
            scrollDepth: 0.7,
            rageClicks: 0,
            deadClicks: 0,
          },
          items: Object.fromEntries(
            Array.from({ length: RECORDS / VIEWS }, (_, i) => [
              `item-${i}`,
              {
                attentionMs: 100 + i,
                visibleMs: 900 + i,
                viewableMs: 800,
                hoverMs: 50,
                maxVisibleRatio: 0.8,
                clicks: i % 7 === 0 ? 1 : 0,
                viewable: true,
                skipped: i % 5 === 0,
                topics: ['topic-' + (i % 13), 'topic-' + (i % 29)],
                rageClicks: 0,
                deadClicks: 0,
              },
            ]),
          ),
        }));
      const opts = {
        retentionDays: 90,
        maxItemRecords: 1e6,
        report: (e) => {
          throw e;
        },
        log: () => {},
        clock: { now: () => performance.now(), epoch: () => Date.now() },
        flushIntervalMs: 1e9,
      };
      const out = {
        batched: [],
        record: [],
        sync: [],
        urgentSync: [],
        perRecord: [],
        packed: [],
        objects: [],
        urgentObjects: [],
        urgentLines: [],
        hiddenSync: [],
        longHidden: [],
        hiddenDurable: [],
        longBatched: [],
        longUrgent: [],
        logHide: [],
        longLogHide: [],
        logDurable: [],
      };
      for (let run = 0; run < RUNS; run++) {
        // Batched, as the SDK writes: record then one flush, 500 puts per task.
        await del('bench-a');
        let store = createStore({ ...opts, name: 'bench-a' });
        store.allow(true);
        await store.flush(); // opened, as on a page that has been up a moment
        await idle();
        const snaps = snapshots(run);
        let t0 = performance.now();
        for (const s of snaps) store.recordView(s);
        const tRec = performance.now();
        // A fresh task for the flush: the bench's loop of 100 recordView calls is one task here,
        // where the tracker makes one call per second.
        await new Promise((r) => setTimeout(r, 0));
        let t1 = performance.now();
        const p = store.flush();
        let t2 = performance.now();
        await p;
        const t3 = performance.now();
        out.record.push(tRec - t0);
        out.sync.push(t2 - t1);
        out.batched.push(tRec - t0 + t3 - t1);
        out.longBatched.push(...(await longIn(t1, t3)));
        if ((await store.export()).records.length !== RECORDS) throw new Error('batched: records missing');
        store.stop();

        // The same 100 views pending, none with a localStorage copy, when the tab is hidden (chunked:
        // the page goes on running) and when the page unloads (pagehide: every put issued before
        // returning, since no later task runs). Long tasks from the hide until durable.
        for (const hidden of [true, false]) {
          await del('bench-b');
          store = createStore({ ...opts, name: 'bench-b' });
          store.allow(true);
          await store.flush();
          await idle();
          for (const s of snapshots(run)) store.recordView(s);
          await idle();
          Object.defineProperty(document, 'visibilityState', { value: hidden ? 'hidden' : 'visible', configurable: true });
          t0 = performance.now();
          if (hidden) store.recordView({ ...snaps[0], page: { ...snaps[0].page, viewId: 'hide' } }, 'hide');
          else dispatchEvent(new PageTransitionEvent('pagehide'));
          t1 = performance.now();
          await store.flush();
          t2 = performance.now();
          delete document.visibilityState;
          (hidden ? out.hiddenSync : out.urgentSync).push(t1 - t0);
          (hidden ? out.longHidden : out.longUrgent).push(...(await longIn(t0, hidden ? t2 : t1)));
          if (hidden) out.hiddenDurable.push(t2 - t0);
          if ((await store.export()).records.length !== RECORDS + (hidden ? 100 : 0)) throw new Error('hide: records missing');
          store.stop();
        }

        // A hide as the SDK's log takes it (log.ts): the view of 1,000 items, the most it copies, is
        // copied to localStorage, then flushed in chunks. Long tasks from the hide until durable.
        await del('bench-e');
        localStorage.clear();
        const log = createLog({ ...opts, name: 'bench-e' });
        log.allow(true);
        await log.flush();
        await idle();
        const big = {
          ...snaps[0],
          page: { ...snaps[0].page, viewId: 'big' },
          items: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`item-${i}`, snaps[0].items['item-' + (i % 100)]])),
        };
        log.recordView(big);
        await idle();
        t0 = performance.now();
        log.recordView(big, 'hide');
        t1 = performance.now();
        await log.flush();
        const tDurable = performance.now();
        out.logHide.push(t1 - t0);
        out.logDurable.push(tDurable - t0);
        out.longLogHide.push(...(await longIn(t0, tDurable)));
        if ((await log.export()).records.length !== 1000 || localStorage.length) throw new Error('log hide: records missing or copy left');
        log.stop();

        // Baseline: the same records, one transaction per record (durable each).
        await del('bench-c');
        const db = await openDB('bench-c', 1, { upgrade: (d) => d.createObjectStore('records', { keyPath: ['viewId', 'itemId'] }) });
        const recs = snaps.flatMap((s) =>
          Object.entries(s.items).map(([itemId, it]) => ({
            viewId: s.page.viewId,
            itemId,
            ...it,
            firstAt: Date.now(),
            lastAt: Date.now(),
          })),
        );
        t0 = performance.now();
        await Promise.all(
          recs.map((r) => {
            const tx = db.transaction('records', 'readwrite', { durability: 'strict' });
            tx.store.put(r);
            return tx.done;
          }),
        );
        out.perRecord.push(performance.now() - t0);
        db.close();

        // The floor: the SDK's documents (one per view, item records as lines) put with idb
        // directly, no SDK code around it; then the same records as objects (schema v2), for what
        // the lines save. Main thread: the synchronous puts, as in a hide flush.
        for (const lines of [true, false]) {
          await del('bench-d');
          const pdb = await openDB('bench-d', 1, { upgrade: (d) => d.createObjectStore('views', { keyPath: 'viewId' }) });
          const docs = snaps.map((s) => {
            const items = recs.filter((r) => r.viewId === s.page.viewId);
            const view = {
              viewId: s.page.viewId,
              path: '/bench',
              startedAt: s.page.startedAt,
              updatedAt: Date.now(),
              engagedMs: 5000,
              visibleMs: 6000,
              scrollDepth: 0.7,
              rageClicks: 0,
              deadClicks: 0,
            };
            return lines ? packView(view, items) : { ...packView(view, []), items };
          });
          await idle();
          t0 = performance.now();
          const ptx = pdb.transaction('views', 'readwrite', { durability: 'strict' });
          for (const doc of docs) ptx.store.put(doc);
          t1 = performance.now();
          await ptx.done;
          (lines ? out.packed : out.objects).push(performance.now() - t0);
          if (!lines) out.urgentObjects.push(t1 - t0);
          else out.urgentLines.push(t1 - t0);
          pdb.close();
        }
        await del('bench-a');
        await del('bench-b');
        await del('bench-c');
        await del('bench-d');
        await del('bench-e');
      }
      return out;
    },
    { RECORDS, VIEWS, RUNS },
  );
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const max = (a) => (a.length ? Math.max(...a) : 0);
  const f = (n) => n.toFixed(1).padStart(8);
  console.log(
    `${RECORDS.toLocaleString('en-US')} item records (${VIEWS} views × ${RECORDS / VIEWS} items), Chromium ${browser.version()}, median of ${RUNS} runs; ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}`,
  );
  console.log(`  batched: recordView ×${VIEWS} + flush() until durable ${f(med(results.batched))} ms   (goal ≤ 500 ms)`);
  console.log(`    of which recordView (build records)                 ${f(med(results.record))} ms`);
  console.log(`    flush() call, synchronous part                      ${f(med(results.sync))} ms`);
  console.log(
    `  one transaction per record, until durable             ${f(med(results.perRecord))} ms   (${(med(results.perRecord) / med(results.batched)).toFixed(1)}× the batched time)`,
  );
  console.log(
    `  floor: the same 100 view documents put with idb alone  ${f(med(results.packed))} ms; the puts ${f(med(results.urgentLines))} ms on the main thread`,
  );
  console.log(
    `    the same with records as objects (schema v2)         ${f(med(results.objects))} ms; the puts ${f(med(results.urgentObjects))} ms (${(med(results.urgentObjects) / med(results.urgentLines)).toFixed(1)}× the lines)`,
  );
  console.log(
    `  long tasks during batched flushes: ${results.longBatched.length}${results.longBatched.length ? ` (max ${max(results.longBatched).toFixed(0)} ms)` : ''}   (goal: none)`,
  );
  console.log(
    `  a hidden tab, 100 views without copies: main thread ${f(med(results.hiddenSync))} ms, durable in ${f(med(results.hiddenDurable))} ms; long tasks: ${results.longHidden.length}${results.longHidden.length ? ` (max ${max(results.longHidden).toFixed(0)} ms)` : ''}   (goal: none)`,
  );
  console.log(
    `  the page unloads (pagehide, every put at once):    main thread ${f(med(results.urgentSync))} ms; long tasks: ${results.longUrgent.length}${results.longUrgent.length ? ` (max ${max(results.longUrgent).toFixed(0)} ms)` : ''}   (no later task runs)`,
  );
  console.log(
    `  hide through the log, a 1,000-item view (localStorage copy + chunked flush): main thread ${f(med(results.logHide))} ms, durable in ${f(med(results.logDurable))} ms; long tasks: ${results.longLogHide.length}${results.longLogHide.length ? ` (max ${max(results.longLogHide).toFixed(0)} ms)` : ''}   (goal: none)`,
  );
} finally {
  await browser.close();
  server.close();
}
