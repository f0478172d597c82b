/**
 * The product's domain rules, one home each: what counts as viewable, seen, attended and skipped,
 * what a click is worth, how much a visitor's attention gives a topic and how that fades, and how
 * far the site's own model is trusted. Capture, the log, the learner and personalization all read
 * them from here; README "What it measures" states them for users.
 */

/** An on-screen item hovered by the pointer weighs this many times its on-screen weight. */
export const HOVER_BOOST = 2;
/** At least this share of the item in view, or of the viewport covered by it, is viewable (IAB/MRC). */
export const VIEWABLE_SHARE = 0.5;
/** Viewable without a break for this long makes an item `viewable` (IAB/MRC), ms. */
export const VIEWABLE_MS = 1000;
/** Viewable this long in total counts as recognised, ms (the lower bound of `skipped`). */
export const SEEN_MS = 200;
/** At least this much attention makes an item attended (read), ms; under it a recognised item is skipped. */
export const ATTENDED_MS = 1000;
/** A click is worth this much attention, ms. */
export const CLICK_MS = 3000;
/**
 * A skip costs this much attention, ms. Small: visitors pass over most of what they see, and the
 * attention measure already gives a skipped item little.
 */
export const SKIP_MS = 300;
/** A view's attention counts half as much in the topic affinities every 30 days. */
export const HALF_LIFE_MS = 30 * 864e5;
/**
 * The weight of the site's own model (`modelUrl`) while nothing of this visitor judges it: the
 * share of the scores it gets before it has trained on this visitor or ranked what they read.
 */
export const SITE_MODEL_WEIGHT = 0.5;

/** What one item received: its attention, clicks and skips (one view, or summed over many). */
export interface Received {
  attentionMs: number;
  clicks: number;
  skipped?: number | boolean;
}

/** Viewable: `ratio` of the item in view, or `share` of the viewport it covers, reaches `VIEWABLE_SHARE`. */
export const isViewable = (p: { ratio: number; share: number }): boolean => p.ratio >= VIEWABLE_SHARE || p.share >= VIEWABLE_SHARE;

/** Skipped: recognised (viewable `SEEN_MS` in total) but not attended. */
export const isSkipped = (viewableMs: number, attentionMs: number): boolean => viewableMs >= SEEN_MS && attentionMs < ATTENDED_MS;

/** Attended (read): at least `ATTENDED_MS` of attention, or a click. */
export function isAttended(s: Received): boolean {
  return s.attentionMs >= ATTENDED_MS || s.clicks > 0;
}

/** What the visitor gave an item, ms: its attention, clicks at `CLICK_MS`, less skips at `SKIP_MS`. */
export function given(s: Received): number {
  return s.attentionMs + CLICK_MS * s.clicks - SKIP_MS * +(s.skipped ?? 0);
}

/** How much of a topic's gain from `ageMs` ago is left: half every `HALF_LIFE_MS`. */
export const decay = (ageMs: number): number => 2 ** (-Math.max(0, ageMs) / HALF_LIFE_MS);
