/**
 * The device side of the private attention reports (format v2): one question drawn uniformly from
 * the collector's list, the device's true answer from its period summary, and that answer randomized
 * by k-ary randomized response at the report's ε. The report holds the question, the randomized
 * answer, the day and ε, and a random id: nothing else. See the report format v2 contract.
 */
import { AttnflowConfigError, describe } from '../lib/errors';
import { answers, trueAnswer } from './questions';
import { cryptoRandom, rrPerturb } from './rr';
import type { PeriodSummary, PrivateReport, ReportOptions } from './types';

/** The `format` field of every report. */
export const REPORT_FORMAT = 'attnflow-report';
/** The report format's version. */
export const REPORT_VERSION = 2;
/** The largest privacy budget a report may spend. */
export const MAX_EPSILON = 10;

/** The UTC day of `ms` (epoch ms), `YYYY-MM-DD`. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Whether `day` is a real calendar date written `YYYY-MM-DD`. */
export function isDay(day: unknown): day is string {
  if (typeof day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return false;
  const ms = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(ms) && utcDay(ms) === day;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** 16 bytes from `rand`, base64url without padding (22 chars). */
function randomId(rand: () => number): string {
  let bits = 0;
  let n = 0;
  let out = '';
  for (let i = 0; i < 16; i++) {
    bits = (bits << 8) | Math.min(255, Math.floor(rand() * 256));
    n += 8;
    while (n >= 6) {
      n -= 6;
      out += B64URL[(bits >>> n) & 63];
    }
    bits &= (1 << n) - 1;
  }
  return out + B64URL[(bits << (6 - n)) & 63];
}

/**
 * The period's report: a question drawn uniformly from `options.questions`, the summary's true answer
 * to it, randomized at `epsilon`, with a random id. Draws from `rand`, in order: the question, the
 * answer's coin (amount questions only), the randomization (`rrPerturb`), then the id's 16 bytes.
 * Throws `AttnflowConfigError` for an epsilon outside (0, 10], a day that is not `YYYY-MM-DD`, or no
 * valid question.
 */
export function buildReport(summary: PeriodSummary, options: ReportOptions): PrivateReport {
  const { epsilon, questions, day = utcDay(Date.now()), rand = cryptoRandom } = options;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon <= 0 || epsilon > MAX_EPSILON) {
    throw new AttnflowConfigError(describe('report epsilon', `a finite number in (0, ${MAX_EPSILON}]`, epsilon));
  }
  if (!isDay(day)) throw new AttnflowConfigError(describe('report day', 'a UTC date YYYY-MM-DD', day));
  if (!Array.isArray(questions) || !questions.length || !questions.every((q) => answers(q) > 0)) {
    throw new AttnflowConfigError(describe('report questions', 'a non-empty list of report questions', questions));
  }
  const q = questions[Math.min(questions.length - 1, Math.floor(rand() * questions.length))]!;
  const y = rrPerturb(trueAnswer(summary, q, rand), answers(q), epsilon, rand);
  return { format: REPORT_FORMAT, version: REPORT_VERSION, day, epsilon, q, y, id: randomId(rand) };
}
