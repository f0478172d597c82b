// The scripted visitor of `npm run demo:headless`: a reader who prefers one topic comes back to the
// demo news page several times. On each visit they scroll the front page, stop to read the stories of
// their topic (pointer resting on them) and pass over the rest. Per visit it prints the "For you"
// order the page showed at load and the attention the SDK measured, so the topic's rise is visible.
import { chromium } from '@playwright/test';

const ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-swiftshader',
];

/** Options: visits, the preferred topic, ms of reading per story, stories read per visit. */
export const DEFAULTS = { visits: 4, topic: 'science', dwellMs: 4000, readsPerVisit: 4 };

export async function runVisitor(demoUrl, options = {}) {
  const o = { ...DEFAULTS, ...options };
  const log = o.log ?? console.log;
  const browser = await chromium.launch({ executablePath: process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium', args: ARGS });
  const offsite = [];
  try {
    // One context = one visitor: IndexedDB and localStorage persist from visit to visit.
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    context.on('request', (r) => {
      if (new URL(r.url()).hostname !== new URL(demoUrl).hostname) offsite.push(r.url());
    });
    log(`attnflow demo: a visitor who prefers "${o.topic}" reads ${demoUrl} ${o.visits} times\n`);
    const history = [];
    for (let visit = 1; visit <= o.visits; visit++) {
      const page = await context.newPage();
      watchErrors(page, log);
      const result = await visitOnce(page, demoUrl, o);
      history.push(result);
      printVisit(visit, result, o, log);
      await page.close({ runBeforeUnload: true });
    }
    // A page nobody marked up: headings and paragraphs as siblings. The SDK finds its blocks itself.
    const guide = await context.newPage();
    watchErrors(guide, log);
    const flat = await readFlatPage(guide, new URL('guide.html', demoUrl).href);
    log(
      `── a flat page without markup (guide.html): ${Object.keys(flat.items).length} headed blocks found and measured, topics from tags and page metadata`,
    );
    printSnapshot(flat, log);
    log('');
    await guide.close({ runBeforeUnload: true });
    const ranks = history.map(
      (h) =>
        h.forYou
          .filter((x) => x.topics.includes(o.topic))
          .map((x) => x.rank)
          .filter((r) => r <= 3).length,
    );
    log(`"${o.topic}" stories in the top 3 of For you, visit by visit: ${ranks.join(' → ')}`);
    log(`requests to other hosts during the whole session: ${offsite.length}`);
    await context.close();
    return history;
  } finally {
    await browser.close();
  }
}

const watchErrors = (page, log) => page.on('pageerror', (e) => log('page error:', e.message));

/** Reads a flat page from top to bottom, a pause on each screen, and returns what was measured. */
export async function readFlatPage(page, url) {
  await page.goto(url);
  await page.waitForFunction(() => window.attnflow && !Array.isArray(window.attnflow));
  await page.mouse.move(500, 300);
  const height = await page.evaluate(() => document.documentElement.scrollHeight - innerHeight);
  for (let y = 0, i = 0; y <= height + 300; y += 300, i++) {
    for (let t = 0; t < 1200; t += 400) {
      await page.mouse.move(500 + (i % 2), 300 + (t % 800) / 4);
      await page.waitForTimeout(400);
    }
    await page.mouse.wheel(0, 300);
  }
  await page.waitForTimeout(500);
  return page.evaluate(() => window.attnflow.snapshot());
}

/** One visit: load, note the For you order, read like the visitor does, return what was measured. */
export async function visitOnce(page, url, o = DEFAULTS) {
  await page.goto(url);
  await page.waitForFunction(() => window.attnflow && !Array.isArray(window.attnflow));
  const report = await page.evaluate(() => window.attnflow.personalize());
  const forYou = await forYouOrder(page);

  const read = [];
  await page.mouse.move(550, 120);
  const height = await page.evaluate(() => document.documentElement.scrollHeight - innerHeight);
  for (let y = 0; y <= height + 300; y += 300) {
    await page.mouse.wheel(0, 300);
    await page.waitForTimeout(350);
    // A story of the visitor's topic near the middle of the screen: stop and read it.
    const target = await storyInView(page, [o.topic], read);
    if (target && read.length < o.readsPerVisit) {
      read.push(target.id);
      for (let t = 0; t < o.dwellMs; t += 500) {
        await page.mouse.move(target.x + ((t / 50) % 20) - 10, target.y, { steps: 2 });
        await page.waitForTimeout(500);
      }
    }
  }
  const snapshot = await page.evaluate(() => window.attnflow.snapshot());
  // Decide again at the end of the visit: by now the model chunk has loaded (when it can run here).
  const end = await page.evaluate(() => window.attnflow.personalize());
  return { report, forYou, read, snapshot, end };
}

/**
 * A story of one of `topics` near the middle of the screen that is not in `done`: its id and centre,
 * or null. Where a reader stops to read.
 */
export function storyInView(page, topics, done) {
  return page.evaluate(
    ({ topics, done }) => {
      for (const el of document.querySelectorAll('[data-attn-item]')) {
        const id = el.getAttribute('data-attn-item');
        if (done.includes(id) || !(el.getAttribute('data-attn-topics') || '').split(',').some((t) => topics.includes(t))) continue;
        const r = el.getBoundingClientRect();
        if (r.top > innerHeight * 0.15 && r.bottom < innerHeight * 0.85) return { id, x: r.left + r.width / 2, y: r.top + r.height / 2 };
      }
      return null;
    },
    { topics, done },
  );
}

/** The For you section as the visitor sees it: id, topics and 1-based rank of each shown story. */
export function forYouOrder(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('[data-attn-rank="for-you"] > [data-attn-item]')]
      .filter((el) => !el.hidden)
      .map((el, i) => ({
        rank: i + 1,
        id: el.getAttribute('data-attn-item'),
        topics: (el.getAttribute('data-attn-topics') || '').split(','),
      })),
  );
}

function printVisit(visit, { report, forYou, read, snapshot, end }, o, log) {
  const src = report
    ? report.source === 'model'
      ? 'the attention model'
      : 'topic affinities (profile)'
    : 'nothing (personalization did not load)';
  log(`── visit ${visit} ─ For you at load, scored by ${src}; ${report?.attended ?? 0} items read before this visit`);
  log('   ' + forYou.map((x) => `${x.rank}. ${x.id}${x.topics.includes(o.topic) ? '*' : ''}`).join('  '));
  const top3 = forYou.slice(0, 3).filter((x) => x.topics.includes(o.topic)).length;
  log(
    `   "${o.topic}" in the top 3: ${top3}/3${report?.containers?.[0]?.explored ? `   (exploring: ${report.containers[0].explored})` : ''}`,
  );
  log(`   read this visit: ${read.join(', ') || '—'}`);
  printSnapshot(snapshot, log, 12);
  const next = end?.containers?.find((c) => c.key === 'for-you');
  if (next) {
    log(
      `   end of visit: the model has loaded, weight ${end.modelWeight.toFixed(2)} (its agreement with what this visitor read); ` +
        `For you top 3 would now be ${next.order.slice(0, 3).join(', ')}`,
    );
  }
  log('');
}

/** The attention table of one page view, most attended first. */
export function printSnapshot(snap, log = console.log, max = Infinity) {
  const p = snap.page;
  log(
    `   page: engaged ${(p.engagedMs / 1000).toFixed(1)} s, visible ${(p.visibleMs / 1000).toFixed(1)} s, scroll depth ${(p.scrollDepth * 100).toFixed(0)}%`,
  );
  const rows = Object.entries(snap.items).sort((a, b) => b[1].attentionMs - a[1].attentionMs);
  if (!rows.length) {
    log('   items: none measured');
    return;
  }
  log(
    `   ${'item'.padEnd(14)}${'attention'.padStart(10)}${'visible'.padStart(9)}${'hover'.padStart(8)}${'clicks'.padStart(7)}  flags  topics`,
  );
  for (const [id, it] of rows.slice(0, max)) {
    const flags = `${it.viewable ? 'V' : '-'}${it.skipped ? 'S' : '-'}`;
    log(
      `   ${id.slice(0, 13).padEnd(14)}${`${it.attentionMs.toFixed(0)} ms`.padStart(10)}${`${it.visibleMs.toFixed(0)}`.padStart(9)}${`${it.hoverMs.toFixed(0)}`.padStart(8)}${String(it.clicks).padStart(7)}  ${flags.padEnd(5)}  ${it.topics.join(',')}`,
    );
  }
  const skipped = rows.filter(([, it]) => it.skipped).length;
  if (rows.length > max)
    log(`   … ${rows.length - max} more items measured (${skipped} skipped in all; V = viewable, S = seen but skipped)`);
}
