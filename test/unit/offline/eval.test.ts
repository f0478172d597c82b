import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { popularity, popularityScorer, transitionScorer } from '../../../bench/eval/baselines';
import { impressionMetrics } from '../../../bench/eval/ebnerd';
import { modelScorer } from '../../../bench/eval/model-scorer';
import {
  candidates,
  evaluate,
  historyFor,
  metricsOf,
  parsePairs,
  rankWithTies,
  splitLastTwo,
  type Scorer,
  type Stage,
} from '../../../bench/eval/protocol';
import { ItemCoder } from '../../../src/model/encode';
import { mulberry32 } from '../../../src/model/hash';
import { createNetwork } from '../../../src/model/index';
import { useNodeBackend } from '../../../src/offline/node-backend';
import { calibrateScale, fit } from '../../../src/offline/trainer';
import { spectralItemVectors } from '../../../src/offline/spectral';

beforeAll(async () => {
  await useNodeBackend('wasm');
});

/** 300 users over 400 items: user u reads items u, u+1, …, u+5 (mod 400). */
function handMade(): ReturnType<typeof parsePairs> {
  const lines: string[] = [];
  for (let u = 0; u < 300; u++) for (let j = 0; j < 6; j++) lines.push(`u${u} i${(u + j) % 400}`);
  return parsePairs(lines.join('\n'));
}

const NDCG_BY_CHANCE = (() => {
  let s = 0;
  for (let r = 0; r < 10; r++) s += 1 / Math.log2(r + 2);
  return s / 101;
})();

describe('SASRec protocol', () => {
  it('holds out the last item for test and the one before for validation; short users only train', () => {
    const ds = parsePairs('a 1\na 2\na 3\na 4\nb 5\nb 6\nc 1\nc 5\nc 6\n');
    const split = splitLastTwo(ds);
    const key = (id: string): number => ds.itemIds.indexOf(id);
    expect(Array.from(split.train[0])).toEqual([key('1'), key('2')]);
    expect(split.valid[0]).toBe(key('3'));
    expect(split.test[0]).toBe(key('4'));
    expect(Array.from(split.train[1])).toEqual([key('5'), key('6')]);
    expect(split.valid[1]).toBe(-1);
    expect(Array.from(split.evalUsers)).toEqual([0, 2]);
    // No leak: validation sees only training items, test adds the validation item, never the test item.
    expect(Array.from(historyFor(split, 0, 'valid'))).toEqual([key('1'), key('2')]);
    expect(Array.from(historyFor(split, 0, 'test'))).toEqual([key('1'), key('2'), key('3')]);
  });

  it('draws 100 distinct never-touched negatives per user, the same for the same seed', () => {
    const ds = handMade();
    const split = splitLastTwo(ds);
    const a = candidates(ds, split, 'test', 5);
    const b = candidates(ds, split, 'test', 5);
    const c = candidates(ds, split, 'test', 6);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    split.evalUsers.forEach((u, r) => {
      const row = Array.from(a.subarray(r * 101, r * 101 + 101));
      expect(row[0]).toBe(split.test[u]);
      const negs = row.slice(1);
      expect(new Set(negs).size).toBe(100);
      for (const n of negs) expect(ds.users[u].includes(n)).toBe(false);
    });
    // Uniform: over all rows every item shows up about equally often as a negative.
    const counts = new Float64Array(ds.numItems);
    for (let r = 0; r < split.evalUsers.length; r++) for (let j = 1; j < 101; j++) counts[a[r * 101 + j]]++;
    const mean = (300 * 100) / ds.numItems;
    expect(Math.max(...counts)).toBeLessThan(mean * 1.6);
    expect(Math.min(...counts)).toBeGreaterThan(mean * 0.4);
  });

  it('gives known answers: perfect scorer 1/1, true item always third → HR 1, NDCG 1/log2(4)', () => {
    const ds = handMade();
    const split = splitLastTwo(ds);
    const cands = candidates(ds, split, 'test', 1);
    const perfect: Scorer = (rows, _s, _c, C) => {
      const out = new Float32Array(rows.length * C);
      rows.forEach((_, i) => (out[i * C] = 1));
      return out;
    };
    expect(evaluate(split, cands, 'test', perfect, 1)).toMatchObject({ hr: 1, ndcg: 1, users: 300 });
    const third: Scorer = (rows, _s, _c, C) => {
      const out = new Float32Array(rows.length * C);
      rows.forEach((_, i) => {
        for (let j = 0; j < C; j++) out[i * C + j] = -j;
        out[i * C] = -2.5; // behind candidates 1 and 2
      });
      return out;
    };
    const m = evaluate(split, cands, 'test', third, 1);
    expect(m.hr).toBe(1);
    expect(m.ndcg).toBeCloseTo(1 / Math.log2(4), 10);
    const worst: Scorer = (rows, _s, _c, C) => Float32Array.from({ length: rows.length * C }, (_, i) => (i % C === 0 ? -1 : 0));
    expect(evaluate(split, cands, 'test', worst, 1)).toMatchObject({ hr: 0, ndcg: 0 });
  });

  it('breaks ties at random: a constant scorer gets the chance figures, not 1.0', () => {
    const rand = mulberry32(11);
    const ranks: number[] = [];
    const flat = new Float32Array(101);
    for (let i = 0; i < 40_000; i++) ranks.push(rankWithTies(flat, 0, 101, rand));
    const m = metricsOf(ranks);
    expect(m.hr).toBeCloseTo(10 / 101, 2);
    expect(m.ndcg).toBeCloseTo(NDCG_BY_CHANCE, 2);
    // Partial ties: true item ties with 4 others, 3 above: rank uniform in 3..7.
    const s = [1, 2, 2, 2, 1, 1, 1, 1, 0, 0];
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(rankWithTies(s, 0, 10, rand));
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
    const ds = handMade();
    const split = splitLastTwo(ds);
    const constant: Scorer = (rows, _s, _c, C) => new Float32Array(rows.length * C);
    const all = evaluate(split, candidates(ds, split, 'test', 3), 'test', constant, 3);
    expect(all.hr).toBeGreaterThan(0.04);
    expect(all.hr).toBeLessThan(0.17);
  });

  it('ranks a true item scored NaN last: a broken model does not score as a perfect one', () => {
    const rand = mulberry32(5);
    expect(rankWithTies(Float32Array.from([Number.NaN, 1, 2, 3]), 0, 4, rand)).toBe(3);
    expect(rankWithTies(new Float32Array(4).fill(Number.NaN), 0, 4, rand)).toBe(3);
    const ds = handMade();
    const split = splitLastTwo(ds);
    const broken: Scorer = (rows, _s, _c, C) => new Float32Array(rows.length * C).fill(Number.NaN);
    expect(evaluate(split, candidates(ds, split, 'test', 3), 'test', broken, 3)).toMatchObject({ hr: 0, ndcg: 0 });
  });

  it('baselines count the training part only and break their ties as documented', () => {
    // Items: x is popular, the held-out items are rare; y always follows w.
    const lines: string[] = [];
    for (let u = 0; u < 50; u++) lines.push(`u${u} x`, `u${u} w`, `u${u} y`, `u${u} v${u}`, `u${u} t${u}`);
    const ds = parsePairs(lines.join('\n'));
    const split = splitLastTwo(ds);
    const pop = popularity(ds, split);
    const k = (id: string): number => ds.itemIds.indexOf(id);
    expect(pop[k('x')]).toBe(50);
    expect(pop[k('y')]).toBe(50);
    expect(pop[k('v0')]).toBe(0); // validation items are not counted
    // Transition w → y: for the validation stage the last training item is y, so nothing follows.
    const tr = transitionScorer(ds, split, pop);
    const row = Int32Array.from([k('v0'), k('x'), k('w'), k('t1')]);
    const scores = tr(Int32Array.from([0]), 'valid', row, 4);
    expect(scores[1]).toBe(50); // popularity only
    expect(scores[0]).toBe(0);
    const p = popularityScorer(pop)(Int32Array.from([0]), 'valid', row, 4);
    expect(Array.from(p)).toEqual([0, 50, 50, 0]);
  });

  it('keeps only the transitions enough distinct visitors made when asked (minVisitors)', () => {
    // Visitor 0 makes a → b three times; visitors 1 and 2 make a → c once each. Each history ends
    // at a for the test stage (… a, then validation v, test t).
    const lines = ['v0 a', 'v0 b', 'v0 a', 'v0 b', 'v0 a', 'v0 b', 'v0 a', 'v0 v0', 'v0 t0'];
    for (const u of [1, 2]) lines.push(`v${u} a`, `v${u} c`, `v${u} a`, `v${u} v${u}`, `v${u} t${u}`);
    const ds = parsePairs(lines.join('\n'));
    const split = splitLastTwo(ds);
    const pop = popularity(ds, split);
    const k = (id: string): number => ds.itemIds.indexOf(id);
    const row = Int32Array.from([k('b'), k('c')]);
    const all = transitionScorer(ds, split, pop)(Int32Array.from([0]), 'valid', row, 2);
    expect(all[0]).toBeGreaterThan(all[1]!); // three a → b against two a → c
    const two = transitionScorer(ds, split, pop, 2)(Int32Array.from([0]), 'valid', row, 2);
    expect(two[0]).toBe(pop[k('b')]); // one visitor's a → b, however often: dropped
    expect(two[1]).toBeGreaterThan(two[0]!); // two visitors' a → c: kept
    const three = transitionScorer(ds, split, pop, 3)(Int32Array.from([0]), 'valid', row, 2);
    expect(Array.from(three)).toEqual([pop[k('b')], pop[k('c')]]);
  });

  it('never shows a scorer the item it has to find (no leak)', () => {
    const ds = handMade();
    const split = splitLastTwo(ds);
    for (const stage of ['valid', 'test'] as Stage[]) {
      const cands = candidates(ds, split, stage, 2);
      // A scorer that cheats whenever the held-out item is in what it is shown scores 1.0.
      const cheat: Scorer = (rows, st, cs, C) => {
        const out = new Float32Array(rows.length * C);
        rows.forEach((r, i) => {
          const seen = new Set(historyFor(split, split.evalUsers[r], st));
          for (let j = 0; j < C; j++) out[i * C + j] = seen.has(cs[r * C + j]) ? 1 : 0;
        });
        return out;
      };
      const m = evaluate(split, cands, stage, cheat, 2);
      expect(m.hr).toBeLessThan(0.2); // chance level: the held-out item is never in the history
    }
    // And the training sequences exclude both held-out items.
    split.evalUsers.forEach((u) => {
      expect(split.train[u].length).toBe(ds.users[u].length - 2);
      expect(Array.from(split.train[u])).not.toContain(split.test[u]);
    });
  });
});

describe('seeded end-to-end evaluation on a slice of the Beauty data', () => {
  it('runs baselines and a briefly trained model, reproducibly, above chance', () => {
    const ds = parsePairs(readFileSync(new URL('../../data/beauty-slice.txt', import.meta.url), 'utf8'));
    const split = splitLastTwo(ds);
    expect(split.evalUsers.length).toBe(300);
    const valC = candidates(ds, split, 'valid', 1);
    const testC = candidates(ds, split, 'test', 1);
    const pop = popularity(ds, split);
    const popM = evaluate(split, testC, 'test', popularityScorer(pop), 1);
    const trM = evaluate(split, testC, 'test', transitionScorer(ds, split, pop), 1);
    expect(evaluate(split, testC, 'test', popularityScorer(pop), 1)).toEqual(popM); // seeded
    expect(popM.ndcg).toBeGreaterThan(NDCG_BY_CHANCE * 1.5);
    expect(trM.ndcg).toBeGreaterThanOrEqual(popM.ndcg - 0.02);

    const net = createNetwork({
      dim: 16,
      maxLen: 20,
      idBuckets: 16384,
      topicBuckets: 0,
      loss: 'softmax',
      negatives: 128,
      dropout: 0.2,
      learningRate: 5e-3,
      seed: 1,
    });
    const coder = new ItemCoder(net.config);
    const codes = ds.itemIds.map((id) => coder.code(id));
    const scorer = modelScorer(net, split, codes);
    const res = fit(net, {
      sequences: split.train.map((keys) => ({ keys })),
      codes,
      tokensPerBatch: 1024,
      maxEpochs: 4,
      warmupSteps: 5,
      validate: () => evaluate(split, valC, 'valid', scorer, 1).ndcg,
    });
    expect(res.history.map((h) => h.epoch)).toEqual([0, 1, 2, 3, 4]); // 0: the starting point
    expect(res.history[4].loss).toBeLessThan(res.history[1].loss);
    const m = evaluate(split, testC, 'test', scorer, 1);
    expect(m.users).toBe(300);
    // Above chance (the popularity prior does most of it on a slice this small).
    expect(m.ndcg).toBeGreaterThan(NDCG_BY_CHANCE * 1.2);
    expect(m.ndcg).toBeGreaterThan(popM.ndcg * 0.7);
    net.dispose();
  });
});

describe('fit: co-occurrence start', () => {
  it('sets the co-occurrence vectors at the scale of lowest training loss, below that of unit-norm vectors', () => {
    const ds = parsePairs(readFileSync(new URL('../../data/beauty-slice.txt', import.meta.url), 'utf8'));
    const split = splitLastTwo(ds);
    const net = createNetwork({
      dim: 16,
      maxLen: 20,
      idBuckets: 16384,
      topicBuckets: 0,
      loss: 'softmax',
      negatives: 64,
      dropout: 0,
      seed: 1,
    });
    const coder = new ItemCoder(net.config);
    const sequences = split.train.map((keys) => ({ keys }));
    const codes = ds.itemIds.map((id) => coder.code(id));
    const vectors = spectralItemVectors(sequences, codes.length, 16, { seed: 1 });
    const { scale, curve } = calibrateScale(net, vectors, { sequences, codes }, 1024, mulberry32(3));
    const lossOf = new Map(curve);
    const losses = curve.map(([, l]) => l);
    expect(lossOf.get(scale)).toBe(Math.min(...losses));
    // The scan went past the minimum (the loss rose again) or reached its end.
    expect(curve[curve.length - 1][1] > Math.min(...losses) || curve.length === 15).toBe(true);
    // Unit-norm vectors (the scale before fitting) score a clearly worse loss on this data.
    expect(scale).not.toBe(1);
    expect(lossOf.get(1) ?? Infinity).toBeGreaterThan((lossOf.get(scale) as number) + 0.05);
    // The network is left holding the vectors at the chosen scale (checked on items with buckets of their own).
    const table = net.snapshot().get('item/id') as Float32Array;
    const users = new Map<number, number>();
    for (const c of codes) for (const r of c.ids) users.set(r, (users.get(r) ?? 0) + 1);
    const own = codes.map((_c, k) => k).filter((k) => [...codes[k].ids].every((r) => users.get(r) === 1));
    expect(own.length).toBeGreaterThan(1000);
    const off = own.filter((k) => {
      for (let j = 0; j < 16; j++) {
        let v = 0;
        for (const r of codes[k].ids) v += table[r * 16 + j];
        if (Math.abs(v - vectors[k * 16 + j] * scale) > 1e-4) return true;
      }
      return false;
    });
    expect(off).toEqual([]);
    net.dispose();
  });
});

describe('fit: early stopping', () => {
  it('patience counts trained epochs only: a dip below a good starting point does not stop training; a real plateau does', () => {
    const ds = parsePairs(readFileSync(new URL('../../data/beauty-slice.txt', import.meta.url), 'utf8'));
    const split = splitLastTwo(ds);
    const run = (metrics: number[]) => {
      const net = createNetwork({
        dim: 8,
        maxLen: 10,
        idBuckets: 4096,
        topicBuckets: 0,
        loss: 'softmax',
        negatives: 16,
        learningRate: 5e-3,
        seed: 2,
      });
      const coder = new ItemCoder(net.config);
      let i = 0;
      const res = fit(net, {
        sequences: split.train.slice(0, 40).map((keys) => ({ keys })),
        codes: ds.itemIds.map((id) => coder.code(id)),
        tokensPerBatch: 256,
        maxEpochs: 6,
        patience: 2,
        validate: () => metrics[i++]!,
      });
      net.dispose();
      return res;
    };
    // Start 0.9, training climbs from 0.1 without reaching it: all 6 epochs run, the start is kept.
    const climbing = run([0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    expect([climbing.epochs, climbing.bestEpoch, climbing.bestMetric]).toEqual([6, 0, 0.9]);
    // Trained epochs stop improving after epoch 2: two stale validations end it at epoch 4.
    const plateau = run([0.1, 0.2, 0.3, 0.25, 0.28, 0.9, 0.9]);
    expect([plateau.epochs, plateau.bestEpoch, plateau.bestMetric]).toEqual([4, 2, 0.3]);
  });
});

describe('EB-NeRD impression metrics', () => {
  it('computes AUC, MRR and NDCG with random tie-breaking', () => {
    const rand = mulberry32(1);
    expect(impressionMetrics([3, 2, 1], [true, false, false], rand)).toMatchObject({ auc: 1, mrr: 1, ndcg5: 1, hr1: 1 });
    expect(impressionMetrics([1, 2, 3], [true, false, false], rand)).toMatchObject({ auc: 0, mrr: 1 / 3 });
    let auc = 0;
    for (let i = 0; i < 2000; i++) auc += impressionMetrics([0, 0, 0, 0], [false, true, false, false], rand).auc;
    expect(auc / 2000).toBeCloseTo(0.5, 1);
  });
});
