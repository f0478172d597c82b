/**
 * The federated part of `npm run demo:headless`: a fleet of simulated visitors, most of whom read
 * science, reads the demo news page in headless Chromium with the site model's rounds on
 * (the demo server writes `data-model-url`, the collector's round model, and `data-collect-url` into
 * the page's script tag, as a site would). Round 1 is the new model's statistics round: each
 * visitor's page sends which stories it read and which it read close together (each scaled to norm
 * 1), and the collector's noised sums give the next model its item biases and vectors. In the
 * rounds after it each visitor's page trains the round's model on its own log in the model's Worker
 * and sends one clipped, quantized update. A real `attnflow-collect` (PGlite) closes each round once
 * enough arrived, adds the noise and publishes the next model. Before the first round and after the last, a newcomer (an empty log) opens the page: its
 * For-you order comes from the site model alone, and follows what the fleet read. No log leaves a
 * browser: the collector receives the updates only, and the fleet prints their sizes.
 *
 * Usage: node --import tsx scripts/demo-federated.ts [--rounds 3] [--per-round 8] [--parallel 4]
 */
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from '@playwright/test';
import { loadCatalogue } from '../src/collect/catalogue';
import { createCollector } from '../src/collect/server';
import { mulberry32 } from '../src/lib/random';
import { ARGS, TOPICS } from './demo-fleet';
// @ts-expect-error a plain ES module
import { storyInView } from './demo-visitor.mjs';
// @ts-expect-error a plain ES module
import { startServer } from './serve.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface FederatedFleetOptions {
  rounds: number;
  /** Updates that close a round. */
  perRound: number;
  parallel: number;
  /** The collector's noise multiplier (central DP). */
  noiseMultiplier: number;
  data: string;
  log: (line: string) => void;
}

export const FEDERATED_DEFAULTS: FederatedFleetOptions = {
  rounds: 3,
  perRound: 8,
  parallel: 4,
  noiseMultiplier: 0.05,
  data: `${ROOT}.tmp/demo-federated`,
  log: console.log,
};

/** The topics of the For-you container in the order a newcomer's page shows them, and where the page's scores came from. */
async function newcomer(browser: Browser, url: string): Promise<{ topics: string[]; site: boolean }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  try {
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => (window as any).attnflow && !Array.isArray((window as any).attnflow));
    // The model's scores arrive after first paint: the page decides again once they are in.
    const deadline = Date.now() + 60_000;
    let site = false;
    while (Date.now() < deadline) {
      const r = await page.evaluate(() => (window as any).attnflow.personalize());
      site = (r?.modelWeight ?? 0) > 0;
      if (site) break;
      await page.waitForTimeout(500);
    }
    const topics = await page.evaluate(() =>
      [...document.querySelectorAll('[data-attn-rank="for-you"] [data-attn-item]')].map((el) => el.getAttribute('data-attn-topics') ?? ''),
    );
    return { topics, site };
  } finally {
    await context.close();
  }
}

export async function runFederatedFleet(options: Partial<FederatedFleetOptions> = {}): Promise<void> {
  const o = { ...FEDERATED_DEFAULTS, ...options };
  const { log } = o;
  const catalogue = loadCatalogue(`${ROOT}examples/catalogue.json`);
  rmSync(o.data, { recursive: true, force: true });
  mkdirSync(o.data, { recursive: true });
  const modelDir = `${o.data}/model`;
  const collector = createCollector({
    catalogue,
    data: `${o.data}/db`,
    port: 0,
    rate: 1e6,
    log: () => {},
    federated: {
      dir: modelDir,
      minClients: o.perRound,
      clip: 1,
      noiseMultiplier: o.noiseMultiplier,
      epsilonBudget: 1e6,
      delta: 1e-5,
      localSteps: 4,
      localRate: 0.5,
      // Plain averaging: with a handful of updates a round, FedAdam's per-value scaling would
      // blow the noise up to the size of the signal.
      optimizer: 'fedavg',
      serverRate: 1,
    },
  });
  const base = await collector.listen();
  const site = await startServer({
    port: 0,
    collect: { url: `${base}/report`, epsilon: 4, holdout: 0, model: `${base}/model/model.json` },
  });
  const page = `${site.url}examples/`;
  const browser = await chromium.launch({ executablePath: process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium', args: ARGS });
  const rounds = async () => (await (await fetch(`${base}/api/rounds`)).json()) as { round: number; epsilon: number; rounds: any[] };
  const started = Date.now();
  log(
    `\nattnflow demo, the site model: ${o.rounds} federated rounds of ${o.perRound} visitors each; most read science.\n` +
      `Round 1 is the new model's statistics round: each page sends attnflow-collect at ${base} which stories it read and which it read close together, scaled to norm 1.\n` +
      `In the rounds after it, each page trains the round's model on its own log in the model's Worker and sends one clipped int8 update.\n` +
      `The collector adds Gaussian noise (z = ${o.noiseMultiplier}) to each round's sum and publishes the next round's model at ${base}/model/model.json\n`,
  );
  try {
    const before = await newcomer(browser, page);
    log(`   a newcomer before the first round (the fresh model): For-you by topic  ${before.topics.join(', ')}`);
    const read = new Map<string, number>();
    /** Bytes sent, by round. */
    const sizes = new Map<number, number[]>();
    let id = 0;
    for (let r = 1; r <= o.rounds; r++) {
      let next = 0;
      const device = async () => {
        const rand = mulberry32(5000 + id++);
        // Most of the fleet reads science, a few something else.
        const likes = rand() < 0.8 ? ['science'] : [TOPICS[Math.floor(rand() * TOPICS.length)]!];
        const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
        let sent = false;
        context.on('request', (req) => {
          if (!req.url().includes('/update?')) return;
          const round = Number(new URL(req.url()).searchParams.get('round'));
          sizes.set(round, [...(sizes.get(round) ?? []), req.postDataBuffer()?.byteLength ?? 0]);
          sent = true;
        });
        try {
          const p = await context.newPage();
          for (let v = 0; v < 2; v++) {
            await p.goto(page);
            await p.waitForFunction(() => (window as any).attnflow && !Array.isArray((window as any).attnflow));
            await p.mouse.move(500, 200);
            const done: string[] = [];
            const height = await p.evaluate(() => document.documentElement.scrollHeight - innerHeight);
            for (let y = 0; y <= height + 400; y += 400) {
              await p.mouse.wheel(0, 400);
              await p.waitForTimeout(150);
              const target = await storyInView(p, likes, done);
              // A story the visitor likes near the middle of the screen: read it. In a grid of cards
              // the SDK splits attention among all in view: 6 s there make the second of a read.
              if (target && done.length < 3) {
                done.push(target.id);
                read.set(target.id.split('-')[0]!, (read.get(target.id.split('-')[0]!) ?? 0) + 1);
                for (let t = 0; t < 6000; t += 500) {
                  await p.mouse.move(target.x + ((t / 50) % 20) - 10, target.y, { steps: 2 });
                  await p.waitForTimeout(500);
                }
              }
            }
            await p.evaluate(() => (window as any).attnflow.flush());
          }
          // The page trains after its flushes; its update goes once per round.
          const deadline = Date.now() + 90_000;
          while (Date.now() < deadline && !sent) await p.waitForTimeout(500);
        } finally {
          await context.close();
        }
      };
      const open = (await rounds()).round;
      // Visitors keep coming while the round is open (a page that could not send in time is
      // replaced), up to twice the round's size.
      await Promise.all(
        Array.from({ length: o.parallel }, async () => {
          while (next < 2 * o.perRound && (await rounds()).round === open) {
            next++;
            await device();
          }
        }),
      );
      // The last pages' updates may still be on their way.
      for (let t = 0; t < 120 && (await rounds()).round === open; t++) await new Promise((res) => setTimeout(res, 500));
      const s = await rounds();
      const closed = s.rounds.find((x) => x.round === open);
      const what = closed?.kind === 'statistics' ? 'statistics summed into the item biases and vectors' : 'updates averaged';
      log(
        closed?.closedAt
          ? `   round ${open} closed: ${closed.clients} ${what}; ε so far ${s.epsilon.toFixed(1)} (${((Date.now() - started) / 1000).toFixed(0)} s)`
          : `   round ${open} is still open: ${closed?.accepted ?? 0} of ${o.perRound} arrived`,
      );
    }
    const after = await newcomer(browser, page);
    const share = (t: string[]) => t.slice(0, 4).filter((x) => x === 'science').length;
    log(`   a newcomer after round ${o.rounds} (the fleet's model):         For-you by topic  ${after.topics.join(', ')}`);
    log(
      `   science in the newcomer's first four For-you stories: ${share(before.topics)} before, ${share(after.topics)} after` +
        ` (the fleet read ${[...read]
          .sort((a, b) => b[1] - a[1])
          .map(([t, n]) => `${t} ${n}`)
          .join(', ')})`,
    );
    const range = (rounds: number[][], unit: (n: number) => string) => {
      const all = rounds.flat().sort((a, b) => a - b);
      return all.length ? `${all.length} sent, ${unit(all[0]!)}–${unit(all[all.length - 1]!)} each` : 'none sent';
    };
    log(
      `   statistics: ${range([sizes.get(1) ?? []], (n) => `${n} B`)}; updates: ${range(
        [...sizes].filter(([r]) => r > 1).map(([, v]) => v),
        (n) => `${(n / 1024).toFixed(1)} KB`,
      )}; no visitor log left a browser.\n` +
        '   With a fleet this small the noise cannot make ε meaningful: a site needs thousands of visitors a round.',
    );
  } finally {
    await browser.close();
    await site.close();
    await collector.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    const v = i > 0 ? Number(process.argv[i + 1]) : fallback;
    if (!(v > 0)) throw new Error(`--${name}: expected a positive number`);
    return v;
  };
  await runFederatedFleet({
    rounds: arg('rounds', FEDERATED_DEFAULTS.rounds),
    perRound: arg('per-round', FEDERATED_DEFAULTS.perRound),
    parallel: arg('parallel', FEDERATED_DEFAULTS.parallel),
  });
}
