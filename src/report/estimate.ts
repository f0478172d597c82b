/**
 * The collector side of the private attention reports: the strict check of a report against format
 * v1, and the unbiased counts of candidate values from the reports, with their variance, 95% normal
 * intervals, weighted sums (attention from bucket midpoints, topics from items) and rates.
 * See the report format v1 contract (estimator, report JSON).
 */
import { murmur3Of, olhDomain, olhEstimate } from './olh';
import type { PrivateReport } from './types';
import { isDay, MAX_EPSILON, REPORT_FORMAT, REPORT_VERSION, utcDay } from './values';

/** What estimation reads of a report. */
export type ReportNoise = Pick<PrivateReport, 's' | 'y' | 'g' | 'epsilon' | 'm'>;

/** An unbiased estimate and its variance. */
export interface Estimate {
  /** The estimate (a count of devices, or a sum over them); may be negative for rare values. */
  estimate: number;
  /** Its variance. */
  variance: number;
}

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
export const REPORT_KEYS = ['format', 'version', 'day', 'epsilon', 'm', 'g', 's', 'y', 'id'] as const;
/** The most slots a report may claim. */
export const MAX_M = 1024;

/**
 * The estimate of each of `values` from `reports`: reports sharing (ε, m) are counted together with
 * `olhEstimate`, and the groups' estimates and variances are summed.
 */
export function estimateValues(reports: readonly ReportNoise[], values: readonly string[]): Map<string, Estimate> {
  const groups = new Map<string, ReportNoise[]>();
  for (const r of reports) {
    const key = `${r.epsilon}|${r.m}`;
    const list = groups.get(key);
    if (list) list.push(r);
    else groups.set(key, [r]);
  }
  const hashes = values.map(murmur3Of);
  const out = new Map<string, Estimate>(values.map((v) => [v, { estimate: 0, variance: 0 }]));
  for (const list of groups.values()) {
    const { epsilon, m } = list[0]!;
    const g = olhDomain(epsilon);
    const n = list.length;
    const seeds = Uint32Array.from(list, (r) => r.s);
    const ys = Uint32Array.from(list, (r) => r.y);
    for (let j = 0; j < values.length; j++) {
      const hash = hashes[j]!;
      let supports = 0;
      for (let i = 0; i < n; i++) if (hash(seeds[i]!) % g === ys[i]) supports++;
      const e = olhEstimate(supports, n, epsilon, m);
      const acc = out.get(values[j]!)!;
      acc.estimate += e.estimate;
      acc.variance += e.variance;
    }
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
  return { estimate: e.estimate, low: e.estimate - half, high: e.estimate + half };
}

const clip01 = (x: number): number => Math.min(1, Math.max(0, x));

/**
 * The rate num/den with a delta-method 95% interval, var ≈ (var(num) + r²·var(den))/den², everything
 * clipped to [0, 1]. The two estimates are taken as uncorrelated: given each device's drawn slot, OLH
 * supports of different values are; the draw itself adds a covariance far below the noise. A
 * denominator estimated ≤ 0 says nothing: estimate 0, interval [0, 1].
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
 * Checks a parsed report body (or its JSON text) against format v1, strictly: exactly the spec's keys;
 * `format` and `version`; `day` a real UTC date neither after the UTC day of `now` (epoch ms) nor more
 * than `MAX_REPORT_AGE_DAYS` before it; `epsilon` finite in (0, 10]; `m` an integer 1..1024; `g` equal
 * to max(2, round(e^ε + 1)); `s` a uint32; `y` an integer in [0, g); `id` 22 base64url characters.
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
  const { epsilon, m, g, s, y, id } = r;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon <= 0 || epsilon > MAX_EPSILON) {
    return { ok: false, error: `epsilon must be a finite number in (0, ${MAX_EPSILON}]` };
  }
  if (!isInt(m) || m < 1 || m > MAX_M) return { ok: false, error: `m must be an integer in 1..${MAX_M}` };
  if (!isInt(g) || g !== olhDomain(epsilon)) return { ok: false, error: `g must be ${olhDomain(epsilon)} at epsilon ${epsilon}` };
  if (!isInt(s) || s < 0 || s > 0xffffffff) return { ok: false, error: 's must be a uint32' };
  if (!isInt(y) || y < 0 || y >= g) return { ok: false, error: `y must be an integer in [0, ${g})` };
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(id)) return { ok: false, error: 'id must be 22 base64url characters' };
  return { ok: true, report: { format: REPORT_FORMAT, version: REPORT_VERSION, day: r.day, epsilon, m, g, s, y, id } };
}
