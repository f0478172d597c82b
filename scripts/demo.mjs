#!/usr/bin/env node
// `npm run demo`: serves examples/ (and the built dist/) at a printed URL.
// `npm run demo -- --headless` (or `npm run demo:headless`): drives a scripted visitor through the
// demo in headless Chromium and prints what the SDK measured.
import { execFileSync } from 'node:child_process';
import { startServer } from './serve.mjs';

const headless = process.argv.includes('--headless');
const wanted = Number(process.env.ATTNFLOW_DEMO_PORT || (headless ? 4174 : 4321));

/** The server on `wanted`, or on the next free port when something else already listens there. */
async function serve() {
  for (let port = wanted; port < wanted + 20; port++) {
    try {
      return { port, ...(await startServer({ port })) };
    } catch (error) {
      if (error?.code !== 'EADDRINUSE') throw error;
    }
  }
  console.error(`attnflow demo: ports ${wanted}–${wanted + 19} are all in use; set ATTNFLOW_DEMO_PORT to a free one`);
  process.exit(1);
}
const { port, url, close } = await serve();
const demo = `${url}examples/`;

if (!headless) {
  // The browser keeps what the demo learned per origin, port included.
  const moved = port === wanted ? '' : `\n  (port ${wanted} is in use; what the demo learned on it stays there)`;
  console.log(`\n  attnflow demo:  ${demo}${moved}\n  (Ctrl+C to stop)\n`);
} else {
  execFileSync(process.execPath, [new URL('./ensure-chromium.mjs', import.meta.url).pathname], { stdio: 'inherit' });
  const { runVisitor } = await import('./demo-visitor.mjs');
  try {
    await runVisitor(demo);
  } finally {
    await close();
  }
}
