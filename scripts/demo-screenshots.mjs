#!/usr/bin/env node
// Screenshots of the debug overlay for the README: `node scripts/demo-screenshots.mjs` (after a build).
// A visitor reads a few science stories, then comes back with ?attn-debug.
import { chromium } from '@playwright/test';
import { startServer } from './serve.mjs';
import { visitOnce } from './demo-visitor.mjs';

const ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-swiftshader',
];
const out = new URL('../docs/', import.meta.url).pathname;
const { url, close } = await startServer({ port: Number(process.env.ATTNFLOW_DEMO_PORT || 4175) });
const browser = await chromium.launch({ executablePath: process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium', args: ARGS });
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const first = await context.newPage();
  await visitOnce(first, `${url}examples/`, { topic: 'science', dwellMs: 4000, readsPerVisit: 4 });
  await first.close({ runBeforeUnload: true });

  const page = await context.newPage();
  await page.goto(`${url}examples/?attn-debug`);
  await page.waitForFunction(() => document.getElementById('attnflow-debug')?.shadowRoot?.querySelector('[data-part="panel"]'));
  // Read the lead story of the front page for a moment, pointer on it.
  await page.mouse.move(560, 330);
  for (let i = 0; i < 6; i++) {
    await page.mouse.move(560 + (i % 2) * 8, 330);
    await page.waitForTimeout(400);
  }
  await page.waitForTimeout(1200);
  await page.screenshot({ path: `${out}overlay-front.png` });

  // The For you section, reordered for this visitor, with an explanation (Alt+click in the overlay).
  await page.evaluate(() => document.getElementById('for-you-title').scrollIntoView());
  await page.mouse.move(200, 200);
  await page.waitForTimeout(600);
  const first3 = await page.locator('[data-attn-rank="for-you"] > [data-attn-item]').first();
  const box = await first3.boundingBox();
  await page.keyboard.down('Alt');
  await page.mouse.click(box.x + 40, box.y + 40);
  await page.keyboard.up('Alt');
  await page.locator('[data-attn-rank="for-you"] .why').first().click();
  await page.waitForTimeout(1200);
  await page.screenshot({ path: `${out}overlay-for-you.png` });
  console.log(`screenshots in ${out}`);
} finally {
  await browser.close();
  await close();
}
