/**
 * How much the model's scores are trusted: only as far as they agree with what this visitor
 * actually gave attention to. A model that cannot even rank the items the visitor has already
 * seen (by their own attention) does not get to reorder the page; the topic-affinity scores do.
 */
import { ATTENDED_MS, CLICK_MS, isAttended } from '../rules';
import type { Scores, VisitorProfile } from './types';

/** Fewer seen items than this: nothing to judge the model by. */
export const MIN_SEEN = 5;

/** Spearman rank correlation of two equally long lists, -1..1 (0 when either is constant). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = a.length;
  const ma = ra.reduce((s, x) => s + x, 0) / n;
  const mb = rb.reduce((s, x) => s + x, 0) / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i]! - ma) * (rb[i]! - mb);
    da += (ra[i]! - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  }
  return da && db ? num / Math.sqrt(da * db) : 0;
}

function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) out[order[k]![1]] = (i + j) / 2;
    i = j + 1;
  }
  return out;
}

/**
 * The model's weight, 0..1: the rank correlation of its scores with the visitor's own engagement
 * (attention, clicks, reads) over the items among `ids` they have seen, mapped from 0.1..0.5 to 0..1.
 * With too few seen to judge it by, `unjudged`: none for a model of the visitor's own, the trust
 * a site gives the model it trained on its visitors (`modelUrl`).
 */
export function modelWeight(model: Scores, profile: VisitorProfile, ids: readonly string[], unjudged = 0): number {
  const seen = ids.filter((id) => profile.items[id] && Number.isFinite(model[id]));
  if (seen.length < MIN_SEEN) return unjudged;
  const engagement = seen.map((id) => {
    const s = profile.items[id]!;
    return s.attentionMs + CLICK_MS * s.clicks + (isAttended(s) ? ATTENDED_MS : 0);
  });
  const r = spearman(
    seen.map((id) => model[id]!),
    engagement,
  );
  return Math.round(Math.min(1, Math.max(0, (r - 0.1) / 0.4)) * 1000) / 1000;
}

/** Standardised profile scores blended with standardised model scores by `weight` (0: profile only). */
export function blendScores(profile: Scores, model: Scores, ids: readonly string[], weight: number): Scores {
  if (weight <= 0) return profile;
  const zp = standardize(profile, ids);
  const zm = standardize(model, ids);
  const out: Scores = {};
  for (const id of ids) out[id] = Math.round(((1 - weight) * (zp[id] ?? 0) + weight * (zm[id] ?? 0)) * 1e6) / 1e6;
  return out;
}

function standardize(scores: Scores, ids: readonly string[]): Scores {
  const xs = ids.map((id) => scores[id]).filter((x): x is number => Number.isFinite(x));
  const mean = xs.reduce((s, x) => s + x, 0) / (xs.length || 1);
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length || 1)) || 1;
  const out: Scores = {};
  for (const id of ids) if (Number.isFinite(scores[id])) out[id] = (scores[id]! - mean) / sd;
  return out;
}
