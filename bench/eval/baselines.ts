/** Baselines of the offline evaluation, counted on the training part only. */
import { historyFor, type Dataset, type Scorer, type Split } from './protocol';

/** Item counts over the training part. */
export function popularity(ds: Dataset, split: Split): Float64Array {
  const pop = new Float64Array(ds.numItems);
  for (const s of split.train) for (let i = 0; i < s.length; i++) pop[s[i]] += 1;
  return pop;
}

export function popularityScorer(pop: Float64Array): Scorer {
  return (rows, _stage, cands, C) => {
    const out = new Float32Array(rows.length * C);
    rows.forEach((r, i) => {
      for (let j = 0; j < C; j++) out[i * C + j] = pop[cands[r * C + j]];
    });
    return out;
  };
}

/**
 * Previous-item transitions (a → b counted over consecutive training items), ties by popularity.
 * With `minVisitors` above 1, only the transitions that many distinct visitors made count: what is
 * left when no one visitor's own transitions may show (the ceiling of a user-level private release).
 */
export function transitionScorer(ds: Dataset, split: Split, pop: Float64Array, minVisitors = 1): Scorer {
  const next = new Map<number, Map<number, number>>();
  const visitors = new Map<number, Map<number, number>>();
  for (const s of split.train) {
    const seen = new Set<number>();
    for (let i = 1; i < s.length; i++) {
      let m = next.get(s[i - 1]);
      if (!m) next.set(s[i - 1], (m = new Map()));
      m.set(s[i], (m.get(s[i]) ?? 0) + 1);
      const key = s[i - 1] * ds.numItems + s[i];
      if (minVisitors <= 1 || seen.has(key)) continue;
      seen.add(key);
      let v = visitors.get(s[i - 1]);
      if (!v) visitors.set(s[i - 1], (v = new Map()));
      v.set(s[i], (v.get(s[i]) ?? 0) + 1);
    }
  }
  if (minVisitors > 1) {
    for (const [a, m] of next) {
      for (const b of m.keys()) if ((visitors.get(a)?.get(b) ?? 0) < minVisitors) m.delete(b);
    }
  }
  let maxPop = 0;
  for (const p of pop) maxPop = Math.max(maxPop, p);
  return (rows, stage, cands, C) => {
    const out = new Float32Array(rows.length * C);
    rows.forEach((r, i) => {
      const h = historyFor(split, split.evalUsers[r], stage);
      const m = h.length ? next.get(h[h.length - 1]) : undefined;
      for (let j = 0; j < C; j++) {
        const c = cands[r * C + j];
        out[i * C + j] = (m?.get(c) ?? 0) * (maxPop + 1) + pop[c];
      }
    });
    return out;
  };
}
