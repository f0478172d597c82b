// A scripted visitor for `npm run demo:headless`: reads the demo page like a person would
// (scrolls, pauses on stories, hovers, clicks) and prints the attention the SDK measured.
import { chromium } from '@playwright/test';

const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--enable-unsafe-swiftshader'];

export async function runVisitor(demoUrl) {
  const browser = await chromium.launch({ executablePath: process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium', args: ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(demoUrl);
    await page.waitForFunction(() => window.attnflow && !Array.isArray(window.attnflow));
    console.log(`visiting ${demoUrl}`);

    // Read the lead story, then scroll down pausing on a few teasers, hovering one.
    await page.mouse.move(400, 300);
    await page.waitForTimeout(1500);
    for (let i = 0; i < 6; i++) {
      await page.mouse.wheel(0, 350);
      await page.waitForTimeout(i % 2 ? 1200 : 400);
      await page.mouse.move(300 + i * 40, 350);
    }
    await page.mouse.click(320, 360);
    await page.waitForTimeout(800);

    const snap = await page.evaluate(() => window.attnflow.snapshot());
    printSnapshot(snap);
  } finally {
    await browser.close();
  }
}

export function printSnapshot(snap) {
  const p = snap.page;
  console.log(`page: engaged ${(p.engagedMs / 1000).toFixed(1)} s, visible ${(p.visibleMs / 1000).toFixed(1)} s, scroll depth ${(p.scrollDepth * 100).toFixed(0)}%`);
  const rows = Object.entries(snap.items).sort((a, b) => b[1].attentionMs - a[1].attentionMs);
  if (!rows.length) {
    console.log('items: none measured');
    return;
  }
  console.log(`${'item'.padEnd(22)}${'attention'.padStart(10)}${'visible'.padStart(9)}${'hover'.padStart(8)}${'clicks'.padStart(7)}  flags  topics`);
  for (const [id, it] of rows) {
    const flags = `${it.viewable ? 'V' : '-'}${it.skipped ? 'S' : '-'}`;
    console.log(
      `${id.slice(0, 21).padEnd(22)}${`${it.attentionMs.toFixed(0)} ms`.padStart(10)}${`${it.visibleMs.toFixed(0)}`.padStart(9)}${`${it.hoverMs.toFixed(0)}`.padStart(8)}${String(it.clicks).padStart(7)}  ${flags.padEnd(5)}  ${it.topics.join(',')}`,
    );
  }
}
