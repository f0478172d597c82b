/**
 * The questions a report answers (format v2). The collector derives them from its catalogue and
 * serves them (`GET /questions`); a device draws one uniformly, so which question it answers says
 * nothing about it, answers it from its period summary, and randomizes only the answer. Each answer
 * is one of k (2 for every question but the scroll depth, which has 5): a yes/no, or, for an amount,
 * a coin that comes up 1 with probability amount/cap, whose mean over devices is the mean amount.
 * Contribution is bounded by construction: one answer per report, amounts clipped at their cap.
 *
 * Questions are tab-separated: `<kind>\t<item>` for an item, `d` for the depth,
 * `<kind>\t<container>\t<arm>` for a personalized container.
 */
import { isAttended } from '../rules';
import type { PeriodItem, PeriodSummary } from './types';

/**
 * Item questions: `v` on screen, `w` viewable (≥ 50% for ≥ 1 s), `a` attended (≥ 1 s or a click),
 * `k` skipped (seen, < 1 s of attention, not attended), `c` clicked, `t` attention (an amount, ms).
 */
export const ITEM_KINDS = ['v', 'w', 'a', 'k', 'c', 't'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];
/**
 * Container questions, per arm (`p` personalized order, `h` holdout): `n` the device had a view
 * with the container in that arm; `o` attention per such view (an amount, ms; 0 without one).
 */
export const CONTAINER_KINDS = ['n', 'o'] as const;
export const ARMS = ['p', 'h'] as const;
/**
 * An item's attention over the period is clipped here, ms: the cap of the `t` answer. An answer's
 * noise is a share of its cap: 30 s, above what most items get in a day, keeps it small.
 */
export const ITEM_CAP_MS = 30_000;
/** A container's attention in one view is clipped here, ms: the cap of the `o` answer. */
export const VIEW_CAP_MS = 30_000;
/** Lower edges of the scroll-depth answers, 0..1: 0:[0,.25) 1:[.25,.5) 2:[.5,.75) 3:[.75,1) 4: the bottom. */
export const DEPTH_EDGES = [0, 0.25, 0.5, 0.75, 1] as const;
/** The longest name a question carries, characters: an item id as the SDK keeps it (≤ 200). */
export const MAX_NAME_LENGTH = 200;
/** The longest question, characters: a container's (`o\t<name>\tp`). */
export const MAX_QUESTION_LENGTH = MAX_NAME_LENGTH + 4;

/** The depth answer of `depth` (0..4; 4 only at the bottom). */
export function depthBucket(depth: number): number {
  let b = 0;
  while (b + 1 < DEPTH_EDGES.length && depth >= DEPTH_EDGES[b + 1]!) b++;
  return b;
}

/**
 * A name a question can carry: 1..200 characters, no control character (a tab separates fields).
 * Escaped as JSON and as UTF-8 a report then stays well under the collector's 1 KB.
 */
export function isName(name: unknown): name is string {
  if (typeof name !== 'string' || !name.length || name.length > MAX_NAME_LENGTH) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 32 || c === 127) return false;
  }
  return true;
}

/** The questions of a catalogue, in order: each item's six, the depth, each container's four. */
export function questionsOf(catalogue: { items: readonly { id: string }[]; containers: readonly string[] }): string[] {
  const out: string[] = [];
  for (const { id } of catalogue.items) for (const kind of ITEM_KINDS) out.push(`${kind}\t${id}`);
  out.push('d');
  for (const c of catalogue.containers) for (const arm of ARMS) for (const kind of CONTAINER_KINDS) out.push(`${kind}\t${c}\t${arm}`);
  return out;
}

/** A question, read. */
export type Question =
  | { kind: ItemKind; item: string }
  | { kind: 'd' }
  | { kind: (typeof CONTAINER_KINDS)[number]; container: string; arm: (typeof ARMS)[number] };

/** Reads a question; undefined when it is not one. */
export function parseQuestion(q: unknown): Question | undefined {
  if (typeof q !== 'string' || q.length > MAX_QUESTION_LENGTH) return undefined;
  if (q === 'd') return { kind: 'd' };
  const parts = q.split('\t');
  const kind = parts[0] as string;
  if (parts.length === 2 && (ITEM_KINDS as readonly string[]).includes(kind) && isName(parts[1])) {
    return { kind: kind as ItemKind, item: parts[1] };
  }
  if (
    parts.length === 3 &&
    (CONTAINER_KINDS as readonly string[]).includes(kind) &&
    isName(parts[1]) &&
    (parts[2] === 'p' || parts[2] === 'h')
  ) {
    return { kind: kind as 'n' | 'o', container: parts[1], arm: parts[2] };
  }
  return undefined;
}

/** How many answers question `q` has: 5 for the depth, 2 for any other; 0 for what is not a question. */
export function answers(q: string): number {
  const parsed = parseQuestion(q);
  return !parsed ? 0 : parsed.kind === 'd' ? DEPTH_EDGES.length : 2;
}

const amount = (x: unknown): number => (typeof x === 'number' && x > 0 && Number.isFinite(x) ? x : 0);

/** The median of `xs` (not empty). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * The device's true answer to `q` from its period summary, before any noise: 0 or 1 (an amount: a
 * coin drawn from `rand` with probability amount/cap), or the depth answer of its median view depth
 * (0 without views). An item counts over the period: on screen if a view had it; viewable, skipped,
 * clicked likewise; attended if a view attended it or its summed attention and clicks meet the rule;
 * skipped only if not attended.
 */
export function trueAnswer(summary: PeriodSummary, q: string, rand: () => number): number {
  const question = parseQuestion(q);
  if (!question) throw new Error(`attnflow: not a report question: ${JSON.stringify(q)}`);
  const coin = (share: number) => +(rand() < Math.min(1, Math.max(0, share)));
  if (question.kind === 'd') {
    const depths = (summary.depths ?? []).filter((d) => typeof d === 'number' && Number.isFinite(d));
    return depths.length ? depthBucket(median(depths)) : 0;
  }
  if ('container' in question) {
    const views = (summary.containers ?? []).filter((c) => c?.container === question.container && c.arm === question.arm);
    if (question.kind === 'n') return +(views.length > 0);
    if (!views.length) return coin(0);
    const perView = views.reduce((s, v) => s + Math.min(VIEW_CAP_MS, amount(v.attentionMs)), 0) / views.length;
    return coin(perView / VIEW_CAP_MS);
  }
  const it: PeriodItem = { itemId: question.item, views: 0, viewable: 0, attended: 0, skipped: 0, clicks: 0, attentionMs: 0 };
  for (const x of summary.items ?? []) {
    if (x?.itemId !== question.item) continue;
    for (const key of ['views', 'viewable', 'attended', 'skipped', 'clicks', 'attentionMs'] as const) it[key] += amount(x[key]);
  }
  const attended = it.attended > 0 || isAttended(it);
  switch (question.kind) {
    case 'v':
      return +(it.views > 0);
    case 'w':
      return +(it.viewable > 0);
    case 'a':
      return +attended;
    case 'k':
      return +(it.skipped > 0 && !attended);
    case 'c':
      return +(it.clicks > 0);
    default:
      return coin(Math.min(ITEM_CAP_MS, it.attentionMs) / ITEM_CAP_MS);
  }
}
