import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { AttnflowConfigError } from '../../../src/lib/errors';
import {
  codeList,
  eventFeatures,
  FEATURES,
  ItemCoder,
  seqBatch,
  trainBatch,
  visitorBatch,
  type KeySequence,
  type SeqBatch,
} from '../../../src/model/encode';
import { resolveConfig } from '../../../src/model/config';
import { initialWeights, Network } from '../../../src/model/network';
import { packer } from '../../../src/engine/host';
import { unpacker } from '../../../src/engine/messages';
import { createNetwork, loadModel, type AttentionEvent } from '../../../src/model/index';
import { siteModel } from '../../../src/model/manifest';
import { useNodeBackend } from '../../../src/offline/node-backend';
import { decodeParts, encodeWeights, fromHalf, toHalf } from '../../../src/model/serialize';
import { mulberry32 } from '../../../src/model/hash';

beforeAll(async () => {
  await useNodeBackend('wasm');
});

const ev = (itemId: string, extra: Partial<AttentionEvent> = {}): AttentionEvent => ({
  itemId,
  topics: ['beauty'],
  attentionMs: 4000,
  ...extra,
});
const small = { dim: 16, idBuckets: 512, topicBuckets: 32, negatives: 16, maxLen: 8 };

/** Random values for every weight of `net` (a fresh model's residual branches are zero and would hide the blocks). */
const randomWeights = (net: Network, rand: () => number) =>
  new Map([...net.snapshot()].map(([name, v]) => [name, v.map(() => (rand() - 0.5) * 0.6)]));

/** A small one-head network with random weights, 12 coded items and one-visitor batches of them. */
function scoringFixture(seed: number) {
  const net = createNetwork({ ...small, dropout: 0, topicBuckets: 8 });
  const rand = mulberry32(seed);
  const randomize = () => net.restore(randomWeights(net, rand));
  randomize();
  const coder = new ItemCoder(net.config);
  const items = Array.from({ length: 12 }, (_, i) => coder.code({ itemId: `i${i}`, topics: [`t${i % 3}`] }));
  const batchOf = (keys: number[]) => seqBatch([{ keys }], [keys.length], (k) => items[k], 8).batch;
  return { net, randomize, items, batchOf };
}

describe('model config', () => {
  it('rejects bad settings with a named error that says what was expected', async () => {
    await expect(loadModel({ dim: -1 })).rejects.toThrow(AttnflowConfigError);
    await expect(loadModel({ dim: 1.5 })).rejects.toThrow(/dim: expected an integer/);
    await expect(loadModel({ dim: 30, heads: 4 })).rejects.toThrow(/heads: expected a divisor of dim/);
    await expect(loadModel({ loss: 'mse' as never })).rejects.toThrow(/loss/);
    await expect(loadModel({ dimension: 8 } as never)).rejects.toThrow(/"dimension"/);
    await expect(loadModel({ weights: new Uint8Array(20) })).rejects.toThrow(/ATNF/);
  });

  it('fills defaults', async () => {
    const m = await loadModel({ dim: 8, idBuckets: 64, topicBuckets: 8 });
    expect(m.config).toMatchObject({ dim: 8, ffnDim: 8, maxLen: 50, blocks: 2, epsilon: 1e-6 });
    m.dispose();
  });
});

describe('encoder', () => {
  it('builds the same batch for one visitor (scoring) as the general sequence batch does', () => {
    const coder = new ItemCoder(resolveConfig({ ...small, itemVectorDim: 2 }));
    const events: (AttentionEvent & { vector?: number[] })[] = [
      ev('a'),
      ev('b', { topics: ['x', 'y'], hoverMs: 500, clicks: 1, vector: [1, 2] }),
      ev('a', { skipped: true, attentionMs: 300 }),
    ];
    const plain = (batch: SeqBatch) => JSON.stringify(batch, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v));
    for (const list of [events, []]) {
      const codes = list.map((e) => coder.code(e));
      const features = new Float32Array(list.length * FEATURES);
      list.forEach((e, i) => eventFeatures(e, features, i * FEATURES));
      const { batch } = seqBatch([{ keys: list.map((_, i) => i), features }], [list.length], (k) => codes[k], 8, 2);
      expect(plain(visitorBatch(list, (e) => coder.code(e), 2))).toBe(plain(batch));
    }
  });

  it('gives item vectors [n, d], biases [n, 1], visitor outputs [B·L, d] and one score per candidate', () => {
    const net = createNetwork({ ...small, heads: 2, itemVectorDim: 3 });
    const coder = new ItemCoder(net.config);
    const items = ['a', 'b', 'c', 'unseen-id'].map((id, i) => coder.code({ itemId: id, topics: i ? ['x', 'y'] : [], vector: [1, 0, i] }));
    tf.tidy(() => {
      const { e, b } = net.itemVectors(codeList(items, 3));
      expect(e.shape).toEqual([4, 16]);
      expect(b.shape).toEqual([4, 1]);
      const seqs: KeySequence[] = [{ keys: [0, 1, 2] }, { keys: [3] }, { keys: [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2] }];
      const { batch } = seqBatch(
        seqs,
        seqs.map((s) => s.keys.length),
        (k) => items[k],
        8,
        3,
      );
      expect([batch.B, batch.L]).toEqual([3, 8]); // truncated to maxLen
      expect(net.encode(batch, false).shape).toEqual([24, 16]);
      const cands = codeList(
        Array.from({ length: 3 * 200 }, (_, i) => items[i % 4]),
        3,
      );
      const scores = net.score(batch, cands, 200);
      expect(scores.length).toBe(600);
      expect(scores.every(Number.isFinite)).toBe(true);
    });
    net.dispose();
  });

  it('hashes ids into two buckets, so unseen ids still get a vector and collisions of both are rare', () => {
    const coder = new ItemCoder(createNetwork({ ...small, idBuckets: 4096 }).config);
    const seen = new Set<string>();
    let full = 0;
    for (let i = 0; i < 2000; i++) {
      const c = coder.code(`item-${i}`);
      expect(c.ids.length).toBe(2);
      const key = `${c.ids[0]}:${c.ids[1]}`;
      if (seen.has(key)) full++;
      seen.add(key);
    }
    expect(full).toBeLessThan(3);
  });

  it('later positions cannot see the future (causal attention)', () => {
    const net = createNetwork({ ...small, dropout: 0 });
    const coder = new ItemCoder(net.config);
    const codes = ['a', 'b', 'c', 'd'].map((id) => coder.code(id));
    const run = (keys: number[]): Float32Array =>
      tf.tidy(() => {
        const { batch } = seqBatch([{ keys }], [keys.length], (k) => codes[k], 8);
        const out = net.encode(batch, false);
        // Row of the first real position (column L - keys.length).
        return tf.slice(out, [batch.L - keys.length, 0], [1, 16]).dataSync() as Float32Array;
      });
    // Same first item, same length, different later item: the first position's output is equal.
    const a = run([0, 1, 2]);
    const b = run([0, 3, 3]);
    for (let i = 0; i < 16; i++) expect(a[i]).toBeCloseTo(b[i], 5);
    net.dispose();
  });
});

describe('scoring path', () => {
  it('scores exactly as the training-time encoder does: padding, empty history, heads, blocks, item vectors', () => {
    // One head takes the folded scoring encoder, two heads the plain one; both must equal training.
    const variants = [
      { heads: 1 },
      { heads: 2 },
      { heads: 1, blocks: 1, itemVectorDim: 3 },
      { heads: 1, blocks: 3 },
      { heads: 1, blocks: 0 },
    ];
    for (const variant of variants) {
      const net = createNetwork({ ...small, ...variant, dropout: 0, topicBuckets: 8 });
      const V = net.config.itemVectorDim;
      // Random weights everywhere (a fresh model's residual branches are zero and would hide the blocks).
      const rand = mulberry32(variant.heads * 10 + (variant.blocks ?? 2));
      const values = randomWeights(net, rand);
      net.restore(values);
      const coder = new ItemCoder(net.config);
      const items = Array.from({ length: 12 }, (_, i) =>
        coder.code({
          itemId: `i${i}`,
          topics: i % 4 ? [`t${i % 3}`] : [`t${i % 3}`, 'x'],
          vector: V ? [i / 12, -0.5, (i % 3) / 3] : undefined,
        }),
      );
      const seqs: KeySequence[] = [
        { keys: [0, 1, 2, 3, 4, 5, 6, 7] }, // full: no padding
        { keys: [8, 9, 1], features: Float32Array.from({ length: 3 * 5 }, (_, i) => (i % 5) / 5) },
        { keys: [] }, // no history yet: one padded column
      ];
      for (const group of [[seqs[0]], [seqs[1]], seqs, [seqs[2]]]) {
        const { batch } = seqBatch(
          group,
          group.map((q) => q.keys.length),
          (k) => items[k],
          8,
          V,
        );
        const C = 12;
        const cands = codeList(
          Array.from({ length: group.length * C }, (_, i) => items[(i * 5) % 12]),
          V,
        );
        const fast = net.score(batch, cands, C);
        const ref = tf.tidy(() => {
          const H = net.encode(batch, true); // the training path (dropout 0), every row
          const last = Array.from({ length: batch.B }, (_, b) => b * batch.L + batch.L - 1);
          const u = tf.gather(H, last);
          const it = net.itemVectors(cands);
          const dots = tf.sum(tf.mul(tf.reshape(u, [batch.B, 1, 16]), tf.reshape(it.e, [batch.B, C, 16])), 2);
          return tf.add(dots, tf.reshape(it.b, [batch.B, C])).dataSync() as Float32Array;
        });
        expect(fast.length).toBe(ref.length);
        for (let i = 0; i < ref.length; i++) expect(fast[i], `${JSON.stringify(variant)} B=${batch.B} #${i}`).toBeCloseTo(ref[i], 4);
      }
      net.dispose();
    }
  });
});

describe('scoring on the page', () => {
  const cands = Array.from({ length: 30 }, (_, i) => ({ itemId: `c${i}`, topics: [`t${i % 5}`] }));
  const logOf = (i: number) => [ev(`a${i}`), ev('b', { skipped: true, viewId: 'v' }), ev(`c${i % 3}`, { viewId: 'v', clicks: 1 })];
  /** Tasks that ran while `p` was pending: a call cut into parts lets the page run between them. */
  async function tasksDuring<T>(p: Promise<T>): Promise<{ value: T; tasks: number }> {
    let tasks = 0;
    let on = true;
    const tick = () => {
      if (!on) return;
      tasks++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const value = await p;
    on = false;
    return { value, tasks };
  }

  it('cuts a call that runs long (its code not yet compiled) into parts, with the scores of one call at once, leaving no tensor', async () => {
    const before = tf.memory().numTensors;
    const m = await loadModel({ ...small, blocks: 2, dropout: 0 });
    await m.score(logOf(0), cands);
    const kept = tf.memory().numTensors;
    // Every part looks slow: the call is cut at each of its points (the input, each block).
    let t = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => (t += 5));
    const sliced = await tasksDuring(m.score(logOf(1), cands, { sliced: true }));
    now.mockRestore();
    expect(sliced.tasks).toBeGreaterThanOrEqual(2);
    expect(tf.memory().numTensors).toBe(kept);
    await m.score(logOf(2), cands); // another visitor: the next call encodes again
    const whole = await tasksDuring(m.score(logOf(1), cands));
    expect(whole.tasks).toBe(0);
    expect(Array.from(sliced.value)).toEqual(Array.from(whole.value));
    // Quick parts are not cut.
    const quick = await tasksDuring(m.score(logOf(3), cands, { sliced: true }));
    expect(quick.tasks).toBe(0);
    expect(tf.memory().numTensors).toBe(kept);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('folds new weights a block a part before scoring, the same as at once, and drops a folding the weights changed under', () => {
    const before = tf.memory().numTensors;
    const { net, randomize, items, batchOf } = scoringFixture(3);
    const list = codeList(items.slice(0, 6));
    const partsOf = () => {
      let n = 0;
      while (net.prepare('score')) n++;
      return n;
    };
    expect(partsOf()).toBe(3); // two blocks, then the rest
    randomize();
    expect(net.prepare('score')).toBe(true); // the first block of these weights...
    randomize(); // ...which change: their folding is dropped and begun again
    expect(partsOf()).toBe(3);
    const got = Array.from(net.score(batchOf([0, 1, 2]), list, 6));
    const twin = createNetwork({ ...small, dropout: 0, topicBuckets: 8 });
    twin.restore(net.snapshot());
    expect(got).toEqual(Array.from(twin.score(batchOf([0, 1, 2]), list, 6))); // folded at once
    twin.dispose();
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a model disposed in the middle of a call cut into parts ends the call there, leaving no tensor', async () => {
    const before = tf.memory().numTensors;
    const m = await loadModel({ ...small, blocks: 2, dropout: 0 });
    await m.score(logOf(0), cands);
    let t = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => (t += 5));
    try {
      const scoring = m.score(logOf(1), cands, { sliced: true });
      m.dispose();
      await expect(scoring).rejects.toThrow('the model was disposed');
    } finally {
      now.mockRestore();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('scoring the same visitor again', () => {
  it('reuses the visitor vector while the history and every weight are the same, and never a stale one', () => {
    const before = tf.memory().numTensors;
    const { net, randomize, items, batchOf } = scoringFixture(7);
    const candsOf = (from: number) => codeList(Array.from({ length: 6 }, (_, i) => items[(from + i) % 12]));
    const encode = vi.spyOn(net as unknown as { encodeVisitor: () => unknown }, 'encodeVisitor');
    // The reference: the training-time encoder, every time.
    const ref = (keys: number[], from: number) =>
      tf.tidy(() => {
        const batch = batchOf(keys);
        const u = tf.gather(net.encode(batch, true), [batch.L - 1]);
        const it = net.itemVectors(candsOf(from));
        return Array.from(tf.add(tf.sum(tf.mul(u, it.e), 1), tf.reshape(it.b, [6])).dataSync());
      });
    const check = (keys: number[], from: number, encodes: number) => {
      encode.mockClear();
      const got = Array.from(net.score(batchOf(keys), candsOf(from), 6));
      expect(encode.mock.calls.length, `encoder runs for ${keys} / ${from}`).toBe(encodes);
      const want = ref(keys, from);
      got.forEach((x, i) => expect(x).toBeCloseTo(want[i], 4));
    };
    check([0, 1, 2], 0, 1);
    check([0, 1, 2], 3, 0); // the same visitor, other candidates: from the kept vector
    check([0, 1, 2], 0, 0);
    check([0, 1, 3], 0, 1); // another history
    check([0, 1, 2], 0, 1);
    randomize(); // new weights: recomputed
    check([0, 1, 2], 0, 1);
    check([0, 1, 2], 6, 0);
    const steady = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) net.score(batchOf(i % 2 ? [0, 1, 2] : [4, 5]), candsOf(i), 6);
    expect(tf.memory().numTensors).toBe(steady);
    encode.mockRestore();
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('scoring the same candidates for another visitor', () => {
  it("keeps the candidates' vectors while their list and every weight are the same", () => {
    const { net, randomize, items, batchOf } = scoringFixture(9);
    const list = codeList(items.slice(0, 6));
    const sums = vi.spyOn(net as unknown as { itemSum: () => unknown }, 'itemSum');
    const ref = (keys: number[]) =>
      tf.tidy(() => {
        const batch = batchOf(keys);
        const u = tf.gather(net.encode(batch, true), [batch.L - 1]);
        const it = net.itemVectors(list);
        return Array.from(tf.add(tf.sum(tf.mul(u, it.e), 1), tf.reshape(it.b, [6])).dataSync());
      });
    // Each call sums item rows once for the visitor, and once more when the candidates are new.
    const check = (keys: number[], sumsWanted: number) => {
      sums.mockClear();
      const got = Array.from(net.score(batchOf(keys), list, 6));
      expect(sums.mock.calls.length, `item sums for ${keys}`).toBe(sumsWanted);
      ref(keys).forEach((x, i) => expect(got[i]).toBeCloseTo(x, 4));
    };
    check([0, 1, 2], 2);
    check([0, 1, 3], 1); // another visitor, the same candidates
    check([5, 4], 1);
    randomize(); // new weights: the candidates again
    check([5, 4], 2);
    check([0, 1, 2], 1);
    net.score(batchOf([0, 1]), codeList(items.slice(0, 6)), 6); // an equal list, but another object
    check([0, 1, 2], 2);
    sums.mockRestore();
    net.dispose();
  });

  it('gives the network the same list for equal candidates, and a new one when any changed', async () => {
    const model = await loadModel({ ...small, dropout: 0 });
    const net = (model as unknown as { net: { scoreTensor: (...a: unknown[]) => tf.Tensor } }).net;
    const lists: unknown[] = [];
    const original = net.scoreTensor.bind(net);
    const spy = vi.spyOn(net, 'scoreTensor').mockImplementation((batch, list, C) => (lists.push(list), original(batch, list, C)));
    const history = [ev('a'), ev('b')];
    const cands = () => [{ itemId: 'x', topics: ['t1'] }, 'y', { itemId: 'z', vector: undefined }];
    const first = await model.score(history, cands());
    await model.score([ev('c')], cands()); // equal candidates in new objects
    expect(lists[1]).toBe(lists[0]);
    const changed = cands();
    (changed[0] as { topics: string[] }).topics = ['t2'];
    const other = await model.score(history, changed);
    expect(lists[2]).not.toBe(lists[0]);
    expect(other[0]).not.toBeCloseTo(first[0], 6); // another topic, another vector
    changed[0] = { itemId: 'x', topics: ['t2'] };
    await model.score(history, changed);
    expect(lists[3]).toBe(lists[2]);
    (changed[0] as { topics: string[] }).topics.push('t3'); // changed in place after the call
    await model.score(history, changed);
    expect(lists[4]).not.toBe(lists[3]);
    // Too many candidates to keep their vectors: scored all the same, every time.
    const many = Array.from({ length: 5000 }, (_, i) => `item-${i}`);
    const manyScores = await model.score(history, many);
    expect(manyScores.length).toBe(5000);
    expect(Array.from(await model.score(history, many))).toEqual(Array.from(manyScores));
    spy.mockRestore();
    model.dispose();
  });
});

describe('training', () => {
  it('moves every weight as Adam does, weight by weight, with decoupled decay on matrices only', () => {
    const lr = 0.01;
    const net = createNetwork({ dim: 8, maxLen: 6, idBuckets: 50, topicBuckets: 7, dropout: 0, weightDecay: 0.1, learningRate: lr });
    const rand = mulberry32(4);
    net.restore(randomWeights(net, rand));
    const coder = new ItemCoder(net.config);
    const codes = Array.from({ length: 20 }, (_, i) => coder.code({ itemId: `i${i}`, topics: [`t${i % 4}`] }));
    const batch = trainBatch([{ keys: [1, 2, 3, 4, 5, 6, 7] }, { keys: [3, 4, 5] }], (k) => codes[k], Int32Array.from([5, 6, 13]), 6, 2);
    const dense = [...net.weights].filter(([name]) => !['item/id', 'item/bias', 'item/topic'].includes(name));
    const m = new Map<string, Float64Array>();
    const v = new Map<string, Float64Array>();
    for (let t = 1; t <= 3; t++) {
      const grads = tf.tidy(() => {
        const { grads: g } = tf.variableGrads(
          () => net.loss(batch, true) as tf.Scalar,
          dense.map(([, w]) => w),
        );
        return Object.fromEntries(Object.entries(g).map(([k, x]) => [k, Float32Array.from(x.dataSync())]));
      }) as unknown as Record<string, Float32Array>;
      const before = new Map(dense.map(([name, w]) => [name, Float32Array.from(w.dataSync())]));
      net.step(batch, lr);
      const lrT = (lr * Math.sqrt(1 - 0.98 ** t)) / (1 - 0.9 ** t);
      for (const [name, w] of dense) {
        const g = grads[w.name]!;
        const w0 = before.get(name)!;
        const mm = m.get(name) ?? new Float64Array(g.length);
        const vv = v.get(name) ?? new Float64Array(g.length);
        const got = w.dataSync();
        for (let i = 0; i < g.length; i++) {
          mm[i] = 0.9 * mm[i] + 0.1 * g[i];
          vv[i] = 0.98 * vv[i] + 0.02 * g[i] * g[i];
          const want = w0[i] - (lrT * mm[i]) / (Math.sqrt(vv[i]) + 1e-6) - (w.rank > 1 ? w0[i] * lr * 0.1 : 0);
          expect(got[i], `${name}[${i}] at step ${t}`).toBeCloseTo(want, 5);
        }
        m.set(name, mm);
        v.set(name, vv);
      }
    }
    net.dispose();
  });

  it("a step cut into parts (the page's) moves every weight as the whole step does, dropout included", () => {
    const configs = [
      { heads: 1, blocks: 2 },
      { heads: 2, blocks: 1, loss: 'softmax' as const, itemVectorDim: 3 },
      { heads: 1, blocks: 0, weightDecay: 0.1 },
    ];
    for (const extra of configs) {
      const config = { dim: 8, maxLen: 6, idBuckets: 50, topicBuckets: 7, dropout: 0.3, learningRate: 0.01, seed: 7, ...extra };
      const whole = createNetwork(config);
      const cut = createNetwork(config);
      const start = randomWeights(whole, mulberry32(5));
      whole.restore(start);
      cut.restore(start);
      const coder = new ItemCoder(whole.config);
      const vector = extra.itemVectorDim ? [0.5, -1, 2] : undefined;
      const codes = Array.from({ length: 20 }, (_, i) => coder.code({ itemId: `i${i}`, topics: [`t${i % 4}`], vector }));
      // Padding (two lengths) and skipped items of the same view as row negatives.
      const batch = trainBatch(
        [
          { keys: [1, 2, 3, 4, 5, 6, 7], skipped: Uint8Array.from([0, 1, 0, 0, 1, 0, 0]), views: Int32Array.from([0, 0, 0, 1, 1, 1, 1]) },
          { keys: [3, 4, 5] },
        ],
        (k) => codes[k],
        Int32Array.from([5, 6, 13]),
        6,
        2,
        extra.itemVectorDim ?? 0,
      );
      const probe = seqBatch([{ keys: [1, 2, 3] }], [3], (k) => codes[k], 6, whole.config.itemVectorDim).batch;
      const cands = codeList(codes.slice(0, 5), whole.config.itemVectorDim);
      for (let t = 1; t <= 3; t++) {
        const lossWhole = whole.step(batch, 0.01);
        const before = cut.score(probe, cands, 5);
        const parts = cut.stepParts(batch, 0.01, true);
        let r = parts.next();
        let n = 0;
        while (!r.done) {
          // Between parts the model scores as before the step: it sees none of the step's own state.
          expect(Array.from(cut.score(probe, cands, 5))).toEqual(Array.from(before));
          r = parts.next();
          n++;
        }
        // Parts: forward (input, each block's two halves, output, the loss's item vectors, the
        // logits), backward (loss, logits, item vectors, output, the blocks' halves, input), the
        // dense update (the flat vector, then each weight's part), then per table (ids, biases,
        // topics) its new rows, the table and its two moments.
        expect(n + 1, 'parts of a step').toBe(2 * config.blocks + 4 + (2 * config.blocks + 5) + 2 + 3 * 4);
        expect(r.value, `loss at step ${t}`).toBeCloseTo(lossWhole, 5);
        const a = whole.snapshot();
        for (const [name, got] of cut.snapshot()) {
          const want = a.get(name)!;
          for (let i = 0; i < got.length; i++)
            expect(got[i], `${JSON.stringify(extra)} ${name}[${i}] at step ${t}`).toBeCloseTo(want[i], 5);
        }
      }
      whole.dispose();
      cut.dispose();
    }
  });

  it('makes the dropout pool before a step in slices, the same pool as the step would make', () => {
    const config = { dim: 16, maxLen: 20, idBuckets: 64, topicBuckets: 8, dropout: 0.3, seed: 9 };
    const [ahead, lazy] = [createNetwork(config), createNetwork(config)];
    const coder = new ItemCoder(ahead.config);
    const codes = Array.from({ length: 30 }, (_, i) => coder.code({ itemId: `i${i}`, topics: [`t${i % 5}`] }));
    const seqs = Array.from({ length: 8 }, (_, r) => ({ keys: Array.from({ length: 21 }, (_, i) => (r * 7 + i * 3) % 30) }));
    const batch = trainBatch(seqs, (k) => codes[k], Int32Array.from([1, 2, 3]), 20, 0);
    let parts = 0;
    while (ahead.prepare('train', undefined, batch)) parts++;
    // The optimizer's state (dense part, then each table's two moments), the memory the step
    // takes (one slice for tables this small), then the pool: 8·20·16 values a mask, 64× that in
    // bytes up to a power of two (256 KB), 64 KB a slice.
    expect(parts).toBe(7 + 1 + 262_144 / 65_536);
    for (let t = 0; t < 2; t++) expect(ahead.step(batch, 0.01)).toBeCloseTo(lazy.step(batch, 0.01), 6);
    const a = ahead.snapshot();
    for (const [name, v] of lazy.snapshot()) expect(Array.from(a.get(name)!), name).toEqual(Array.from(v));
    ahead.dispose();
    lazy.dispose();
  });

  it('gradients match finite differences for both losses (the hand-written gradients are right)', () => {
    for (const loss of ['bce', 'softmax'] as const) {
      const net = createNetwork({ dim: 8, maxLen: 6, heads: 2, idBuckets: 50, topicBuckets: 7, dropout: 0, loss });
      const coder = new ItemCoder(net.config);
      const codes = Array.from({ length: 20 }, (_, i) => coder.code({ itemId: `i${i}`, topics: i % 3 ? [`t${i % 4}`] : [] }));
      const seqs: KeySequence[] = [
        {
          keys: [1, 2, 3, 4, 5, 6, 7, 8],
          skipped: Uint8Array.from([0, 0, 1, 0, 0, 0, 0, 0]),
          views: Int32Array.from([0, 1, 1, 1, 2, 2, 3, 3]),
        },
        { keys: [3, 4, 5] },
      ];
      const batch = trainBatch(seqs, (k) => codes[k], Int32Array.from([5, 6, 13, 14, 2]), 6, 2);
      expect(batch.K).toBe(2); // the skipped item of view 1 is a per-row negative
      const vars = [...net.weights.values()];
      let checked = 0;
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => net.loss(batch, false) as tf.Scalar, vars);
        for (const w of vars) {
          const g = grads[w.name];
          if (!g) continue;
          const gd = g.dataSync();
          const wd = Float32Array.from(w.dataSync());
          const i = gd.reduce((best, v, j) => (Math.abs(v) > Math.abs(gd[best]) ? j : best), 0);
          const eps = 1e-2;
          const at = (delta: number): number => {
            const p = wd.slice();
            p[i] += delta;
            w.assign(tf.tensor(p, w.shape));
            return net.loss(batch, false).dataSync()[0];
          };
          const numeric = (at(eps) - at(-eps)) / (2 * eps);
          w.assign(tf.tensor(wd, w.shape));
          expect(Math.abs(numeric - gd[i])).toBeLessThan(0.05 * (Math.abs(numeric) + Math.abs(gd[i])) + 1e-3);
          checked++;
        }
      });
      expect(checked).toBeGreaterThan(20);
      net.dispose();
    }
  });

  it('learns a sequential pattern through the public API', async () => {
    const m = await loadModel({ ...small, dim: 16, dropout: 0, learningRate: 1e-2, loss: 'softmax', seed: 3 });
    const next = (i: number): number => (i * 7 + 3) % 40;
    const seqs: AttentionEvent[][] = [];
    for (let s = 0; s < 40; s++) {
      const seq: AttentionEvent[] = [];
      for (let i = s, j = 0; j < 6; j++, i = next(i)) seq.push(ev(`p${i}`));
      seqs.push(seq);
    }
    const pool = Array.from({ length: 40 }, (_, i) => ({ itemId: `p${i}` }));
    for (let step = 0; step < 100; step++) await m.train(seqs, { negativePool: pool });
    let hits = 0;
    for (let s = 0; s < 40; s++) {
      // The first five events of each chain; the sixth is what should come out on top.
      const scores = await m.score(seqs[s].slice(0, 5), pool);
      if (`p${scores.indexOf(Math.max(...scores))}` === seqs[s][5].itemId) hits++;
    }
    expect(hits).toBeGreaterThan(10); // chance is 1 in 40
    m.dispose();
  });

  it('learns what a visitor reads from a log that ends on items passed over, as a page view does', async () => {
    // Two views of a 12-item page read top to bottom: items 2 and 5 read, the rest passed over.
    // Scoring asks at the end of the log, after the last skipped item.
    const page = Array.from({ length: 12 }, (_, i) => `i${i}`);
    const view = (v: string) =>
      page.map((id, i) => (i === 2 || i === 5 ? ev(id, { viewId: v }) : ev(id, { viewId: v, attentionMs: 300, skipped: true })));
    const log = [...view('v1'), ...view('v2')];
    const pool = page.map((itemId) => ({ itemId }));
    let hits = 0;
    for (const seed of [1, 2, 3]) {
      const m = await loadModel({ ...small, maxLen: 24, seed });
      for (let step = 0; step < 30; step++) await m.train([log], { negativePool: pool });
      const scores = Array.from(await m.score(log, pool));
      const top2 = scores
        .map((x, i) => [x, i] as const)
        .sort((a, b) => b[0] - a[0])
        .slice(0, 2)
        .map(([, i]) => i);
      if (top2.includes(2) && top2.includes(5)) hits++;
      m.dispose();
    }
    expect(hits).toBe(3);
  });

  it('uses skipped items of the same view as the first negatives', () => {
    const net = createNetwork(small);
    const coder = new ItemCoder(net.config);
    const codes = Array.from({ length: 6 }, (_, i) => coder.code(`x${i}`));
    const seq: KeySequence = { keys: [0, 1, 2, 3], skipped: Uint8Array.from([0, 1, 0, 1]), views: Int32Array.from([0, 1, 1, 2]) };
    const b = trainBatch([seq], (k) => codes[k], new Int32Array([5]), 8, 2);
    // Events 1 and 3 were skipped, so they are no positives: event 0 and event 1 both predict the
    // next item not skipped, item 2; event 2 has none after it.
    expect(Array.from(b.targetKeys)).toEqual([2, 2]);
    expect(Array.from(b.targetPos)).toEqual([0, 1]);
    expect(b.K).toBe(2);
    expect(Array.from(b.rowNegativeMask ?? [])).toEqual([0, -1e9, 0, -1e9]); // one skipped item in view 1
    expect(b.rowNegatives?.idIdx.subarray(0, 2)).toEqual(codes[1].ids);
    net.dispose();
  });

  it('a model disposed in the middle of a step on the page ends the step there, leaving no tensor', async () => {
    const before = tf.memory().numTensors;
    const m = await loadModel({ ...small, skippedNegatives: 2 });
    const log = [ev('a'), ev('b', { skipped: true, viewId: 'v' }), ev('c', { viewId: 'v', clicks: 1 }), ev('d')];
    await m.train([log], { sliced: true });
    const training = m.train([log, log], { sliced: true });
    // A few parts in (a part a task), the page model stops.
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
    m.dispose();
    await expect(training).rejects.toThrow('the model was disposed');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaks no tensors over 100 score and train calls', async () => {
    const m = await loadModel({ ...small, skippedNegatives: 2 });
    const cands = Array.from({ length: 200 }, (_, i) => ({ itemId: `c${i}`, topics: [`t${i % 5}`] }));
    const log = [ev('a'), ev('b', { skipped: true, viewId: 'v' }), ev('c', { viewId: 'v', clicks: 1 }), ev('d')];
    await m.score(log, cands);
    await m.train([log]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) {
      await m.score(log, cands);
      await m.train([log, [ev('q'), ev('a'), ev('e')]], { sliced: i % 2 === 1 });
    }
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });
});

describe('weights', () => {
  it('starts a new model without waiting on timers, which hidden tabs throttle', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const model = await loadModel({ ...small, idBuckets: 8192 }); // 131,072 draws: sixteen slices
      expect(model.numParams).toBeGreaterThan(131_072);
      model.dispose();
    } finally {
      vi.useRealTimers();
    }
  });

  it("draws a new model's weights a slice at a time, the same as at once", async () => {
    const config = resolveConfig({ ...small, idBuckets: 8192, seed: 5 }); // the id table: 131,072 draws
    let pauses = 0;
    const sliced = await initialWeights(config, async () => void pauses++);
    const net = new Network(config);
    const once = net.snapshot();
    expect(pauses).toBeGreaterThanOrEqual(15);
    expect([...sliced.keys()]).toEqual([...once.keys()]);
    for (const [name, v] of once) expect(Array.from(sliced.get(name)!), name).toEqual(Array.from(v));
    expect(new Set(once.get('item/id')).size).toBeGreaterThan(100_000); // really drawn, not zeros
    net.dispose();
  });

  it('saves on the page a weight per task, the same bytes as at once', async () => {
    const m = await loadModel({ ...small, skippedNegatives: 2 });
    await m.train([[ev('a'), ev('b'), ev('c'), ev('d')]]);
    for (const q of ['float32', 'float16', 'int8'] as const) {
      const order: string[] = [];
      const saving = m.saveSliced(q).then((bytes) => (order.push('saved'), bytes));
      // A task of the page's, queued after the save began: it runs before the save ends.
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = () => {
        order.push('page');
        port1.close();
      };
      port2.postMessage(null);
      const bytes = await saving;
      await new Promise((r) => setImmediate(r));
      expect(order).toEqual(['page', 'saved']);
      expect(Array.from(bytes)).toEqual(Array.from(m.save(q)));
    }
    m.dispose();
  });

  it('reads weights back a block at a time, the same values as the file holds, in every quantisation', () => {
    const rand = mulberry32(8);
    const table = Float32Array.from({ length: 5000 * 32 }, () => (rand() - 0.5) * 4); // 160,000 values: three blocks
    const flat = Float32Array.from({ length: 70_000 }, () => rand() - 0.5); // one int8 scale for all
    const config = resolveConfig({});
    for (const q of ['float32', 'float16', 'int8'] as const) {
      const bytes = encodeWeights(
        config,
        [
          ['a', [5000, 32], table],
          ['b', [70_000], flat],
        ],
        q,
      );
      const parts = decodeParts(bytes);
      let pauses = 0;
      let r = parts.next();
      while (!r.done) pauses++, (r = parts.next());
      expect(pauses, q).toBeGreaterThanOrEqual(3);
      const got = r.value.weights;
      for (const [name, want] of [
        ['a', table],
        ['b', flat],
      ] as const) {
        const v = got.get(name)!;
        expect(v.length).toBe(want.length);
        for (let i = 0; i < want.length; i += 997) {
          if (q === 'float32') expect(v[i]).toBe(want[i]);
          else if (q === 'float16') expect(v[i]).toBe(fromHalf(toHalf(want[i]!)));
          else {
            // Row i's scale (table) or the one scale (flat): within half a step of 1/127 of the row's largest value.
            const row = name === 'a' ? want.subarray(Math.floor(i / 32) * 32, Math.floor(i / 32) * 32 + 32) : want;
            const max = row.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
            expect(Math.abs(v[i]! - want[i]!)).toBeLessThanOrEqual(max / 127 / 2 + 1e-7);
          }
        }
      }
    }
  });

  it('round-trips float16 exactly on representable values', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 2 ** -24, -0.0999755859375]) expect(fromHalf(toHalf(v))).toBe(v);
    expect(fromHalf(toHalf(1e6))).toBe(Infinity);
    expect(Math.abs(fromHalf(toHalf(0.1)) - 0.1)).toBeLessThan(1e-4);
  });

  it('saves and loads: float32 exactly, float16 and int8 closely, int8 in about a quarter of the bytes', async () => {
    const m = await loadModel({ ...small, seed: 7 });
    await m.train([[ev('a'), ev('b'), ev('c')]]);
    const history = [ev('a'), ev('b')];
    const cands = ['a', 'b', 'c', 'd', 'e'];
    const ref = await m.score(history, cands);
    const sizes: Record<string, number> = {};
    for (const q of ['float32', 'float16', 'int8'] as const) {
      const bytes = m.save(q);
      sizes[q] = bytes.length;
      const m2 = await loadModel({ weights: bytes, trainable: false });
      expect(m2.config.dim).toBe(16);
      const got = await m2.score(history, cands);
      const tol = q === 'float32' ? 1e-6 : q === 'float16' ? 2e-2 : 8e-2;
      for (let i = 0; i < cands.length; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThan(tol);
      m2.dispose();
    }
    expect(sizes.int8).toBeLessThan(sizes.float32 * 0.35); // bytes + a float32 scale per 16-wide row
    expect(sizes.float16).toBeLessThan(sizes.float32 * 0.55);
    m.dispose();
  });

  it('loads from a manifest URL through the fetch it is given', async () => {
    const m = await loadModel({ ...small, seed: 9 });
    const bytes = m.save('int8');
    const files: Record<string, unknown> = {
      'https://cdn.example/models/site/model.json': { format: 'attnflow-model', version: 1, weights: 'weights.bin' },
      'https://cdn.example/models/site/weights.bin': bytes,
    };
    const fakeFetch = async (url: string) => {
      const body = files[url];
      if (body === undefined) return new Response('not found', { status: 404 });
      return new Response(body instanceof Uint8Array ? body.slice() : JSON.stringify(body));
    };
    const site = siteModel('https://cdn.example/models/site/model.json', fakeFetch);
    await site.manifest();
    const loaded = await loadModel({ ...small, weights: await site.weights() });
    const a = await m.score([ev('a')], ['b', 'c']);
    const b = await loaded.score([ev('a')], ['b', 'c']);
    expect(Math.abs(a[0] - b[0])).toBeLessThan(0.1);
    await expect(siteModel('https://cdn.example/missing.json', fakeFetch).manifest()).rejects.toThrow(/404/);
    m.dispose();
    loaded.dispose();
  });
});

describe('worker wire', () => {
  it('sends score and train arguments as text, and candidates only when they changed', () => {
    const pack = packer();
    const unpack = unpacker();
    const history = [ev('a', { hoverMs: 20 }), ev('b', { skipped: true })];
    const cands = () => ['x', { itemId: 'y', topics: ['t'], vector: Float32Array.of(0.5, -1) }];
    const trip = (op: 'score' | 'train' | 'info', args: unknown[]) => {
      const sent = pack(op, args);
      return { sent, got: unpack(op, structuredClone(sent)) };
    };
    const first = trip('score', [history, cands(), 0.25]);
    expect(first.sent.slice(0, 2).every((a) => typeof a === 'string')).toBe(true);
    expect(first.got).toEqual([history, ['x', { itemId: 'y', topics: ['t'], vector: [0.5, -1] }], 0.25]);
    const again = trip('score', [[ev('c')], cands()]);
    expect(again.sent[1]).toBeNull(); // the same candidates: not sent again
    expect(again.got[1]).toBe(first.got[1]);
    expect(again.got[0]).toEqual([ev('c')]);
    // A window of the log for the model to read goes as it is.
    expect(trip('score', [{ log: 'attnflow', recent: 400 }, cands()]).got[0]).toEqual({ log: 'attnflow', recent: 400 });
    const changed = cands();
    (changed[1] as { topics: string[] }).topics = ['u'];
    const third = trip('score', [history, changed]);
    expect(typeof third.sent[1]).toBe('string');
    expect((third.got[1] as { topics: string[] }[])[1].topics).toEqual(['u']);
    const train = trip('train', [[history, [ev('d')]], { learningRate: 0.01 }]);
    expect(train.got).toEqual([[history, [ev('d')]], { learningRate: 0.01 }]);
    expect(trip('info', []).got).toEqual([]);
  });
});
