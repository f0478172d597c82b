/**
 * How close the collector's estimates come to the truth a simulation knows: a fleet of devices with
 * different tastes reads a 40-item catalogue for a day, each sends one private report, and the
 * estimates of views and reads per item and per topic are compared with the true (bounded) counts.
 * Run by `npm run bench -- collect`.
 */
import { buildEstimates } from '../../src/collect/estimates';
import { buildReport, encodeValues } from '../../src/report/values';
import type { PeriodItem, PeriodSummary } from '../../src/report/types';
import { mulberry32 } from '../../src/model/hash';

const TOPICS = ['politics', 'sport', 'science', 'culture', 'business', 'travel', 'food', 'tech'];
const CATALOGUE = Array.from({ length: 40 }, (_, i) => ({ id: `story-${i}`, topic: TOPICS[i % TOPICS.length]! }));

/** One device's day: it sees 6–14 stories, reads those of the topics it likes, skips the rest. */
function day(rand: () => number): PeriodSummary {
  const likes = new Set([TOPICS[Math.floor(rand() * TOPICS.length)]!, TOPICS[Math.floor(rand() * TOPICS.length)]!]);
  const seen = 6 + Math.floor(rand() * 9);
  const start = Math.floor(rand() * CATALOGUE.length);
  const items: PeriodItem[] = [];
  for (let k = 0; k < seen; k++) {
    // The front of the catalogue is seen more: a popularity gradient.
    const it = CATALOGUE[(start + Math.floor(rand() ** 2 * CATALOGUE.length)) % CATALOGUE.length]!;
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

interface Row {
  itemErr: number;
  itemCover: number;
  topicErr: number;
  topicCover: number;
  mean: number;
}

async function run(devices: number, epsilon: number, seed: number): Promise<Row> {
  const rand = mulberry32(seed);
  // The truth the estimates aim at: devices whose bounded set holds the item (viewed, attended).
  const truth = new Map<string, number>();
  const add = (key: string) => truth.set(key, (truth.get(key) ?? 0) + 1);
  const reports = [];
  for (let d = 0; d < devices; d++) {
    const summary = day(rand);
    for (const v of encodeValues(summary)) {
      const [kind, id] = v.split('\t');
      if (kind === 'v') add(`views\t${id}`);
      if (kind === 'a') add(`attended\t${id}`);
    }
    reports.push(buildReport(summary, { epsilon, day: '2026-12-06', rand }));
  }
  const catalogue = { items: CATALOGUE.map((c) => ({ id: c.id, topics: [c.topic] })), containers: [] };
  const answer = await buildEstimates(catalogue, ['2026-12-06'], reports, 0);
  const errs: number[] = [];
  let covered = 0;
  let total = 0;
  for (const item of answer.items) {
    for (const k of ['views', 'attended'] as const) {
      const t = truth.get(`${k}\t${item.id}`) ?? 0;
      const e = item[k];
      errs.push(Math.abs(e.estimate - t));
      if (e.low <= t && t <= e.high) covered++;
      total += t;
    }
  }
  const topicErrs: number[] = [];
  let topicCovered = 0;
  for (const topic of answer.topics) {
    const t = CATALOGUE.filter((c) => c.topic === topic.id).reduce((s, c) => s + (truth.get(`views\t${c.id}`) ?? 0), 0);
    topicErrs.push(Math.abs(topic.views.estimate - t) / Math.max(1, t));
    if (topic.views.low <= t && t <= topic.views.high) topicCovered++;
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const mean = total / errs.length;
  return {
    itemErr: median(errs) / mean,
    itemCover: covered / errs.length,
    topicErr: median(topicErrs),
    topicCover: topicCovered / answer.topics.length,
    mean,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
console.log('estimate error against the simulated truth (one report per device and day; 40 items, 8 topics)');
console.log(
  'devices  ε   item views/reads: median |error| (÷ mean count)  95% covers   topic views: median |error| (relative)  95% covers',
);
for (const devices of [1000, 10_000]) {
  for (const epsilon of [1, 4]) {
    const r = await run(devices, epsilon, 7 + devices + epsilon);
    console.log(
      `${String(devices).padStart(7)}  ${epsilon}   ${pct(r.itemErr).padStart(6)} (mean count ${r.mean.toFixed(0)})`.padEnd(64) +
        `${pct(r.itemCover).padStart(5)}        ${pct(r.topicErr).padStart(6)}`.padEnd(52) +
        pct(r.topicCover).padStart(5),
    );
  }
}
