#!/usr/bin/env node
// `npm run demo`: serves examples/ (and the built dist/) at a printed URL.
// `npm run demo -- --collect`: also starts attnflow-collect beside it, and the demo pages send their
// private reports there (its dashboard at a printed URL) and join its federated rounds of the site
// model (`data-model-url` is the collector's round model).
// `npm run demo -- --headless` (or `npm run demo:headless`): drives a scripted visitor through the
// demo in headless Chromium and prints what the SDK measured; then a fleet of visitors of different
// tastes reads the demo with reports on, and the collector's estimates are printed next to the truth
// (`--devices N`, `--visits N`, `--epsilon E`, `--parallel N` size it; `--no-fleet` skips it); then a
// second fleet trains the demo's site model in federated rounds, and a newcomer's For-you order is
// shown before and after (`--rounds N`, `--per-round N` size it; `--no-federated` skips it).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';

const headless = process.argv.includes('--headless');
const collect = !headless && process.argv.includes('--collect');
const wanted = Number(process.env.ATTNFLOW_DEMO_PORT || (headless ? 4174 : 4321));
/** Where the demo's collector keeps its reports (the headless fleet's too). */
const COLLECT_DATA = process.env.ATTNFLOW_DEMO_COLLECT_DATA || fileURLToPath(new URL('../.tmp/demo-collect', import.meta.url));

/** attnflow-collect for the demo's catalogue, on 4280 or the next free port. */
async function startCollector() {
  const { createCollector } = await import('../dist/cli/attnflow-collect.js');
  const catalogue = fileURLToPath(new URL('../examples/catalogue.json', import.meta.url));
  for (let port = 4280; port < 4300; port++) {
    const collector = createCollector({
      catalogue,
      data: COLLECT_DATA,
      port,
      minReports: 20,
      // The site model, trained by the demo's visitors in federated rounds of 5 updates.
      federated: { dir: `${COLLECT_DATA}/model`, minClients: 5 },
    });
    try {
      await collector.listen();
      return collector;
    } catch (error) {
      if (error?.code !== 'EADDRINUSE') throw error;
    }
  }
  throw new Error('ports 4280–4299 are all in use');
}
const collector = collect ? await startCollector() : undefined;

/** The server on `wanted`, or on the next free port when something else already listens there. */
async function serve() {
  for (let port = wanted; port < wanted + 20; port++) {
    try {
      const reports = collector && { url: `${collector.url}/report`, epsilon: 1, holdout: 0.2, model: `${collector.url}/model/model.json` };
      return { port, ...(await startServer({ port, collect: reports })) };
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
  if (collector) {
    console.log(
      `  private reports: on (ε = 1 a day, holdout 20%), to attnflow-collect at ${collector.url}/report\n` +
        `  its dashboard:   ${collector.url}/   (reports in ${COLLECT_DATA}; estimates from 20 reports on)\n` +
        "  A report covers a day that has ended: today's reading is reported by the first visit tomorrow.\n" +
        `  the site model:  ${collector.url}/model/model.json, trained in federated rounds of 5 devices (noise z = 1, ε budget 8);\n` +
        '                   in the first, each sends which stories it read; in the next, each sends a model update\n' +
        '  npm run demo:headless fills the dashboard with a simulated fleet.\n',
    );
    const stop = () => collector.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
} else {
  execFileSync(process.execPath, [new URL('./ensure-chromium.mjs', import.meta.url).pathname], { stdio: 'inherit' });
  const { runVisitor } = await import('./demo-visitor.mjs');
  try {
    await runVisitor(demo);
  } finally {
    await close();
  }
  if (!process.argv.includes('--no-fleet')) {
    // The fleet is TypeScript run from source: it shares the reports' code with the collector.
    const pass = process.argv
      .slice(2)
      .filter(
        (a, i, all) => /^--(devices|visits|epsilon|parallel)$/.test(a) || /^--(devices|visits|epsilon|parallel)$/.test(all[i - 1] ?? ''),
      );
    const fleet = fileURLToPath(new URL('./demo-fleet.ts', import.meta.url));
    execFileSync(process.execPath, ['--import', 'tsx', fleet, ...pass], { stdio: 'inherit' });
  }
  if (!process.argv.includes('--no-federated')) {
    const pass = process.argv
      .slice(2)
      .filter((a, i, all) => /^--(rounds|per-round|parallel)$/.test(a) || /^--(rounds|per-round|parallel)$/.test(all[i - 1] ?? ''));
    const federated = fileURLToPath(new URL('./demo-federated.ts', import.meta.url));
    execFileSync(process.execPath, ['--import', 'tsx', federated, ...pass], { stdio: 'inherit' });
  }
}
