#!/usr/bin/env node
// `npm run demo`: serves examples/ (and the built dist/) at a printed URL.
// `npm run demo -- --headless` (or `npm run demo:headless`): drives a scripted visitor through the
// demo in headless Chromium and prints what the SDK measured.
import { execFileSync } from 'node:child_process';
import { startServer } from './serve.mjs';

const headless = process.argv.includes('--headless');
const port = Number(process.env.ATTNFLOW_DEMO_PORT || (headless ? 4174 : 4321));
const { url, close } = await startServer({ port });
const demo = `${url}examples/`;

if (!headless) {
  console.log(`\n  attnflow demo:  ${demo}\n  (Ctrl+C to stop)\n`);
} else {
  execFileSync(process.execPath, [new URL('./ensure-chromium.mjs', import.meta.url).pathname], { stdio: 'inherit' });
  const { runVisitor } = await import('./demo-visitor.mjs');
  try {
    await runVisitor(demo);
  } finally {
    await close();
  }
}
