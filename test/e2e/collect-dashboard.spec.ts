/**
 * The collector's dashboard in a real browser, served by a real collector (`attnflow-collect` as a
 * child process, on a free port, with its own PGlite folder) that has received a simulated fleet of
 * private reports: the charts draw their bars and error bars, the tables show every catalogue item
 * and topic with estimates and intervals matching `GET /api/estimates`, the privacy budget is told,
 * the period switches, and the strict CSP is never tripped. Below the minimum number of reports the
 * page shows the suppression notice and no number. `ATTNFLOW_SCREENSHOTS=1` saves docs/dashboard.png,
 * with the fleet reporting on each of the last 7 days (one report per device per day) for a fuller
 * picture; otherwise it reports today only, which keeps the test quick.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import type { Catalogue } from '../../src/collect/catalogue';
import type { EstimatesResponse } from '../../src/collect/estimates';
import { mulberry32 } from '../../src/lib/random';
import { questionsOf } from '../../src/report/questions';
import type { PeriodItem, PeriodSummary, PrivateReport } from '../../src/report/types';
import { buildReport, utcDay } from '../../src/report/values';
import { collectConsole, expect, test } from './helpers';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CATALOGUE_FILE = path.join(ROOT, 'test/fixtures/collect/catalogue.json');
const CATALOGUE: Catalogue = JSON.parse(readFileSync(CATALOGUE_FILE, 'utf8'));
/** The questions the collector serves (`GET /questions`): each device answers one, drawn uniformly. */
const QUESTIONS = questionsOf(CATALOGUE);
const DASHBOARD = path.join(ROOT, 'dist/collect/dashboard');
const EPSILON = 4;
const DEVICES = 3000;
const MIN_REPORTS = 100;
const SCREENSHOTS = process.env.ATTNFLOW_SCREENSHOTS === '1';
/** Days the fleet reports on, ending today. */
const REPORT_DAYS = SCREENSHOTS ? 7 : 1;

test.use({ locale: 'en-US', viewport: { width: 1280, height: 900 } });

interface Running {
  url: string;
  stop(): Promise<void>;
}

/** Starts `attnflow-collect` on a free port with a fresh database; resolves once it listens. */
async function startCollector(minReports: number): Promise<Running> {
  if (!existsSync(path.join(DASHBOARD, 'dashboard.js'))) throw new Error('dist/collect/dashboard/ is not built: npm run build');
  const data = mkdtempSync(path.join(os.tmpdir(), 'attnflow-dashboard-'));
  const args = ['--import', 'tsx', 'src/entries/collect.ts', '--catalogue', CATALOGUE_FILE, '--data', data, '--port', '0'];
  args.push('--dashboard', DASHBOARD, '--min-reports', String(minReports), '--rate', '1000000', '--global-rate', '1000000');
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the collector did not start in time:\n${out}`)), 60_000);
    const read = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) clearTimeout(timer), resolve(m[1]!);
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`the collector exited (${code}):\n${out}`))));
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** Topic tastes of the simulated visitors: each has one favourite, drawn with these weights. */
const TASTES: [string, number][] = [
  ['news', 0.35],
  ['sport', 0.25],
  ['food', 0.2],
  ['travel', 0.12],
  ['tech', 0.08],
];

/** One visitor's day: items of their favourite topic seen more, read longer and clicked; the personalized order read longer than the holdout. */
function visitorDay(rand: () => number): PeriodSummary {
  let x = rand();
  const favourite = TASTES.find(([, w]) => (x -= w) < 0)?.[0] ?? 'news';
  const items: PeriodItem[] = [];
  for (const item of CATALOGUE.items) {
    const likes = item.topics.includes(favourite);
    if (rand() >= (item.id === 'home-hero' ? 0.95 : likes ? 0.8 : 0.25)) continue;
    const attentionMs = likes ? 4000 + rand() * 40_000 : rand() * 2500;
    const attended = attentionMs >= 1000 ? 1 : 0;
    items.push({
      itemId: item.id,
      views: 1 + Math.floor(rand() * 3),
      viewable: rand() < (likes ? 0.9 : 0.6) ? 1 : 0,
      attended,
      skipped: !attended && rand() < 0.7 ? 1 : 0,
      clicks: likes && rand() < 0.3 ? 1 : 0,
      attentionMs,
    });
  }
  const depths = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => (rand() < 0.2 ? 1 : rand()));
  const arm = rand() < 0.8 ? 'p' : 'h';
  const containers = [{ container: 'for-you', arm, attentionMs: arm === 'p' ? 5000 + rand() * 40_000 : 2000 + rand() * 20_000 }] as const;
  return { items, depths, containers };
}

/**
 * `n` devices' reports at ε = `EPSILON`, one per device for each of the last `days` days, from a fixed
 * seed; each answers one of `questions` (those the collector serves), drawn uniformly.
 */
function fleet(questions: readonly string[], n: number, seed: number, days = 1): PrivateReport[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n * days }, (_, i) =>
    buildReport(visitorDay(rand), { epsilon: EPSILON, questions, day: utcDay(Date.now() - (i % days) * 864e5), rand }),
  );
}

/** The questions the collector at `url` serves, as a device fetches them: its catalogue's. */
async function servedQuestions(url: string): Promise<string[]> {
  const res = await fetch(`${url}/questions`);
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(body).toEqual({ format: 'attnflow-questions', version: 2, questions: QUESTIONS });
  return body.questions;
}

/** Posts `reports` to the collector, 16 at a time; resolves with the count of each status. */
async function postAll(url: string, reports: readonly PrivateReport[]): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < reports.length) {
        const report = reports[next++]!;
        const res = await fetch(`${url}/report`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(report),
        });
        await res.arrayBuffer();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }
    }),
  );
  return statuses;
}

/** Records the page's Content Security Policy violations in `window.__violations`. */
async function recordViolations(page: Page): Promise<void> {
  await page.addInitScript(() => {
    (window as any).__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as any).__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
    );
  });
}

/**
 * Per canvas: its size, the pixels painted, and the dark pixels inside the plot (right of the
 * category labels, above the axis labels): the error bars, the only dark marks there.
 */
function canvasInk(page: Page): Promise<{ width: number; height: number; painted: number; whiskers: number }[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('canvas')].map((canvas) => {
      const { width, height } = canvas;
      const data = canvas.getContext('2d')!.getImageData(0, 0, width, height).data;
      const scale = width / canvas.clientWidth;
      let painted = 0;
      let whiskers = 0;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const i = (y * width + x) * 4;
          if (data[i + 3]! === 0) continue;
          painted++;
          const inPlot = x > width * 0.3 && y < height - 40 * scale;
          if (inPlot && data[i + 3]! > 150 && data[i]! < 100 && data[i + 1]! < 100 && data[i + 2]! < 110) whiskers++;
        }
      }
      return { width, height, painted, whiskers };
    }),
  );
}

test.describe('collector dashboard', () => {
  let collector: Running | undefined;
  let estimates: EstimatesResponse;

  test.beforeAll(async () => {
    test.setTimeout(120_000 + 20_000 * REPORT_DAYS);
    collector = await startCollector(MIN_REPORTS);
    const reports = fleet(await servedQuestions(collector.url), DEVICES, 20261206, REPORT_DAYS);
    expect(await postAll(collector.url, reports)).toEqual({ 202: reports.length });
    estimates = await (await fetch(`${collector.url}/api/estimates?days=7`)).json();
    expect(estimates.reports).toBe(reports.length);
    expect(estimates.suppressed).toBe(false);
  });

  test.afterAll(async () => {
    await collector?.stop();
  });

  test('charts, tables, containers, depth and the privacy budget, under the strict CSP', async ({ page }) => {
    await recordViolations(page);
    const messages = collectConsole(page, ['error', 'warning']);
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));

    const response = await page.goto(`${collector!.url}/`);
    expect(response!.headers()['content-security-policy']).toContain("default-src 'self'");
    const count = new Intl.NumberFormat('en-US').format(estimates.reports);
    await expect(page.locator('#status')).toContainText(`${count} reports`);

    // Every catalogue item and every topic, each with its four metrics, the numbers of the API.
    const items = page.locator('#items tbody tr');
    await expect(items).toHaveCount(CATALOGUE.items.length);
    await expect(page.locator('#topics tbody tr')).toHaveCount(estimates.topics.length);
    for (const item of estimates.items) {
      const row = page.locator('#items tbody tr').filter({ has: page.locator('th', { hasText: new RegExp(`^${item.id}$`) }) });
      await expect(row.locator('td.tags')).toHaveText(item.topics.join(', '));
      const cells = await row
        .locator('td[data-key]')
        .evaluateAll((tds) =>
          tds.map((td) => ({ key: td.getAttribute('data-key'), text: td.textContent, ...(td as HTMLElement).dataset })),
        );
      expect(cells.map((c) => c.key)).toEqual(['views', 'attentionMs', 'viewableRate', 'skipRate']);
      for (const cell of cells) {
        const api = item[cell.key as 'views'];
        const scale = cell.key === 'attentionMs' ? 1000 : 1;
        expect(Number(cell.estimate)).toBeCloseTo(api.estimate / scale, 6);
        expect(Number(cell.low)).toBeCloseTo(api.low / scale, 6);
        expect(Number(cell.high)).toBeCloseTo(api.high / scale, 6);
        // The estimate then its interval: "1,234" and "-400 – 2,800", or percents for the rates.
        expect(cell.text).toMatch(/^-?[\d,.]+%?-?[\d,.]+%? – -?[\d,.]+%?$/);
      }
    }

    // Sortable by column: views descending at first, then ascending, then by name.
    const names = () => items.locator('th').allTextContents();
    // Equal estimates (they come in steps) go by name either way.
    const byViews = (sign: number) =>
      [...estimates.items].sort((a, b) => sign * (a.views.estimate - b.views.estimate) || (a.id < b.id ? -1 : 1)).map((i) => i.id);
    expect(await names()).toEqual(byViews(-1));
    const viewsHeader = page.locator('#items thead th', { hasText: 'Views' });
    await expect(viewsHeader).toHaveAttribute('aria-sort', 'descending');
    await viewsHeader.getByRole('button').click();
    await expect(viewsHeader).toHaveAttribute('aria-sort', 'ascending');
    expect(await names()).toEqual(byViews(1));
    await page.locator('#items thead th').getByRole('button', { name: 'Name' }).click();
    expect(await names()).toEqual(CATALOGUE.items.map((i) => i.id).sort());
    await expect(viewsHeader).not.toHaveAttribute('aria-sort', /./);

    // Charts: four per items and topics, one for the containers, one for the depth; every one drawn, error bars included.
    await expect(page.locator('canvas')).toHaveCount(10);
    await expect.poll(async () => (await canvasInk(page)).filter((c) => c.painted > 2000 && c.whiskers > 20).length).toBe(10);

    // Personalized against holdout, with the lift the collector estimated.
    const container = estimates.containers[0]!;
    const lift = page.locator('#personalization td[data-key="lift"]');
    await expect(lift).toHaveCount(1);
    const percent = new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1, signDisplay: 'exceptZero' });
    // The collector answers [−1, the largest number] where an arm's estimates are not positive: no lift to tell.
    const known = container.lift.low > -1 && container.lift.high < 1e12;
    await expect(lift.locator('.est')).toHaveText(known ? percent.format(container.lift.estimate) : '–');
    for (const [key, arm] of [
      ['personalizedPerView', container.personalized],
      ['holdoutPerView', container.holdout],
    ] as const) {
      const perView = arm.views.estimate > 0 ? arm.attentionMs.estimate / arm.views.estimate / 1000 : 0;
      const cell = page.locator(`#personalization td[data-key="${key}"]`);
      expect(Number(await cell.getAttribute('data-estimate'))).toBeCloseTo(perView, 6);
    }
    await expect(page.locator('#personalization .legend li')).toHaveText(['Personalized', 'Holdout (page order)']);
    await expect(page.locator('#depth li')).toHaveCount(5);

    // The privacy budget: ε 4 per report, one report a device a day, 28 over the 7 days.
    await expect(page.locator('#privacy [data-key="reports"]')).toHaveText(count);
    await expect(page.locator('#privacy [data-key="epsilon-report"]')).toHaveText('4');
    await expect(page.locator('#privacy [data-key="epsilon-day"]')).toHaveText('4');
    await expect(page.locator('#privacy [data-key="epsilon-range"]')).toHaveText('28');
    await expect(page.locator('#suppressed')).toHaveCount(0);

    if (SCREENSHOTS) {
      await page.locator('#items thead th').getByRole('button', { name: 'Views' }).click();
      await page.screenshot({ path: path.join(ROOT, 'docs/dashboard.png'), fullPage: true });
    }

    // The period: 30 days asks the collector again and the budget over the range grows to 120.
    const asked = page.waitForRequest((r) => r.url().endsWith('/api/estimates?days=30'));
    await page.getByLabel('Period').selectOption('30');
    await asked;
    await expect(page.locator('#privacy [data-key="epsilon-range"]')).toHaveText('120');
    await expect(page.locator('#privacy dt').last()).toHaveText('ε per device over 30 days');
    expect(new URL(page.url()).searchParams.get('days')).toBe('30');
    await expect(page.locator('canvas')).toHaveCount(10);

    // A phone's width: nothing wider than the screen (tables scroll in their own box).
    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

    expect(await page.evaluate(() => (window as any).__violations)).toEqual([]);
    expect(messages).toEqual([]);
    const origin = new URL(collector!.url).origin;
    expect(requested.filter((u) => new URL(u).origin !== origin)).toEqual([]);
  });
});

test('fewer reports than the minimum: the suppression notice, the budget, and no estimate', async ({ page }) => {
  test.setTimeout(120_000);
  const collector = await startCollector(MIN_REPORTS);
  try {
    expect(await postAll(collector.url, fleet(await servedQuestions(collector.url), 40, 7))).toEqual({ 202: 40 });
    await recordViolations(page);
    const messages = collectConsole(page, ['error', 'warning']);
    await page.goto(`${collector.url}/`);
    await expect(page.locator('#suppressed')).toHaveText('Fewer than 100 reports: nothing is shown.');
    await expect(page.locator('#privacy [data-key="reports"]')).toHaveText('40');
    await expect(page.locator('#privacy [data-key="epsilon-report"]')).toHaveText('4');
    await expect(page.locator('canvas')).toHaveCount(0);
    await expect(page.locator('table')).toHaveCount(0);
    await expect(page.locator('td[data-estimate]')).toHaveCount(0);
    await expect(page.locator('#items, #topics, #personalization, #depth')).toHaveCount(0);
    expect(await page.evaluate(() => (window as any).__violations)).toEqual([]);
    expect(messages).toEqual([]);
  } finally {
    await collector.stop();
  }
});
