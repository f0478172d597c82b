/**
 * The fleet of `npm run demo:headless`: simulated visitors of different tastes read the demo news
 * page in headless Chromium, yesterday by their browsers' clocks, with private reports turned on (the
 * demo server writes `data-collect-url` into the page's script tag, as a site would). Each visitor
 * comes back today: that page answers one of the collector's questions about yesterday and posts it
 * as it closes. A real `attnflow-collect` (PGlite) stores the reports; the fleet then prints the
 * dashboard's estimates (`GET /api/estimates`) next to the truth, which it reads from each visitor's
 * own log (`export()`) with the definitions the reports use.
 *
 * A few dozen devices answer one question each out of a few hundred: their estimates are honest
 * (the truth inside the 95% interval about 19 times in 20) but wide. So the fleet also shows what a
 * site with 10,000 such visitors would see: the same logs, drawn 10,000 times, reported and
 * estimated by the same code (simulated reports, said so).
 *
 * Usage: node --import tsx scripts/demo-fleet.ts [--devices 48] [--visits 2] [--epsilon 4] [--parallel 12]
 */
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium } from '@playwright/test';
import { type Catalogue, loadCatalogue } from '../src/collect/catalogue';
import { attentionPerView } from '../src/collect/dashboard/format';
import { buildEstimates, type EstimatesResponse } from '../src/collect/estimates';
import { countReports } from '../src/collect/reports';
import { createCollector } from '../src/collect/server';
import type { Interval } from '../src/report/estimate';
import { DEPTH_EDGES, ITEM_CAP_MS, questionsOf, trueAnswer, VIEW_CAP_MS } from '../src/report/questions';
import { rrKeep } from '../src/report/rr';
import { type ContainerEntry, containerViews, summarize } from '../src/report/summary';
import type { PeriodSummary } from '../src/report/types';
import { buildReport, utcDay } from '../src/report/values';
import type { AttentionExport, ItemRecord } from '../src/types';
import { mulberry32 } from '../src/lib/random';
// @ts-expect-error a plain ES module
import { storyInView } from './demo-visitor.mjs';
// @ts-expect-error a plain ES module
import { startServer } from './serve.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DAY = 864e5;
export const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const TOPICS = ['politics', 'sport', 'science', 'business', 'culture', 'travel', 'tech'];

/** Options of the fleet. */
export interface FleetOptions {
  devices: number;
  visits: number;
  epsilon: number;
  parallel: number;
  /** Share of page loads in the holdout. */
  holdout: number;
  /** Where the collector keeps its PGlite database (emptied first). */
  data: string;
  log: (line: string) => void;
}

export const FLEET_DEFAULTS: FleetOptions = {
  devices: 48,
  visits: 2,
  epsilon: 4,
  parallel: 12,
  holdout: 0.2,
  data: `${ROOT}.tmp/demo-collect`,
  log: console.log,
};

/** One visitor's taste: the topics they stop for, how long and how often. */
interface Taste {
  likes: string[];
  dwellMs: number;
  reads: number;
}

function tasteOf(rand: () => number): Taste {
  const first = TOPICS[Math.floor(rand() * TOPICS.length)]!;
  const likes = [first];
  if (rand() < 0.5) likes.push(TOPICS[Math.floor(rand() * TOPICS.length)]!);
  return { likes: [...new Set(likes)], dwellMs: 800 + Math.round(rand() * 1500), reads: 1 + Math.floor(rand() * 3) };
}

/** One visit: scroll the page top to bottom, stop on stories of the liked topics. */
async function visit(context: BrowserContext, url: string, taste: Taste, rand: () => number): Promise<void> {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (window as any).attnflow && !Array.isArray((window as any).attnflow));
  await page.mouse.move(500, 200);
  const height = await page.evaluate(() => document.documentElement.scrollHeight - innerHeight);
  // Some visitors leave before the bottom of the page.
  const stop = rand() < 0.3 ? height * (0.3 + rand() * 0.5) : height + 400;
  const read: string[] = [];
  for (let y = 0; y <= stop; y += 400) {
    await page.mouse.wheel(0, 400);
    await page.waitForTimeout(200);
    const target = await storyInView(page, taste.likes, read);
    if (target && read.length < taste.reads) {
      read.push(target.id);
      for (let t = 0; t < taste.dwellMs; t += 400) {
        await page.mouse.move(target.x + ((t / 40) % 20) - 10, target.y, { steps: 2 });
        await page.waitForTimeout(400);
      }
    }
  }
  const closed = new Promise((r) => page.once('close', r));
  await page.close({ runBeforeUnload: true });
  await closed;
}

/** The settings record the log keeps the report in, read from the page. */
const keptReport = (page: import('@playwright/test').Page) =>
  page.evaluate(async () => {
    const all = await (window as any).attnflow.export();
    return all.settings.find((s: { key: string }) => s.key === 'report')?.value ?? null;
  });

/** Yesterday's period of one device, from its own log: the summary the report was made from. */
function periodOf(log: AttentionExport, from: number, to: number): PeriodSummary {
  const views = log.views.filter((v) => v.startedAt >= from && v.startedAt < to);
  const records = new Map<string, ItemRecord[]>(views.map((v) => [v.viewId, []]));
  for (const r of log.records) records.get(r.viewId)?.push(r);
  const kept = (log.settings.find((s) => s.key === 'report:containers')?.value ?? []) as ContainerEntry[];
  const containers = containerViews(kept, records);
  return summarize(
    views.map((v) => ({ scrollDepth: v.scrollDepth, items: records.get(v.viewId) ?? [] })),
    containers,
  );
}

/** The expected answer of a device to `q` (an amount's coin taken at its mean), or to `d` = `bucket`. */
function expected(summary: PeriodSummary, q: string, bucket = 0): number {
  if (q === 'd') return +(trueAnswer(summary, q, () => 0) === bucket);
  // The coin of an amount comes up 1 with probability amount/cap: the mean of many draws.
  if (q.startsWith('t\t') || q.startsWith('o\t')) {
    let ones = 0;
    const draws = 64;
    for (let i = 0; i < draws; i++) ones += trueAnswer(summary, q, () => (i + 0.5) / draws);
    return ones / draws;
  }
  return trueAnswer(summary, q, () => 0);
}

/** What the population's truth is for every figure of the dashboard, scaled to `n` devices like the estimates. */
function truthOf(catalogue: Catalogue, summaries: PeriodSummary[], n: number) {
  const mean = (q: string, bucket?: number) => (summaries.reduce((s, x) => s + expected(x, q, bucket), 0) / summaries.length) * n;
  const item = (id: string) => ({
    views: mean(`v\t${id}`),
    attended: mean(`a\t${id}`),
    skipped: mean(`k\t${id}`),
    attentionMs: mean(`t\t${id}`) * ITEM_CAP_MS,
  });
  const items = new Map(catalogue.items.map((it) => [it.id, item(it.id)]));
  const topics = new Map<string, ReturnType<typeof item>>();
  for (const it of catalogue.items) {
    for (const t of it.topics) {
      const sum = topics.get(t) ?? { views: 0, attended: 0, skipped: 0, attentionMs: 0 };
      const x = items.get(it.id)!;
      topics.set(t, {
        views: sum.views + x.views,
        attended: sum.attended + x.attended,
        skipped: sum.skipped + x.skipped,
        attentionMs: sum.attentionMs + x.attentionMs,
      });
    }
  }
  const depth = DEPTH_EDGES.map((_, b) => mean('d', b));
  const containers = new Map(
    catalogue.containers.map((c) => {
      const arm = (a: 'p' | 'h') => {
        const views = mean(`n\t${c}\t${a}`);
        return { views, perViewMs: views > 0 ? (mean(`o\t${c}\t${a}`) * VIEW_CAP_MS) / views : 0 };
      };
      return [c, { p: arm('p'), h: arm('h') }];
    }),
  );
  return { items, topics, depth, containers };
}

const fmt = (x: number, unit: '' | 's' | 'min' = '') =>
  unit === 's' ? `${(x / 1000).toFixed(1)}` : unit === 'min' ? `${(x / 60000).toFixed(1)}` : x >= 100 ? x.toFixed(0) : x.toFixed(1);
/** `estimate [low, high]` and whether the truth lies inside. */
function cell(e: Interval, truth: number, unit: '' | 's' | 'min' = ''): [string, boolean] {
  const inside = truth >= e.low && truth <= e.high;
  // No device was asked: the collector's interval is everything.
  if (!(e.high - e.low < 1e12)) return ['no answers', inside];
  return [`${fmt(e.estimate, unit)} [${fmt(e.low, unit)}, ${fmt(e.high, unit)}]`, inside];
}

/** Prints the dashboard's figures against the truth: topics, the most seen items, the container's arms, depth. */
function printComparison(
  res: EstimatesResponse,
  truth: ReturnType<typeof truthOf>,
  log: (line: string) => void,
): { inside: number; total: number } {
  let inside = 0;
  let total = 0;
  const row = (label: string, pairs: [string, number, Interval, '' | 's' | 'min'][]) => {
    const parts = pairs.map(([name, t, e, unit]) => {
      const [text, ok] = cell(e, t, unit);
      inside += +ok;
      total++;
      return `${name} ${text.padEnd(26)} true ${fmt(t, unit).padStart(6)}${ok ? ' ' : '!'}`;
    });
    log(`   ${label.padEnd(13)}${parts.join('   ')}`);
  };
  log(`   per topic (devices; attention in minutes)`);
  for (const t of res.topics) {
    const x = truth.topics.get(t.id)!;
    row(t.id, [
      ['views', x.views, t.views, ''],
      ['attended', x.attended, t.attended, ''],
      ['attention', x.attentionMs, t.attentionMs, 'min'],
    ]);
  }
  const seen = [...truth.items].sort((a, b) => b[1].views - a[1].views).slice(0, 6);
  log(`   the six items most seen (devices; attention in seconds)`);
  for (const [id, x] of seen) {
    const e = res.items.find((i) => i.id === id)!;
    row(id, [
      ['views', x.views, e.views, ''],
      ['skipped', x.skipped, e.skipped, ''],
      ['attention', x.attentionMs, e.attentionMs, 's'],
    ]);
  }
  for (const c of res.containers) {
    const x = truth.containers.get(c.id)!;
    // The dashboard's own figure, in seconds: back to ms for the comparison.
    const perView = (arm: typeof c.personalized): Interval => {
      const s = attentionPerView(arm);
      return { estimate: s.estimate * 1000, low: s.low * 1000, high: s.high * 1000 };
    };
    log(`   "${c.id}" (devices with a view in the arm; attention per view in seconds, as the dashboard shows it)`);
    row('personalized', [
      ['views', x.p.views, c.personalized.views, ''],
      ['per view', x.p.perViewMs, perView(c.personalized), 's'],
    ]);
    row('holdout', [
      ['views', x.h.views, c.holdout.views, ''],
      ['per view', x.h.perViewMs, perView(c.holdout), 's'],
    ]);
    log(
      `   ${'lift'.padEnd(12)}${c.lift.estimate.toFixed(2)} [${c.lift.low.toFixed(2)}, ${Math.min(c.lift.high, 99).toFixed(2)}]   true ${x.h.perViewMs > 0 ? (x.p.perViewMs / x.h.perViewMs - 1).toFixed(2) : '–'}`,
    );
  }
  log(`   scroll depth of the median view (devices per quarter; the last: the bottom)`);
  row(
    'depth',
    res.depth.map((d) => [`${d.bucket}:`, truth.depth[d.bucket]!, d.views, ''] as [string, number, Interval, '']),
  );
  return { inside, total };
}

export async function runFleet(options: Partial<FleetOptions> = {}): Promise<void> {
  const o = { ...FLEET_DEFAULTS, ...options };
  const { log } = o;
  const catalogue = loadCatalogue(`${ROOT}examples/catalogue.json`);
  rmSync(o.data, { recursive: true, force: true });
  mkdirSync(o.data, { recursive: true });
  const collector = createCollector({ catalogue, data: o.data, port: 0, minReports: Math.min(20, o.devices), rate: 1e6, log: () => {} });
  const collectUrl = `${await collector.listen()}/report`;
  const site = await startServer({ port: 0, collect: { url: collectUrl, epsilon: o.epsilon, holdout: o.holdout } });
  const page = `${site.url}examples/`;
  const browser = await chromium.launch({ executablePath: process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium', args: ARGS });
  const started = Date.now();
  const now = Date.now();
  const [from, to] = [Math.floor(now / DAY - 1) * DAY, Math.floor(now / DAY) * DAY];
  log(
    `attnflow demo fleet: ${o.devices} visitors read ${page} ${o.visits} times each yesterday (by their clocks) and once today;\n` +
      `reports on (ε = ${o.epsilon} each, one per visitor and day, holdout ${o.holdout * 100}% of page loads) go to attnflow-collect at ${collectUrl}\n`,
  );
  const summaries: PeriodSummary[] = [];
  /** Each report made: its question, the answer sent, and what the visitor's log says. */
  const made: { q: string; y: number; truth: number }[] = [];
  let sent = 0;
  let failed = 0;
  const device = async (i: number) => {
    const rand = mulberry32(1000 + i);
    const taste = tasteOf(rand);
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    // The fleet's pages personalize by topic affinities: the model (tfjs, training in a worker) would
    // only slow the simulation down, dozens of browsers on a few cores.
    await context.route(/attnflow-(model|worker)\.js$/, (route) => route.abort());
    try {
      // Yesterday noon (UTC), give or take a few hours, by this visitor's clock.
      await context.clock.setSystemTime(from + DAY / 2 + (rand() - 0.5) * 6 * 3600e3);
      for (let v = 0; v < o.visits; v++) await visit(context, page, taste, rand);
      const today = await context.newPage();
      await context.clock.setSystemTime(Date.now());
      await today.goto(page);
      await today.waitForFunction(() => (window as any).attnflow && !Array.isArray((window as any).attnflow));
      const deadline = Date.now() + 20_000;
      while (!(await keptReport(today)) && Date.now() < deadline) await today.waitForTimeout(250);
      const log = (await today.evaluate(() => (window as any).attnflow.export())) as AttentionExport;
      const kept = await keptReport(today);
      if (!kept) failed++;
      else {
        const summary = periodOf(log, from, to);
        const { q, y } = JSON.parse(kept.body) as { q: string; y: number };
        summaries.push(summary);
        made.push({ q, y, truth: q === 'd' ? trueAnswer(summary, q, () => 0) : expected(summary, q) });
        sent++;
      }
      const closed = new Promise((r) => today.once('close', r));
      await today.close({ runBeforeUnload: true });
      await closed;
      // The report goes with a keepalive request as the tab closes; the browser (this context) stays a moment.
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await context.close();
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(o.parallel, o.devices) }, async () => {
      while (next < o.devices) {
        const i = next++;
        await device(i);
        if ((i + 1) % 8 === 0 || i + 1 === o.devices)
          log(`   … ${i + 1}/${o.devices} visitors done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      }
    }),
  );
  await browser.close();
  // The last reports were posted as their pages closed: give them a moment to arrive.
  for (let t = 0; t < 40 && (await countReports(collector.db!)) < sent; t++) await new Promise((r) => setTimeout(r, 250));
  const answer = await fetch(`${collectUrl.replace(/\/report$/, '')}/api/estimates?days=2`);
  if (!answer.ok) throw new Error(`GET /api/estimates: ${answer.status} ${await answer.text()}`);
  const res = (await answer.json()) as EstimatesResponse;
  const questions = questionsOf(catalogue);
  const p = rrKeep(o.epsilon, 2);
  log(
    `\n── the collector received ${res.reports} reports (${sent} visitors made one${failed ? `, ${failed} did not` : ''}), ` +
      `each one answer to one of ${questions.length} questions; at ε = ${o.epsilon} a yes/no answer is kept with probability ${p.toFixed(2)}`,
  );
  log("   some of them, with what the visitor's own log says (the collector sees the question and the answer sent, nothing else)");
  log(`   ${'question'.padEnd(24)}${'the log says'.padEnd(22)}sent`);
  for (const m of made.slice(0, 10)) {
    const [kind, name = ''] = m.q.split('\t');
    const says =
      kind === 't' || kind === 'o'
        ? `${m.truth.toFixed(2)} (a coin: 1 with this probability)`
        : kind === 'd'
          ? `depth ${m.truth}`
          : String(m.truth);
    log(`   ${`${kind} ${name}`.padEnd(24)}${says.padEnd(22)}${m.y}`);
  }
  const binary = made.filter((m) => !['t', 'o', 'd'].includes(m.q.split('\t')[0]!));
  log(
    `   of ${binary.length} yes/no answers, ${binary.filter((m) => m.y !== m.truth).length} differ from the log (about ${(binary.length * (1 - p)).toFixed(1)} expected)`,
  );
  if (res.suppressed) log(`\n── the dashboard: nothing yet, fewer than ${res.minReports} reports`);
  else {
    const truth = truthOf(catalogue, summaries, res.reports);
    const perQuestion = res.reports / questions.length;
    if (perQuestion >= 5) {
      log(`\n── the dashboard's estimates from these ${res.reports} reports, 95% intervals, against the truth (! = truth outside)`);
      const { inside, total } = printComparison(res, truth, log);
      log(`   truth inside the interval for ${inside} of ${total} figures`);
    } else {
      const { inside, total } = printComparison(res, truth, () => {});
      log(
        `\n── the dashboard from these ${res.reports} reports: ${perQuestion.toFixed(1)} answers per question, so its 95% intervals span ` +
          `most of what is possible (the truth lies inside ${inside} of ${total}); a site needs thousands of visitors a day:`,
      );
    }
  }

  // What a site with 10,000 such visitors would see: the same logs drawn 10,000 times (simulated reports).
  const n = 10_000;
  const rand = mulberry32(7);
  const day = utcDay(from);
  const reports = Array.from({ length: n }, () =>
    buildReport(summaries[Math.floor(rand() * summaries.length)]!, { epsilon: o.epsilon, questions, day, rand }),
  );
  const scaled = await buildEstimates(catalogue, [day], reports, 100);
  log(`\n── projection: 10,000 visitors drawn from these ${summaries.length} logs, reports simulated at ε = ${o.epsilon}, same estimator`);
  const { inside, total } = printComparison(scaled, truthOf(catalogue, summaries, n), log);
  log(`   truth inside the interval for ${inside} of ${total} figures`);
  log(`\nthe dashboard of these reports: npm run demo -- --collect (the collector keeps them in ${o.data})`);
  await site.close();
  await collector.close();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    const v = i > 0 ? Number(process.argv[i + 1]) : fallback;
    if (!(v > 0)) throw new Error(`--${name}: expected a positive number`);
    return v;
  };
  await runFleet({
    devices: arg('devices', FLEET_DEFAULTS.devices),
    visits: arg('visits', FLEET_DEFAULTS.visits),
    epsilon: arg('epsilon', FLEET_DEFAULTS.epsilon),
    parallel: arg('parallel', FLEET_DEFAULTS.parallel),
  });
}
