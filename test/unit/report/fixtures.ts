/**
 * Shared test data for the private reports (format v2): a seeded population of period summaries, with
 * items of a skewed popularity, long-tailed attention, clicks, skips, scroll depths and container
 * views; an independent statement of what each question's true answer is (`answerShares`), to check
 * `trueAnswer` and to give the simulations their truth; and the small statistics the tests share.
 */
import { mulberry32 } from '../../../src/model/hash';
import type { ContainerView, PeriodItem, PeriodSummary } from '../../../src/report/types';

/** The catalogue the population draws from. */
export const CATALOGUE = Array.from({ length: 40 }, (_, i) => `item-${i}`);
/** The personalized containers. */
export const CONTAINERS = ['for-you', 'more'];
/** The catalogue as the collector reads it (what `questionsOf` takes). */
export const COLLECTOR = { items: CATALOGUE.map((id) => ({ id })), containers: CONTAINERS };

/** An empty period. */
export const EMPTY: PeriodSummary = { items: [], depths: [], containers: [] };

/** One item of a summary: seen once, viewable, attended for 5 s with a click, unless `over` says otherwise. */
export const item = (itemId: string, over: Partial<PeriodItem> = {}): PeriodItem => ({
  itemId,
  views: 1,
  viewable: 1,
  attended: 1,
  skipped: 0,
  clicks: 1,
  attentionMs: 5000,
  ...over,
});

/**
 * One device's period: up to 14 items, up to 6 views' depths and container records. Item attention
 * has a long tail that passes the 30 s cap now and then; container attention passes the 30 s cap now
 * and then.
 */
export function device(rand: () => number): PeriodSummary {
  const chosen = new Set<number>();
  const count = Math.floor(rand() * 15);
  while (chosen.size < count) chosen.add(Math.floor(CATALOGUE.length * rand() ** 2));
  const items: PeriodItem[] = [...chosen].map((i) => {
    const views = 1 + Math.floor(rand() * 3);
    const attentionMs = rand() < 0.3 ? Math.round(rand() * 900) : Math.round(Math.exp(rand() * 12.5));
    const clicks = rand() < 0.15 ? 1 + Math.floor(rand() * 2) : 0;
    const attended = attentionMs >= 1000 || clicks > 0 ? 1 : 0;
    return {
      itemId: CATALOGUE[i]!,
      views,
      viewable: rand() < 0.7 ? 1 + Math.floor(rand() * views) : 0,
      attended,
      skipped: attended ? 0 : rand() < 0.6 ? 1 : 0,
      clicks,
      attentionMs,
    };
  });
  const depths = Array.from({ length: Math.floor(rand() * 7) }, () => (rand() < 0.2 ? 1 : rand()));
  const containers: ContainerView[] = Array.from({ length: Math.floor(rand() * 6) }, () => ({
    container: CONTAINERS[Math.floor(rand() * CONTAINERS.length)]!,
    arm: rand() < 0.5 ? 'p' : 'h',
    attentionMs: Math.round(Math.exp(rand() * 11.5)),
  }));
  return { items, depths, containers };
}

/** `n` devices from `seed`. */
export function population(n: number, seed: number): PeriodSummary[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => device(rand));
}

const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : 0);

/**
 * The probability of each answer of question `q` for a device with `summary`, written from the
 * contract rather than from questions.ts: a yes/no is certain; an amount is 1 with probability
 * min(amount, cap)/cap; the depth is the bucket of the median of the view depths (0 without views).
 */
export function answerShares(summary: PeriodSummary, q: string): number[] {
  const [kind, name, arm] = q.split('\t');
  const yes = (b: boolean) => (b ? [0, 1] : [1, 0]);
  const coin = (share: number) => [1 - share, share];
  if (kind === 'd') {
    const ds = summary.depths.filter(Number.isFinite).sort((a, b) => a - b);
    const out = [0, 0, 0, 0, 0];
    if (!ds.length) return [1, 0, 0, 0, 0];
    const m = ds.length % 2 ? ds[(ds.length - 1) / 2]! : (ds[ds.length / 2 - 1]! + ds[ds.length / 2]!) / 2;
    out[m >= 1 ? 4 : m >= 0.75 ? 3 : m >= 0.5 ? 2 : m >= 0.25 ? 1 : 0] = 1;
    return out;
  }
  if (kind === 'n' || kind === 'o') {
    const views = summary.containers.filter((c) => c.container === name && c.arm === arm);
    if (kind === 'n') return yes(views.length > 0);
    if (!views.length) return [1, 0];
    return coin(views.reduce((s, v) => s + Math.min(30_000, num(v.attentionMs)), 0) / views.length / 30_000);
  }
  const sum = { views: 0, viewable: 0, attended: 0, skipped: 0, clicks: 0, attentionMs: 0 };
  for (const it of summary.items) {
    if (it.itemId !== name) continue;
    for (const key of Object.keys(sum) as (keyof typeof sum)[]) sum[key] += num(it[key]);
  }
  const attended = sum.attended > 0 || sum.attentionMs >= 1000 || sum.clicks > 0;
  switch (kind) {
    case 'v':
      return yes(sum.views > 0);
    case 'w':
      return yes(sum.viewable > 0);
    case 'a':
      return yes(attended);
    case 'k':
      return yes(sum.skipped > 0 && !attended);
    case 'c':
      return yes(sum.clicks > 0);
    case 't':
      return coin(Math.min(30_000, sum.attentionMs) / 30_000);
    default:
      throw new Error(`not a question: ${JSON.stringify(q)}`);
  }
}

/** The population's share of each answer of `q`: the mean of `answerShares` over `summaries`. */
export function populationShares(summaries: readonly PeriodSummary[], q: string): number[] {
  const out: number[] = [];
  for (const s of summaries) answerShares(s, q).forEach((x, y) => (out[y] = (out[y] ?? 0) + x));
  return out.map((x) => x / summaries.length);
}

/** Draws of `rand` an answer with probabilities `shares`. */
export function draw(shares: readonly number[], rand: () => number): number {
  let u = rand();
  for (let y = 0; y < shares.length - 1; y++) {
    if (u < shares[y]!) return y;
    u -= shares[y]!;
  }
  return shares.length - 1;
}

/** A rand that hands out `values` in order and fails when asked for more; `used()` says how many it gave. */
export function scripted(values: readonly number[]): (() => number) & { used: () => number } {
  let i = 0;
  const rand = () => {
    if (i >= values.length) throw new Error(`scripted rand: asked for draw ${i + 1} of ${values.length}`);
    return values[i++]!;
  };
  return Object.assign(rand, { used: () => i });
}

/** A rand of `inner` that counts its draws. */
export function counting(inner: () => number): (() => number) & { count: () => number } {
  let n = 0;
  return Object.assign(
    () => {
      n++;
      return inner();
    },
    { count: () => n },
  );
}

/** The 99.9% quantile of the χ² distribution with `df` degrees of freedom (Wilson–Hilferty; a little above the exact one: 11.1 for df 1, exactly 10.8; 18.7 for df 4, exactly 18.5). */
export function chi2Quantile999(df: number): number {
  const z = 3.090232306167813;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

/** Pearson's χ² of `counts` against the probabilities `expected` (cells of probability 0 must be empty). */
export function chi2(counts: readonly number[], expected: readonly number[]): number {
  const n = counts.reduce((s, c) => s + c, 0);
  let x = 0;
  counts.forEach((c, i) => {
    const e = n * expected[i]!;
    if (e === 0) {
      if (c !== 0) x = Number.POSITIVE_INFINITY;
    } else x += (c - e) ** 2 / e;
  });
  return x;
}
