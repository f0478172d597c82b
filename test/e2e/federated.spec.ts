/**
 * The federated loop in real Chromium, with a real `attnflow-collect` (PGlite): pages whose site
 * gives `modelUrl` (the collector's round model) and `collectUrl` first send the new model's
 * statistics round their counts of what they read, then train the next round's model from their
 * own logs in the model's Worker and send one clipped int8 update each, simple requests without
 * credentials, cookies or referrer; the collector closes each round at `minClients` and publishes
 * the next round's model, which a newcomer's page then starts from, ranking first what the
 * devices read. A device without consent sends nothing, and a device sends at most once per round.
 * A device whose model runs on the page (no Worker) sends its counts, and no training update.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Request } from '@playwright/test';
import { type Collector, createCollector } from '../../src/collect/server';
import { expect, guardContext, test } from './helpers';

const FIXTURE = '/test/fixtures/federated.html';
const TOPICS = ['sport', 'politics', 'culture', 'tech'];
const CATALOGUE = {
  items: Array.from({ length: 16 }, (_, k) => ({ id: `today-${k}`, topics: [TOPICS[k % 4]!] })),
  containers: ['front'],
};

interface Device {
  /** The page's console (its debug log with `&debug`). */
  logs: string[];
  updates: { url: string; bytes: number; headers: Record<string, string> }[];
  fetched: string[];
  /** The page's last model scores, by item. */
  scores(): Promise<Record<string, number>>;
  /** SDK scripts in the page's long animation frames after its first score (the model started): `file ms`. */
  longAfterStart(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A visitor's browser on the fixture whose script tag names the collector's model and the
 * collector; `records` in its log first. With `noWorker`, the model's Worker script does not load
 * (as under a policy that forbids it): the model runs on the page.
 */
async function device(browser: Browser, baseURL: string, collect: string, records: number, extra = '', noWorker = false): Promise<Device> {
  const context = await browser.newContext({ baseURL });
  const guard = await guardContext(context);
  if (noWorker) await context.route('**/attnflow-worker.js', (r) => r.abort());
  const logs: string[] = [];
  const updates: Device['updates'] = [];
  const fetched: string[] = [];
  context.on('request', (r: Request) => {
    const url = r.url();
    if (url.startsWith(new URL('/', collect).href)) fetched.push(new URL(url).pathname);
    if (url.includes('/update?')) updates.push({ url, bytes: r.postDataBuffer()?.byteLength ?? 0, headers: r.headers() });
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    logs.push(m.text());
    if (process.env.ATTNFLOW_DEBUG) console.log('page:', m.text().slice(0, 300));
  });
  // The log filled on a page without the script tag's collector, then the site's page.
  await page.goto(FIXTURE);
  // The visitor read the tech stories of the site's list (today-3, 7, 11, 15) over 89 days.
  if (records) await page.evaluate((n) => import('/test/fixtures/fill-log.js').then((m) => m.fillLog(n, { stories: 16 })), records);
  await page.goto(`${FIXTURE}?collect=${encodeURIComponent(collect)}${process.env.ATTNFLOW_DEBUG ? '&debug' : ''}${extra}`);
  await page.waitForFunction(() => (window as any).__times.score, null, { timeout: 60_000 });
  await page.evaluate(() => (window as any).attnflow.flush());
  return {
    logs,
    updates,
    fetched,
    scores: () => page.evaluate(() => (window as any).__scores),
    longAfterStart: () =>
      page.evaluate(() => {
        const w = window as any;
        return w.__frames
          .filter((f: any) => f.start >= w.__times.score)
          .flatMap((f: any) =>
            f.scripts
              .filter((x: any) => /\/dist\/attnflow/.test(x.url))
              .map((x: any) => `${x.url.split('/').pop()} ${Math.round(x.duration)}`),
          );
      }),
    async close() {
      expect(guard.pageErrors).toEqual([]);
      await context.close();
    },
  };
}

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('devices train the site model from their logs, the collector closes the round, and a newcomer starts from the next round', async ({
  browser,
  baseURL,
}) => {
  test.setTimeout(240_000);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'attnflow-fed-'));
  let collector: Collector | undefined;
  try {
    collector = createCollector({
      catalogue: CATALOGUE,
      data: path.join(tmp, 'db'),
      port: 0,
      log: () => {},
      federated: {
        dir: path.join(tmp, 'model'),
        minClients: 2,
        clip: 1,
        noiseMultiplier: 0.05,
        epsilonBudget: 1e6,
        localSteps: 2,
        localRate: 0.5,
      },
    });
    const base = `${await collector.listen()}/`;
    // collectUrl is where reports go; the rounds are beside it.
    const collect = `${base}report`;
    const rounds = async () => (await (await fetch(`${base}api/rounds`)).json()) as any;

    // Without consent: the page trains its own model, and sends nothing.
    const shy = await device(browser, baseURL!, collect, 400, '&consent');
    await new Promise((r) => setTimeout(r, 4000));
    expect(shy.updates).toEqual([]);
    await shy.close();

    /** The one request a device sent in `round`: a simple one, without cookie or referrer; its size. */
    const onlySent = (d: Device, round: number): number => {
      expect(d.updates).toHaveLength(1);
      const u = d.updates[0]!;
      expect(u.url).toMatch(new RegExp(`/update\\?round=${round}&id=[0-9a-f]{32}$`));
      expect(u.headers['content-type']).toBe('text/plain');
      expect(u.headers.cookie).toBeUndefined();
      expect(u.headers.referer).toBeUndefined();
      return u.bytes;
    };

    // Round 1, the new model's statistics: counts of what each device read, no training.
    const first = await device(browser, baseURL!, collect, 400);
    await until('the first statistics', async () => (await rounds()).rounds[0].accepted === 1);
    // Four stories read, in the scaled form (under noise): 20 bytes of header, 8 per item and 12 per
    // pair of them read within three of each other (at most all six).
    const statistics = onlySent(first, 1);
    console.log(`statistics of round 1: ${statistics} bytes`);
    expect((statistics - 20 - 4 * 8) % 12).toBe(0);
    expect(statistics).toBeGreaterThanOrEqual(20 + 4 * 8 + 12);
    expect(statistics).toBeLessThanOrEqual(20 + 4 * 8 + 6 * 12);
    // The second device's model runs on the page (its Worker blocked): counts cost it nothing, so
    // it takes part in the statistics round all the same.
    const second = await device(browser, baseURL!, collect, 300, '&debug', true);
    await until('round 2', async () => (await rounds()).round === 2);
    expect((await rounds()).rounds[1]).toMatchObject({ round: 1, kind: 'statistics', clients: 2 });
    expect(second.logs.some((l) => /model on \w+ in the page/.test(l))).toBe(true);
    expect((onlySent(second, 1) - 20 - 4 * 8) % 12).toBe(0);
    // At most once per round: another page of the first device sends nothing more for round 1.
    expect(first.updates).toHaveLength(1);
    await first.close();
    await second.close();

    // Round 2: devices train round 2's model in their Worker and send their updates.
    const third = await device(browser, baseURL!, collect, 400);
    await until('the first update', async () => (await rounds()).rounds[0].accepted === 1);
    const bytes = onlySent(third, 2);
    console.log(`update of round 2: ${bytes} bytes`);
    expect(bytes).toBeGreaterThan(1000);
    expect(bytes).toBeLessThanOrEqual(64 * 1024);
    expect(third.fetched).toEqual(expect.arrayContaining(['/model/model.json', '/model/round-2.bin', '/round', '/update']));
    // Training the update ran in the model's Worker: the page's own frames stayed short.
    const long = await third.longAfterStart();
    console.log(`SDK scripts in long frames after the model started, up to the update: ${long.length ? long.join(', ') : 'none'}`);
    expect(long.filter((x) => Number(x.split(' ')[1]) >= 50)).toEqual([]);

    // A device whose model runs on the page joins no training round: training there would cost
    // the page long tasks.
    const onPage = await device(browser, baseURL!, collect, 300, '&debug', true);
    await until('the page-model device to pass on round 2', async () =>
      onPage.logs.some((l) => l.includes('federated round skipped: the model runs on the page')),
    );
    expect(onPage.updates).toEqual([]);
    await onPage.close();
    const fourth = await device(browser, baseURL!, collect, 300);
    await until('round 3', async () => (await rounds()).round === 3);
    const summary = await rounds();
    expect(summary.rounds[1]).toMatchObject({
      round: 2,
      clients: 2,
      accepted: 2,
      rejected: { stale: 0, malformed: 0, oversized: 0, overNorm: 0 },
    });
    expect(summary.rounds[1].epsilon).toBeGreaterThan(summary.rounds[2].epsilon);
    expect(summary.rounds[2].epsilon).toBeGreaterThan(0);
    await third.close();
    await fourth.close();

    // The dashboard tells the rounds and the privacy they spent, under its strict CSP.
    const board = await browser.newContext();
    const page = await board.newPage();
    await page.addInitScript(() =>
      document.addEventListener('securitypolicyviolation', (e) => ((window as any).__csp ??= []).push(e.violatedDirective)),
    );
    await page.goto(base);
    const panel = page.locator('#rounds');
    await expect(panel).toBeVisible({ timeout: 30_000 });
    await expect(panel.locator('[data-key="fed-status"]')).toHaveText('round 3 open');
    await expect(panel.locator('[data-key="fed-epsilon"]')).toContainText(`of `);
    const rows = panel.locator('tbody tr');
    await expect(rows).toHaveCount(3);
    await expect(rows.nth(2).locator('td').nth(0)).toHaveText('1 (statistics)');
    await expect(rows.nth(1).locator('td').nth(3)).toHaveText('2');
    expect(Number((await panel.locator('meter').getAttribute('value')) ?? 0)).toBeCloseTo(summary.epsilon, 6);
    expect(await page.evaluate(() => (window as any).__csp ?? [])).toEqual([]);
    await board.close();

    // A newcomer starts from round 3's model, which ranks first the stories the devices read.
    const newcomer = await device(browser, baseURL!, collect, 0);
    await until('the newcomer reads round 3', async () => newcomer.fetched.includes('/model/round-3.bin'));
    expect(newcomer.fetched).not.toContain('/model/round-1.bin');
    expect(newcomer.updates).toEqual([]);
    await until('the newcomer scores with round 3', async () => Object.keys((await newcomer.scores()) ?? {}).length === 16);
    const scores = await newcomer.scores();
    const top = Object.keys(scores)
      .sort((a, b) => scores[b]! - scores[a]!)
      .slice(0, 4);
    console.log(`newcomer's top 4: ${top.join(', ')}`);
    expect(top.sort()).toEqual(['today-11', 'today-15', 'today-3', 'today-7']);
    await newcomer.close();
  } finally {
    await collector?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
