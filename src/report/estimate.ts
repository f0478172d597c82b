/**
 * The collector side of the private attention reports: the strict check of a report against format
 * v2, and from the reports, per question, the unbiased share of each answer in the population with
 * its variance (`rrShares`); then 95% normal intervals, sums (topics are sums over their items) and
 * rates. See the report format v2 contract (estimator, report JSON).
 */
import { answers, MAX_QUESTION_LENGTH } from './questions';
import { type Estimate, rrInformation, rrShares } from './rr';
import type { PrivateReport } from './types';
import { isDay, MAX_EPSILON, REPORT_FORMAT, REPORT_VERSION, utcDay } from './values';

export type { Estimate };

/** What estimation reads of a report. */
export type ReportAnswer = Pick<PrivateReport, 'q' | 'y' | 'epsilon'>;

/** An estimate with its 95% interval. */
export interface Interval {
  estimate: number;
  /** Lower end of the 95% interval. */
  low: number;
  /** Upper end of the 95% interval. */
  high: number;
}

/** The standard normal's 97.5% quantile: a 95% two-sided interval is ±Z95 standard deviations. */
export const Z95 = 1.959963984540054;
/** How many days back a report's day may lie: today and the 7 days before are accepted. */
export const MAX_REPORT_AGE_DAYS = 7;
/** The keys of a report, exactly. */
export const REPORT_KEYS = ['format', 'version', 'day', 'epsilon', 'q', 'y', 'id'] as const;

/** Per question: how many reports answered it, and the population's share of each answer. */
export interface QuestionEstimate {
  /** Reports that answered the question. */
  n: number;
  /** Share of each answer y among all devices, unbiased, with its variance. */
  shares: Estimate[];
}

/**
 * The estimate of each of `questions` from `reports`: per question and ε, the answers are counted and
 * `rrShares` gives each answer's share; groups of different ε are pooled with weights n·(p − q)²,
 * each group's number of reports times what one of its reports tells (near the inverse of its
 * variance, and fixed before any answer is read: the pooled share stays unbiased). Reports of other
 * questions, or with an answer out of range, are left out.
 */
export function estimateQuestions(reports: readonly ReportAnswer[], questions: readonly string[]): Map<string, QuestionEstimate> {
  const wanted = new Map<string, Map<number, number[]>>(questions.map((q) => [q, new Map()]));
  for (const r of reports) {
    const groups = wanted.get(r.q);
    const k = answers(r.q);
    if (!groups || !Number.isInteger(r.y) || r.y < 0 || r.y >= k) continue;
    let counts = groups.get(r.epsilon);
    if (!counts) groups.set(r.epsilon, (counts = new Array<number>(k).fill(0)));
    counts[r.y]!++;
  }
  const out = new Map<string, QuestionEstimate>();
  for (const [q, groups] of wanted) {
    const k = answers(q);
    let n = 0;
    let weights = 0;
    const shares = Array.from({ length: k }, () => ({ estimate: 0, variance: 0 }));
    for (const [epsilon, counts] of groups) {
      const m = counts.reduce((x, c) => x + c, 0);
      const w = m * rrInformation(epsilon, k);
      rrShares(counts, epsilon).forEach((e, y) => {
        shares[y]!.estimate += w * e.estimate;
        shares[y]!.variance += w * w * e.variance;
      });
      n += m;
      weights += w;
    }
    for (const e of shares) {
      e.estimate = weights ? e.estimate / weights : 0;
      e.variance = weights ? e.variance / (weights * weights) : Number.POSITIVE_INFINITY;
    }
    out.set(q, { n, shares });
  }
  return out;
}

/** Σ wᵢ·eᵢ with variance Σ wᵢ²·varᵢ (weights default to 1): the parts are counted as independent. */
export function sumEstimates(parts: readonly Estimate[], weights?: readonly number[]): Estimate {
  let estimate = 0;
  let variance = 0;
  parts.forEach((e, i) => {
    const w = weights?.[i] ?? 1;
    estimate += w * e.estimate;
    variance += w * w * e.variance;
  });
  return { estimate, variance };
}

/** The 95% normal interval of `e`. */
export function interval(e: Estimate): Interval {
  const half = Z95 * Math.sqrt(Math.max(0, e.variance));
  // Nothing to go by (no report answered): the interval is everything, in numbers JSON can carry.
  if (!Number.isFinite(half)) return { estimate: e.estimate, low: -Number.MAX_VALUE, high: Number.MAX_VALUE };
  return { estimate: e.estimate, low: e.estimate - half, high: e.estimate + half };
}

const clip01 = (x: number): number => Math.min(1, Math.max(0, x));

/**
 * The rate num/den with a delta-method 95% interval, var ≈ (var(num) + r²·var(den))/den², everything
 * clipped to [0, 1]. The two estimates come from different questions, answered by different devices:
 * they are independent. A denominator estimated ≤ 0 says nothing: estimate 0, interval [0, 1].
 */
export function ratioInterval(num: Estimate, den: Estimate): Interval {
  if (!(den.estimate > 0)) return { estimate: 0, low: 0, high: 1 };
  const r = num.estimate / den.estimate;
  const sd = Math.sqrt(Math.max(0, num.variance + r * r * den.variance)) / den.estimate;
  return { estimate: clip01(r), low: clip01(r - Z95 * sd), high: clip01(r + Z95 * sd) };
}

/** The outcome of `validateReport`. */
export type Validation = { ok: true; report: PrivateReport } | { ok: false; error: string };

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

/**
 * Checks a parsed report body (or its JSON text) against format v2, strictly: exactly the spec's keys;
 * `format` and `version`; `day` a real UTC date neither after the UTC day of `now` (epoch ms) nor more
 * than `MAX_REPORT_AGE_DAYS` before it; `epsilon` finite in (0, 10]; `q` a report question (whether it
 * is one of this collector's is the collector's check); `y` an integer in [0, k) for its k answers;
 * `id` 22 base64url characters.
 */
export function validateReport(json: unknown, now: number = Date.now()): Validation {
  let body = json;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return { ok: false, error: 'not JSON' };
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, error: 'a report is a JSON object' };
  const proto = Object.getPrototypeOf(body);
  if (proto !== Object.prototype && proto !== null) return { ok: false, error: 'a report is a plain JSON object' };
  const r = body as Record<string, unknown>;
  const keys = Object.keys(r);
  for (const key of keys) {
    if (!(REPORT_KEYS as readonly string[]).includes(key)) return { ok: false, error: `unexpected key ${JSON.stringify(key)}` };
  }
  for (const key of REPORT_KEYS) if (!keys.includes(key)) return { ok: false, error: `missing key "${key}"` };
  if (r.format !== REPORT_FORMAT) return { ok: false, error: `format must be "${REPORT_FORMAT}"` };
  if (r.version !== REPORT_VERSION) return { ok: false, error: `version must be ${REPORT_VERSION}` };
  if (!isDay(r.day)) return { ok: false, error: 'day must be a UTC date YYYY-MM-DD' };
  if (!Number.isFinite(now)) return { ok: false, error: 'no current time to check the day against' };
  const today = utcDay(now);
  if (r.day > today) return { ok: false, error: 'day is in the future' };
  if (r.day < utcDay(now - MAX_REPORT_AGE_DAYS * 864e5)) return { ok: false, error: `day is more than ${MAX_REPORT_AGE_DAYS} days old` };
  const { epsilon, q, y, id } = r;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon <= 0 || epsilon > MAX_EPSILON) {
    return { ok: false, error: `epsilon must be a finite number in (0, ${MAX_EPSILON}]` };
  }
  if (typeof q !== 'string' || q.length > MAX_QUESTION_LENGTH || !answers(q)) return { ok: false, error: 'q must be a report question' };
  if (!isInt(y) || y < 0 || y >= answers(q)) return { ok: false, error: `y must be an integer in [0, ${answers(q)})` };
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(id)) return { ok: false, error: 'id must be 22 base64url characters' };
  return { ok: true, report: { format: REPORT_FORMAT, version: REPORT_VERSION, day: r.day, epsilon, q, y, id } };
}
