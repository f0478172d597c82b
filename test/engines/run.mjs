#!/usr/bin/env node
/**
 * The cross-engine browser tests: test/engines/tests.mjs on Firefox ESR and on WebKitGTK, one
 * engine after the other, against the built dist/ served by scripts/serve.mjs on a fixed port
 * (IndexedDB is per origin, port included).
 *
 *   node test/engines/run.mjs [--engine firefox|webkit] [--grep TEXT] [--repeat N]
 *
 * Every test gets a new tab and fails on an uncaught error in its pages or a resource fetched from
 * anything but 127.0.0.1. A timing test (capture fidelity) that fails is run again once, and says
 * so. Prints a table of passed, failed and skipped tests per engine; exits 1 on any failure.
 * Profiles and temp files go under .tmp/engines/ and are removed; every browser, driver and Xvfb
 * started is killed at the end, also on failure or interruption.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TMP = join(ROOT, '.tmp', 'engines');
const RUN_DIR = join(TMP, `run-${process.pid}`);
// Browsers and their helpers keep temp files inside the project (.tmp/ is ignored by git).
mkdirSync(join(RUN_DIR, 'tmp'), { recursive: true });
process.env.TMPDIR = join(RUN_DIR, 'tmp');

const { startServer } = await import('../../scripts/serve.mjs');
const { ENGINES, killAll, launch, stopAll } = await import('./drivers.mjs');
const { tests } = await import('./tests.mjs');

const PORT = Number(process.env.ATTNFLOW_ENGINES_PORT || 4185);
const TEST_TIMEOUT = 120_000;

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const engines = arg('engine') ? arg('engine').split(',') : ENGINES;
const grep = arg('grep');
const repeat = Number(arg('repeat') || 1);

let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  killAll();
  if (!process.env.ATTNFLOW_KEEP_TMP) rmSync(RUN_DIR, { recursive: true, force: true, maxRetries: 3 });
}
process.on('exit', cleanup);
process.on('uncaughtException', (error) => {
  console.error(error);
  process.exit(1);
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`\nengines: ${signal}, stopping the browsers`);
    cleanup();
    process.exit(130);
  });
}

if (!existsSync(join(ROOT, 'dist', 'attnflow.js'))) {
  console.error('engines: dist/attnflow.js is missing; run `npm run build` first');
  process.exit(1);
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Runs one test on `session`: a new tab (and any the test opens), checked and closed after. */
async function runOnce(t, session) {
  const tabs = [];
  const newTab = async () => {
    const tab = await session.newTab();
    tabs.push(tab);
    return tab;
  };
  const tab = await newTab();
  try {
    const note = await withTimeout(t.fn({ tab, newTab, session }), TEST_TIMEOUT, t.name);
    // What no page may do, in any test: throw, or fetch from anything but 127.0.0.1.
    for (const x of tabs) {
      if (!x.closed) await x.harvest();
      const { errors, offsite } = x.problems();
      if (errors.length) throw new Error(`uncaught errors in the page: ${errors.join(' | ')}`);
      if (offsite.length) throw new Error(`requests to anything but 127.0.0.1: ${offsite.join(' ')}`);
    }
    return note;
  } finally {
    for (const x of tabs) if (!x.closed) await withTimeout(x.close(), 15_000, 'closing a tab').catch(() => {});
  }
}

const results = [];
const started = Date.now();
const server = await startServer({ port: PORT }).catch((error) => {
  console.error(`engines: cannot serve on 127.0.0.1:${PORT} (${error.code ?? error.message}); set ATTNFLOW_ENGINES_PORT to a free port`);
  process.exit(1);
});

try {
  for (let round = 1; round <= repeat; round++) {
    for (const engine of engines) {
      const row = { engine, round, passed: 0, failed: 0, skipped: 0, retried: 0, ms: 0, version: '' };
      results.push(row);
      const t0 = Date.now();
      let session;
      try {
        session = await launch(engine, { baseURL: server.url, dir: join(RUN_DIR, `${engine}-${round}`) });
        row.version = session.version;
        console.log(`\n${engine}: ${session.version}${repeat > 1 ? ` (round ${round} of ${repeat})` : ''}`);
        for (const t of tests) {
          const name = `${t.group}: ${t.name}`;
          if (grep && !name.includes(grep)) continue;
          const why = t.skip?.(session);
          if (why) {
            row.skipped++;
            console.log(`  - ${name} (skipped: ${why})`);
            continue;
          }
          const tt = Date.now();
          let tries = 0;
          for (;;) {
            tries++;
            try {
              const note = await runOnce(t, session);
              row.passed++;
              if (tries > 1) row.retried++;
              console.log(
                `  ✓ ${name} (${seconds(Date.now() - tt)}${tries > 1 ? ', passed on its second try: timing' : ''})${note ? `\n      ${note}` : ''}`,
              );
              break;
            } catch (error) {
              // A browser that went away: start a new one for the next test.
              const alive = await withTimeout(
                session.newTab().then((x) => x.close()),
                20_000,
                'a new tab',
              ).then(
                () => true,
                () => false,
              );
              if (!alive) {
                console.log(`    (${engine} stopped answering; starting it again)`);
                await session.close().catch(() => {});
                session = await launch(engine, { baseURL: server.url, dir: join(RUN_DIR, `${engine}-${round}`) });
              }
              if (t.timing && tries === 1) {
                console.log(`  ~ ${name}: failed on timing, trying once more: ${error.message.split('\n')[0]}`);
                continue;
              }
              row.failed++;
              console.log(
                `  ✗ ${name} (${seconds(Date.now() - tt)})\n      ${String(error.stack || error)
                  .split('\n')
                  .slice(0, 6)
                  .join('\n      ')}`,
              );
              break;
            }
          }
        }
      } catch (error) {
        row.failed++;
        console.log(`  ✗ ${engine}: ${error.stack || error}`);
      } finally {
        await session?.close().catch(() => {});
        row.ms = Date.now() - t0;
      }
    }
  }
} finally {
  await server.close();
  const left = await stopAll();
  if (left.length) console.log(`engines: process groups ${left.join(', ')} still there after SIGKILL`);
  cleanup();
}

const pad = (s, n) => String(s).padEnd(n);
console.log(
  `\n${pad('engine', 9)}${repeat > 1 ? pad('round', 7) : ''}${pad('passed', 8)}${pad('failed', 8)}${pad('skipped', 9)}${pad('time', 9)}browser`,
);
for (const r of results) {
  console.log(
    `${pad(r.engine, 9)}${repeat > 1 ? pad(r.round, 7) : ''}${pad(r.passed, 8)}${pad(r.failed, 8)}${pad(r.skipped, 9)}${pad(seconds(r.ms), 9)}${r.version}${r.retried ? `  (${r.retried} passed on a second try)` : ''}`,
  );
}
console.log(`total ${seconds(Date.now() - started)}`);
process.exitCode = results.some((r) => r.failed > 0) ? 1 : 0;
