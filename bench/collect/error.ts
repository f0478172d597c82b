/**
 * How close the collector's estimates come to the truth a simulation knows: a fleet of devices with
 * different tastes reads a 40-item catalogue for a day, each sends one private report, and the
 * estimates of views and reads per item and per topic are compared with the true (bounded) counts.
 * Run by `npm run bench -- collect`.
 */
import { estimateValues, interval, sumEstimates, type Estimate } from '../../src/report/estimate';
import { buildReport, encodeValues, itemValue } from '../../src/report/values';
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
  devices: number;
  epsilon: number;
  itemErr: number;
  itemCover: number;
  topicErr: number;
  topicCover: number;
  mean: number;
}

function run(devices: number, epsilon: number, seed: number): Row {
  const rand = mulberry32(seed);
  const truth = new Map<string, number>();
  const reports = [];
  for (let d = 0; d < devices; d++) {
    const summary = day(rand);
    for (const v of new Set(encodeValues(summary))) truth.set(v, (truth.get(v) ?? 0) + 1);
    reports.push(buildReport(summary, { epsilon, day: '2026-12-06', rand }));
  }
  const values = CATALOGUE.flatMap((c) => [itemValue('v', c.id), itemValue('a', c.id)]);
  const est = estimateValues(reports, values);
  const errs: number[] = [];
  let covered = 0;
  for (const v of values) {
    const t = truth.get(v) ?? 0;
    const e = est.get(v)!;
    errs.push(Math.abs(e.estimate - t));
    const i = interval(e);
    if (i.low <= t && t <= i.high) covered++;
  }
  const topicErrs: number[] = [];
  let topicCovered = 0;
  for (const topic of TOPICS) {
    const parts: Estimate[] = [];
    let t = 0;
    for (const c of CATALOGUE.filter((x) => x.topic === topic)) {
      parts.push(est.get(itemValue('v', c.id))!);
      t += truth.get(itemValue('v', c.id)) ?? 0;
    }
    const e = sumEstimates(parts);
    topicErrs.push(Math.abs(e.estimate - t) / Math.max(1, t));
    const i = interval(e);
    if (i.low <= t && t <= i.high) topicCovered++;
  }
  const mean = values.reduce((s, v) => s + (truth.get(v) ?? 0), 0) / values.length;
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    devices,
    epsilon,
    itemErr: median(errs) / mean,
    itemCover: covered / values.length,
    topicErr: median(topicErrs),
    topicCover: topicCovered / TOPICS.length,
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
    const r = run(devices, epsilon, 7 + devices + epsilon);
    console.log(
      `${String(devices).padStart(7)}  ${epsilon}   ${pct(r.itemErr).padStart(6)} (mean count ${r.mean.toFixed(0)})`.padEnd(64) +
        `${pct(r.itemCover).padStart(5)}        ${pct(r.topicErr).padStart(6)}`.padEnd(52) +
        pct(r.topicCover).padStart(5),
    );
  }
}
