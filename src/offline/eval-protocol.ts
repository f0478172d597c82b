/**
 * The SASRec evaluation protocol (Kang & McAuley 2018) as in shared/data/README.md: per user the
 * last item is the test item, the one before it the validation item, the rest is training data;
 * each held-out item is ranked against 100 items drawn uniformly from those the user never touched
 * (seeded); HR@10 and NDCG@10, score ties broken at random.
 */
import { mulberry32 } from '../model/hash';

/** Interaction data: each user's items in time order, items as dense keys 0..numItems-1. */
export interface Dataset {
  users: Int32Array[];
  numItems: number;
  /** Original item ids, by key. */
  itemIds: string[];
}

/** Reads `user item` lines (each user's lines in time order). */
export function parsePairs(text: string): Dataset {
  const byUser = new Map<string, number[]>();
  const itemKey = new Map<string, number>();
  const itemIds: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (!line) continue;
    const sp = line.search(/\s/);
    if (sp < 0) continue;
    const user = line.slice(0, sp);
    const item = line.slice(sp).trim();
    let k = itemKey.get(item);
    if (k === undefined) {
      k = itemIds.length;
      itemKey.set(item, k);
      itemIds.push(item);
    }
    let list = byUser.get(user);
    if (!list) byUser.set(user, (list = []));
    list.push(k);
  }
  return { users: [...byUser.values()].map((l) => Int32Array.from(l)), numItems: itemIds.length, itemIds };
}

/** Leave-last-two-out split. Users with fewer than 3 items only train. */
export interface Split {
  /** Training part of every user. */
  train: Int32Array[];
  /** Validation item per user, -1 when the user is not evaluated. */
  valid: Int32Array;
  /** Test item per user, -1 when the user is not evaluated. */
  test: Int32Array;
  /** Users that are evaluated. */
  evalUsers: Int32Array;
}

export function splitLastTwo(ds: Dataset): Split {
  const n = ds.users.length;
  const train: Int32Array[] = [];
  const valid = new Int32Array(n).fill(-1);
  const test = new Int32Array(n).fill(-1);
  const evalUsers: number[] = [];
  for (let u = 0; u < n; u++) {
    const s = ds.users[u];
    if (s.length < 3) {
      train.push(s);
      continue;
    }
    train.push(s.subarray(0, s.length - 2));
    valid[u] = s[s.length - 2];
    test[u] = s[s.length - 1];
    evalUsers.push(u);
  }
  return { train, valid, test, evalUsers: Int32Array.from(evalUsers) };
}

/** The input a scorer may see for a stage: training part, plus the validation item for test. */
export function historyFor(split: Split, u: number, stage: Stage): Int32Array {
  const t = split.train[u];
  if (stage === 'valid') return t;
  const out = new Int32Array(t.length + 1);
  out.set(t);
  out[t.length] = split.valid[u];
  return out;
}

export type Stage = 'valid' | 'test';

/**
 * Candidate lists per evaluated user: the held-out item first, then `count` distinct items the
 * user never touched (in any part), uniformly at random.
 */
export function candidates(ds: Dataset, split: Split, stage: Stage, seed: number, count = 100): Int32Array {
  const rand = mulberry32(seed ^ (stage === 'valid' ? 0x1234567 : 0x7654321));
  const C = count + 1;
  const out = new Int32Array(split.evalUsers.length * C);
  split.evalUsers.forEach((u, r) => {
    const touched = new Set<number>(ds.users[u]);
    if (ds.numItems - touched.size < count) throw new Error(`user ${u}: fewer than ${count} untouched items`);
    out[r * C] = stage === 'valid' ? split.valid[u] : split.test[u];
    const picked = new Set<number>();
    for (let j = 1; j < C; ) {
      const it = Math.floor(rand() * ds.numItems);
      if (touched.has(it) || picked.has(it)) continue;
      picked.add(it);
      out[r * C + j++] = it;
    }
  });
  return out;
}

/**
 * Rank (0-based) of the first of `C` scores among them, ties broken uniformly at random: the
 * true item is placed at a uniformly random spot among the candidates it ties with. A true item
 * scored NaN (a broken model) ranks last.
 */
export function rankWithTies(scores: ArrayLike<number>, at: number, C: number, rand: () => number): number {
  const s0 = scores[at];
  if (Number.isNaN(s0)) return C - 1;
  let higher = 0;
  let ties = 0;
  for (let j = 1; j < C; j++) {
    const s = scores[at + j];
    if (s > s0) higher++;
    else if (s === s0) ties++;
  }
  return higher + Math.floor(rand() * (ties + 1));
}

export interface Metrics {
  hr: number;
  ndcg: number;
  users: number;
}

/** HR@k and NDCG@k from 0-based ranks. */
export function metricsOf(ranks: ArrayLike<number>, k = 10): Metrics {
  let hr = 0;
  let ndcg = 0;
  for (let i = 0; i < ranks.length; i++) {
    if (ranks[i] < k) {
      hr += 1;
      ndcg += 1 / Math.log2(ranks[i] + 2);
    }
  }
  const n = Math.max(1, ranks.length);
  return { hr: hr / n, ndcg: ndcg / n, users: ranks.length };
}

/**
 * Scores candidates of the users at rows `rows` (indices into split.evalUsers); returns
 * rows.length × C scores, row-major, in candidate order.
 */
export type Scorer = (rows: Int32Array, stage: Stage, cands: Int32Array, C: number) => Float32Array;

/** Evaluates a scorer on a stage (optionally on a subset of evaluated users, by row). */
export function evaluate(split: Split, cands: Int32Array, stage: Stage, scorer: Scorer, seed: number, rows?: Int32Array, C = 101): Metrics {
  const all = rows ?? Int32Array.from(split.evalUsers.keys());
  const scores = scorer(all, stage, cands, C);
  const rand = mulberry32(seed ^ 0x51ed);
  const ranks = new Int32Array(all.length);
  for (let i = 0; i < all.length; i++) ranks[i] = rankWithTies(scores, i * C, C, rand);
  return metricsOf(ranks);
}

export function fmt(name: string, m: Metrics): string {
  return `${name} HR@10=${m.hr.toFixed(4)} NDCG@10=${m.ndcg.toFixed(4)}`;
}
