/**
 * How close the collector's estimates come to the truth a simulation knows (report format v2): a
 * fleet of devices with different tastes reads a 40-item catalogue of 8 topics for a day; each device
 * answers one question drawn uniformly from the collector's list (`questionsOf(catalogue)`, what
 * `GET /questions` serves: six per item and the scroll depth, 241 here), randomized by k-ary
 * randomized response at ε (`buildReport`), and the collector's estimates (`buildEstimates`, the
 * answer the dashboard reads) are compared with the true counts and sums over the devices, by the
 * definitions of the questions (`trueAnswer` in src/report/questions.ts): a device viewed an item if
 * a view had it on screen, attended it if a view attended it or its attention over the period reached
 * 1 s or it was clicked, and gave it its attention clipped at ITEM_CAP_MS (30 s).
 *
 * Per (devices, ε), over several fleets (each its own seed), per metric: the median over items (or
 * topics) and fleets of |estimate − truth| ÷ truth, and of |estimate − truth| ÷ devices (for attention,
 * in seconds per device), the median true count ÷ devices for scale, and how often the 95% interval
 * held the truth. Run by `npm run bench -- collect`, or alone: `node --import tsx bench/collect/error.ts`.
 */
import { buildEstimates } from '../../src/collect/estimates';
import { mulberry32 } from '../../src/lib/random';
import type { Interval } from '../../src/report/estimate';
import { ITEM_CAP_MS, questionsOf } from '../../src/report/questions';
import type { PeriodItem, PeriodSummary, PrivateReport } from '../../src/report/types';
import { buildReport } from '../../src/report/values';

const TOPICS = ['politics', 'sport', 'science', 'culture', 'business', 'travel', 'food', 'tech'];
const STORIES = Array.from({ length: 40 }, (_, i) => ({ id: `story-${i}`, topic: TOPICS[i % TOPICS.length]! }));
const CATALOGUE = { items: STORIES.map((c) => ({ id: c.id, topics: [c.topic] })), containers: [] };
const QUESTIONS = questionsOf(CATALOGUE);
const DAY = '2026-12-06';
/** Fleets per (devices, ε): the medians and the coverage are over all of them. */
const FLEETS: Record<number, number> = { 1000: 40, 10000: 8 };

/** One device's day: it sees 6–14 stories, reads those of the topics it likes, skips the rest. */
function day(rand: () => number): PeriodSummary {
  const likes = new Set([TOPICS[Math.floor(rand() * TOPICS.length)]!, TOPICS[Math.floor(rand() * TOPICS.length)]!]);
  const seen = 6 + Math.floor(rand() * 9);
  const start = Math.floor(rand() * STORIES.length);
  const items: PeriodItem[] = [];
  for (let k = 0; k < seen; k++) {
    // The front of the catalogue is seen more: a popularity gradient.
    const it = STORIES[(start + Math.floor(rand() ** 2 * STORIES.length)) % STORIES.length]!;
    if (items.some((x) => x.itemId === it.id)) continue;
    const liked = likes.has(it.topic);
    const read = rand() < (liked ? 0.7 : 0.1);
    items.push({
      itemId: it.id,
      views: 1,
      viewable: 1,
      attended: read ? 1 : 0,
      skipped: read ? 0 : 1,
      clicks: read && rand() < 0.3 ? 1 : 0,
      attentionMs: read ? 2000 + rand() * 30_000 : rand() * 800,
    });
  }
  return { items, depths: [rand()], containers: [] };
}

/** The truth over a fleet, per item: devices that viewed it, that attended it, and their attention summed (clipped). */
interface Truth {
  views: number;
  attended: number;
  attentionMs: number;
}

function truthOf(fleet: readonly PeriodSummary[]): Map<string, Truth> {
  const truth = new Map<string, Truth>(STORIES.map((s) => [s.id, { views: 0, attended: 0, attentionMs: 0 }]));
  for (const summary of fleet) {
    for (const it of summary.items) {
      const t = truth.get(it.itemId)!;
      t.views += +(it.views > 0);
      t.attended += +(it.attended > 0 || it.attentionMs >= 1000 || it.clicks > 0);
      t.attentionMs += Math.min(ITEM_CAP_MS, it.attentionMs);
    }
  }
  return truth;
}

const METRICS = ['item views', 'item attended', 'item attention', 'topic views', 'topic attention'] as const;
type Metric = (typeof METRICS)[number];

/** Per metric: relative errors, absolute errors per device, true values per device, intervals that held the truth. */
interface Tally {
  relative: number[];
  perDevice: number[];
  scale: number[];
  covered: number;
  checks: number;
}

async function run(devices: number, epsilon: number, seed: number, tallies: Map<Metric, Tally>): Promise<void> {
  const rand = mulberry32(seed);
  const fleet = Array.from({ length: devices }, () => day(rand));
  const reports: PrivateReport[] = fleet.map((summary) => buildReport(summary, { epsilon, questions: QUESTIONS, day: DAY, rand }));
  const truth = truthOf(fleet);
  const answer = await buildEstimates(CATALOGUE, [DAY], reports, 0);
  const add = (metric: Metric, t: number, e: Interval): void => {
    const tally = tallies.get(metric)!;
    const error = Math.abs(e.estimate - t);
    if (t > 0) tally.relative.push(error / t);
    tally.perDevice.push(error / devices);
    tally.scale.push(t / devices);
    tally.covered += +(e.low <= t && t <= e.high);
    tally.checks++;
  };
  for (const item of answer.items) {
    const t = truth.get(item.id)!;
    add('item views', t.views, item.views);
    add('item attended', t.attended, item.attended);
    add('item attention', t.attentionMs, item.attentionMs);
  }
  for (const topic of answer.topics) {
    const ids = STORIES.filter((s) => s.topic === topic.id).map((s) => s.id);
    const sum = (key: keyof Truth) => ids.reduce((s, id) => s + truth.get(id)![key], 0);
    add('topic views', sum('views'), topic.views);
    add('topic attention', sum('attentionMs'), topic.attentionMs);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const pct = (x: number): string => `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%`;
/** An error or a true value per device: a share of devices for counts, seconds per device for attention. */
const perDevice = (metric: Metric, x: number): string => (metric.endsWith('attention') ? `${(x / 1000).toFixed(2)} s` : pct(x));

const t0 = performance.now();
console.log(
  `estimate error against the simulated truth (format v2: each device answers one of ${QUESTIONS.length} questions, ` +
    `randomized response at ε; ${STORIES.length} items, ${TOPICS.length} topics; one report per device and day)`,
);
console.log('|error| ÷ devices and truth ÷ devices: a share of devices for views and attended; seconds per device for attention');
for (const devices of [1000, 10_000]) {
  for (const epsilon of [1, 4]) {
    const tallies = new Map<Metric, Tally>(METRICS.map((m) => [m, { relative: [], perDevice: [], scale: [], covered: 0, checks: 0 }]));
    const fleets = FLEETS[devices]!;
    for (let f = 0; f < fleets; f++) await run(devices, epsilon, 1000 * devices + 10 * epsilon + f, tallies);
    console.log(
      `\n${devices.toLocaleString('en-US')} devices, ε = ${epsilon}: ~${(devices / QUESTIONS.length).toFixed(0)} reports per question, ${fleets} fleets`,
    );
    console.log(
      'metric            median |error| ÷ truth   median |error| ÷ devices   median truth ÷ devices   95% interval holds the truth',
    );
    let covered = 0;
    let checks = 0;
    for (const metric of METRICS) {
      const t = tallies.get(metric)!;
      covered += t.covered;
      checks += t.checks;
      console.log(
        `${metric.padEnd(16)}  ${pct(median(t.relative)).padStart(20)}   ${perDevice(metric, median(t.perDevice)).padStart(22)}   ` +
          `${perDevice(metric, median(t.scale)).padStart(20)}   ${pct(t.covered / t.checks).padStart(10)} of ${t.checks}`,
      );
    }
    console.log(
      `${'all'.padEnd(16)}  ${''.padStart(20)}   ${''.padStart(22)}   ${''.padStart(20)}   ${pct(covered / checks).padStart(10)} of ${checks}`,
    );
  }
}
console.log(`\n(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
