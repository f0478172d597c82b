/**
 * Private reports in real Chromium, through the minified script tag. Yesterday's views are recorded
 * by a page whose clock says yesterday (Playwright's clock); today's page then reports on them. A
 * capture server records every request that reaches it, headers and body; one test posts to a real
 * `attnflow-collect` (PGlite) and counts what it stored. Without `collectUrl` there is no request and
 * not even the reports' chunk; without consent or under GPC, nothing is sent; across tabs, one
 * report per period; a report survives its tab closing; and no text, query string, cookie or
 * page URL goes with it.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from '@playwright/test';
import { createCollector } from '../../src/collect/server';
import { countReports } from '../../src/collect/reports';
import { validateReport } from '../../src/report/estimate';
import { questionsOf } from '../../src/report/questions';
import { utcDay } from '../../src/report/values';
import { emptyOrigin, expect, hideTab, stayActive, test, waitForTracker } from './helpers';

const DAY = 864e5;
const FIXTURE = '/test/fixtures/report.html';

interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The fixture's items, as a site's catalogue lists them. */
const QUESTIONS = questionsOf({ items: ['s1', 's2', 's3', 's4'].map((id) => ({ id })), containers: [] });

/** A collector stand-in that keeps every request it receives: it serves the questions and answers 202 to reports. */
async function captureServer(): Promise<{ url: string; requests: Captured[]; reports(): Captured[]; close(): Promise<void> }> {
  const requests: Captured[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.method === 'GET' && req.url === '/questions') {
        const json = JSON.stringify({ format: 'attnflow-questions', version: 2, questions: QUESTIONS });
        res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end(json);
      } else res.writeHead(202, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/report`;
  const reports = () => requests.filter((r) => r.method === 'POST');
  return { url, requests, reports, close: () => new Promise((r) => server.close(() => r())) };
}

/** The fixture's URL: the script tag posting to `collect` (none: no data-collect-url), with `extra` query. */
const page$ = (collect?: string, extra = '') => `${FIXTURE}?${collect ? `collect=${encodeURIComponent(collect)}&` : ''}${extra}`;

/** Yesterday: a page of the site, on this context's clock set a day back, records a view and closes. */
async function visitYesterday(context: BrowserContext, url: string): Promise<void> {
  await context.clock.setSystemTime(Date.now() - DAY);
  const page = await context.newPage();
  await page.goto(url);
  await waitForTracker(page);
  await page.evaluate(() => (window as any).attnflow.push(['consent', true]));
  await stayActive(page, 1200, 300, 200, 200);
  await page.evaluate(() => (window as any).attnflow.flush());
  const closed = new Promise((r) => page.once('close', r));
  await page.close({ runBeforeUnload: true });
  await closed;
}

/** A new page of `context` on today's clock. */
async function newPageToday(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await context.clock.setSystemTime(Date.now());
  return page;
}

/** The report the log keeps (settings 'report'), or null. */
const kept = (page: Page) =>
  page.evaluate(
    () =>
      new Promise<{ period: number; body: string; sent: boolean } | null>((resolve) => {
        const q = indexedDB.open('attnflow');
        q.onerror = () => resolve(null);
        q.onsuccess = () => {
          const db = q.result;
          if (!db.objectStoreNames.contains('settings')) return (db.close(), resolve(null));
          const g = db.transaction('settings').objectStore('settings').get('report');
          g.onsuccess = () => (db.close(), resolve(g.result?.value ?? null));
          g.onerror = () => (db.close(), resolve(null));
        };
      }),
  );

/** Today: a page of the site, up until its report for yesterday is made. */
async function today(context: BrowserContext, url: string): Promise<Page> {
  const page = await newPageToday(context);
  await page.goto(url);
  await waitForTracker(page);
  await expect.poll(() => kept(page), { timeout: 15_000 }).not.toBeNull();
  return page;
}

// Every test starts from an empty origin.
test.beforeEach(({ page }) => emptyOrigin(page, { storage: true }));

test('without collectUrl: no request and no reports chunk, whatever the log holds', async ({ context }) => {
  const capture = await captureServer();
  const requested: string[] = [];
  context.on('request', (r) => requested.push(r.url()));
  await visitYesterday(context, page$());
  const page = await newPageToday(context);
  await page.goto(page$());
  await waitForTracker(page);
  await page.waitForTimeout(3000);
  await hideTab(page);
  await page.close({ runBeforeUnload: true });
  await new Promise((r) => setTimeout(r, 500));
  expect(capture.requests).toEqual([]);
  expect(requested.filter((u) => u.includes('attnflow-report'))).toEqual([]);
  expect(requested.filter((u) => !u.startsWith('http://127.0.0.1:4173/'))).toEqual([]);
  await capture.close();
});

test('without consent, or under Global Privacy Control, nothing is sent', async ({ browser }) => {
  const capture = await captureServer();
  // Consent yesterday, none asked for today.
  const a = await browser.newContext();
  await visitYesterday(a, page$(capture.url, 'consent'));
  const withheld = await newPageToday(a);
  await withheld.goto(page$(capture.url, 'consent'));
  await waitForTracker(withheld);
  await withheld.waitForTimeout(3000);
  expect(await kept(withheld)).toBeNull();
  await hideTab(withheld);
  await withheld.close({ runBeforeUnload: true });
  await a.close();

  // Stored yesterday; today the browser sends GPC.
  const b = await browser.newContext();
  await visitYesterday(b, page$(capture.url));
  await b.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
  const gpc = await newPageToday(b);
  await gpc.goto(page$(capture.url));
  await waitForTracker(gpc);
  await gpc.waitForTimeout(3000);
  expect(await kept(gpc)).toBeNull();
  await hideTab(gpc);
  await gpc.close({ runBeforeUnload: true });
  await b.close();
  await new Promise((r) => setTimeout(r, 500));
  expect(capture.requests).toEqual([]);
  await capture.close();
});

test('one report per period across tabs: two tabs hidden and closed, then a third page, one report', async ({ context }) => {
  const capture = await captureServer();
  await visitYesterday(context, page$(capture.url));
  const [a, b] = [await today(context, page$(capture.url)), await today(context, page$(capture.url))];
  for (const p of [a, b]) await hideTab(p);
  await expect.poll(() => capture.reports().length, { timeout: 10_000 }).toBe(1);
  // Delivered and known to be: the log says so (an unconfirmed report would go again, same id).
  await expect.poll(async () => (await kept(a))?.sent, { timeout: 10_000 }).toBe(true);
  for (const p of [a, b]) await p.close({ runBeforeUnload: true });
  const c = await today(context, page$(capture.url));
  await expect.poll(async () => (await kept(c))?.sent, { timeout: 10_000 }).toBe(true);
  await hideTab(c);
  await c.close({ runBeforeUnload: true });
  await new Promise((r) => setTimeout(r, 1000));
  expect(capture.reports()).toHaveLength(1);
  const checked = validateReport(capture.reports()[0]!.body);
  expect(checked.ok).toBe(true);
  expect(checked.ok && checked.report.day).toBe(utcDay(Date.now() - DAY));
  await capture.close();
});

test('a report survives its tab closing: posted on pagehide, stored by attnflow-collect', async ({ context }) => {
  const data = mkdtempSync(path.join(os.tmpdir(), 'attnflow-report-e2e-'));
  const collector = createCollector({ catalogue: 'test/fixtures/collect/catalogue.json', data, port: 0 });
  const base = await collector.listen();
  try {
    await visitYesterday(context, page$(`${base}/report`));
    const page = await today(context, page$(`${base}/report`));
    expect(await countReports(collector.db!)).toBe(0);
    // Closed without being hidden first: the keepalive request goes on after the page is gone.
    await page.close({ runBeforeUnload: true });
    await expect.poll(() => countReports(collector.db!), { timeout: 10_000 }).toBe(1);
  } finally {
    await collector.close();
    rmSync(data, { recursive: true, force: true });
  }
});

test('a report carries no text, query string, cookie or page URL', async ({ context }) => {
  const capture = await captureServer();
  const canaries = [
    'ZEBRAFINCH-TEXT-7731',
    'PELICAN-QUERY-9902',
    'HERON-HASH-1207',
    'OSPREY-INPUT-4410',
    'MARTIN-COOKIE-3318',
    'report.html',
  ];
  const url = `${page$(capture.url, 'token=PELICAN-QUERY-9902')}#HERON-HASH-1207`;
  await visitYesterday(context, url);
  const page = await today(context, url);
  await context.addCookies([{ name: 'session', value: 'MARTIN-COOKIE-3318', domain: '127.0.0.1', path: '/' }]);
  await page.fill('#q', 'OSPREY-INPUT-4410');
  await hideTab(page);
  await expect.poll(() => capture.reports().length, { timeout: 10_000 }).toBe(1);
  // The questions, read once, and the report: nothing else reached the collector.
  expect(capture.requests.map((x) => `${x.method} ${x.url}`)).toEqual(['GET /questions', 'POST /report']);
  for (const x of capture.requests) {
    expect(x.headers.cookie).toBeUndefined();
    expect(x.headers.referer).toBeUndefined();
  }
  const [r] = capture.reports();
  expect(r!.headers['content-type']).toMatch(/^text\/plain/);
  const body = JSON.parse(r!.body);
  expect(Object.keys(body).sort()).toEqual(['day', 'epsilon', 'format', 'id', 'q', 'version', 'y']);
  expect(QUESTIONS).toContain(body.q);
  const all = capture.requests
    .map((x) => x.url + x.body + JSON.stringify(x.headers))
    .join('')
    .toUpperCase();
  for (const c of canaries) expect(all, c).not.toContain(c.toUpperCase());
  await page.close();
  await capture.close();
});
