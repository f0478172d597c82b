import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Aggregate, serverStep } from '../../../src/federated/aggregate';
import { localTrain, specsOf } from '../../../src/federated/local';
import { clipDelta, decodeUpdate, type Delta, encodeUpdate, normOf, UpdateError } from '../../../src/federated/update';
import { ItemCoder, trainBatch } from '../../../src/model/encode';
import { mulberry32 } from '../../../src/model/hash';
import { createNetwork, localUpdate, resolveConfig } from '../../../src/model/index';
import { encodeWeights } from '../../../src/model/serialize';
import { weightShapes } from '../../../src/model/weights';
import { useNodeBackend } from '../../../src/offline/node-backend';

beforeAll(async () => {
  await useNodeBackend('wasm');
});

const small = { dim: 8, ffnDim: 8, maxLen: 10, blocks: 1, idBuckets: 64, topicBuckets: 16, negatives: 8, dropout: 0, seed: 3 };

function toyDelta(rand: () => number): Delta {
  const specs = specsOf(resolveConfig(small));
  const dense = new Map<string, Float32Array>();
  for (const [name, s] of specs)
    if (!s.table)
      dense.set(
        name,
        Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => rand() - 0.5),
      );
  const rows = new Map([['item/id', { idx: Int32Array.from([2, 7, 40]), values: Float32Array.from({ length: 24 }, () => rand() - 0.5) }]]);
  return { dense, rows };
}

describe('update wire format', () => {
  const specs = specsOf(resolveConfig(small));

  it('decodes what it encodes, each value within a rounding step of its row, the round and the flags kept', () => {
    const d = toyDelta(mulberry32(1));
    const bytes = encodeUpdate(17, d, specs, { noised: true });
    const u = decodeUpdate(bytes, specs);
    expect(u.round).toBe(17);
    expect(u.noised).toBe(true);
    expect([...u.delta.rows.get('item/id')!.idx]).toEqual([2, 7, 40]);
    for (const [name, v] of d.dense) {
      const got = u.delta.dense.get(name)!;
      const width = specs.get(name)!.shape.at(-1)!;
      for (let i = 0; i < v.length; i++) {
        const row = v.subarray(Math.floor(i / width) * width, Math.floor(i / width) * width + width);
        const step = Math.max(...row.map(Math.abs)) / 127;
        expect(Math.abs(got[i]! - v[i]!)).toBeLessThanOrEqual(step + 1e-7);
      }
    }
  });

  it('rounds without bias: the mean of many encodings is the value', () => {
    const d: Delta = { dense: new Map([['out/ln/g', Float32Array.from([1, 0.3, -0.004, 0.01, 0, 0, 0, 0.5])]]), rows: new Map() };
    const sum = new Float64Array(8);
    const rand = mulberry32(9);
    for (let k = 0; k < 2000; k++) {
      const v = decodeUpdate(encodeUpdate(1, d, specs, { rand }), specs).delta.dense.get('out/ln/g')!;
      for (let i = 0; i < 8; i++) sum[i]! += v[i]!;
    }
    // 0.004 is half a rounding step of its row (1/127): deterministic rounding would send 0.
    expect(sum[2]! / 2000).toBeCloseTo(-0.004, 3);
    expect(sum[3]! / 2000).toBeCloseTo(0.01, 3);
  });

  it('is small for the default model: the dense encoder and a visitor’s rows well under 64 KB', () => {
    const net = createNetwork({ seed: 1 });
    const sp = specsOf(net.config);
    net.dispose();
    const dense = new Map<string, Float32Array>();
    for (const [name, s] of sp) if (!s.table) dense.set(name, new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(0.01));
    // 50 items, two hashes each, with 64 negatives: 228 rows of the id table and the biases.
    const idx = Int32Array.from({ length: 228 }, (_, i) => i * 7);
    const rows = new Map([
      ['item/id', { idx, values: new Float32Array(228 * 32).fill(0.01) }],
      ['item/bias', { idx, values: new Float32Array(228).fill(0.01) }],
    ]);
    expect(encodeUpdate(1, { dense, rows }, sp).byteLength).toBeLessThan(64 * 1024);
  });

  it('refuses what is not an update of this model, naming why', () => {
    const d = toyDelta(mulberry32(2));
    const good = encodeUpdate(3, d, specs);
    const refuse = (bytes: Uint8Array, pattern: RegExp, kind = 'malformed') => {
      try {
        decodeUpdate(bytes, specs, 100);
        throw new Error('accepted');
      } catch (e) {
        expect(e).toBeInstanceOf(UpdateError);
        expect((e as UpdateError).kind).toBe(kind);
        expect((e as Error).message).toMatch(pattern);
      }
    };
    refuse(good.slice(0, 10), /too short/);
    refuse(Uint8Array.from([...good.slice(0, 3), 0, ...good.slice(4)]), /ATNU/);
    refuse(good.slice(0, good.length - 4), /past the end|after the last/);
    refuse(Uint8Array.from([...good, 0, 0, 0, 0]), /after the last/);
    const other = specsOf(resolveConfig({ ...small, idBuckets: 32 }));
    expect(() => decodeUpdate(good, other)).toThrow(/out of range|wrong shape/);
    const unsorted: Delta = {
      dense: new Map(),
      rows: new Map([['item/id', { idx: Int32Array.from([5, 3]), values: new Float32Array(16) }]]),
    };
    refuse(encodeUpdate(1, unsorted, specs), /ascending/);
    const foreign: Delta = { dense: new Map([['block9/wq', new Float32Array(64)]]), rows: new Map() };
    expect(() => encodeUpdate(1, foreign, specs)).toThrow(/not a weight/);
    const big = toyDelta(mulberry32(4));
    for (const v of big.dense.values()) v.fill(10);
    expect(() => decodeUpdate(encodeUpdate(1, big, specs), specs, 1)).toThrow(UpdateError);
    try {
      decodeUpdate(encodeUpdate(1, big, specs), specs, 1);
    } catch (e) {
      expect((e as UpdateError).kind).toBe('over-norm');
    }
  });

  it('clips to the norm, and the collector holds an update within the rounding slack to it exactly', () => {
    const d = toyDelta(mulberry32(5));
    const before = clipDelta(d, 0.5);
    expect(before).toBeGreaterThan(0.5);
    expect(normOf(d)).toBeCloseTo(0.5, 5);
    const u = decodeUpdate(encodeUpdate(1, d, specs), specs, 0.5);
    expect(normOf(u.delta)).toBeLessThanOrEqual(0.5 + 1e-6);
  });
});

describe('local training', () => {
  it('lowers the loss on the device’s own log, changes only the rows it touched, and can put the network back', () => {
    const net = createNetwork(small);
    const coder = new ItemCoder(net.config);
    const codes = Array.from({ length: 20 }, (_, i) => coder.code({ itemId: `i${i}`, topics: [`t${i % 3}`] }));
    const seq = { keys: [1, 2, 3, 1, 2, 3, 1, 2, 3] };
    const batch = trainBatch([seq], (k) => codes[k]!, Int32Array.from([10, 11, 12, 13, 14, 15, 16, 17]), 10, 0);
    const before = net.snapshot();
    const loss0 = tf.tidy(() => net.loss(batch, false).dataSync()[0]!);
    const { delta } = localTrain(net, () => batch, { steps: 3, learningRate: 0.5 }, true);
    // Put back exactly (to float rounding).
    const after = net.snapshot();
    for (const [name, v] of before) for (let i = 0; i < v.length; i += 17) expect(after.get(name)![i]).toBeCloseTo(v[i]!, 5);
    // Rows touched: the items' and the negatives' buckets only.
    const touched = new Set<number>();
    for (const k of [1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 17]) for (const r of codes[k]!.ids) touched.add(r);
    for (const r of delta.rows.get('item/id')!.idx) expect(touched.has(r)).toBe(true);
    net.addToWeights(delta);
    const loss1 = tf.tidy(() => net.loss(batch, false).dataSync()[0]!);
    expect(loss1).toBeLessThan(loss0 - 0.05);
    net.dispose();
  });

  it('trains from a weight file on a visitor’s events (the device’s path), with negatives from the given list', () => {
    const net = createNetwork(small);
    const shapes = new Map(weightShapes(net.config));
    const file = encodeWeights(
      net.config,
      [...net.snapshot()].map(([name, v]) => [name, shapes.get(name)!, v]),
      'float32',
    );
    net.dispose();
    const events = [1, 2, 3, 1, 2, 3, 1, 2].map((k, i) => ({ itemId: `i${k}`, topics: ['t'], attentionMs: 3000, viewId: `v${i}` }));
    const pool = Array.from({ length: 10 }, (_, i) => ({ itemId: `n${i}` }));
    const { delta, loss, targets, config } = localUpdate(file, events, { steps: 2, learningRate: 0.2, negativePool: pool });
    expect(config.dim).toBe(8);
    expect(targets).toBe(7);
    expect(loss).toBeGreaterThan(0);
    const coder = new ItemCoder(config);
    const allowed = new Set([...[1, 2, 3].map((k) => `i${k}`), ...pool.map((p) => p.itemId)].flatMap((id) => [...coder.code(id).ids]));
    const rows = delta.rows.get('item/id')!.idx;
    expect(rows.length).toBeGreaterThan(6);
    for (const r of rows) expect(allowed.has(r)).toBe(true);
    expect(normOf(delta)).toBeGreaterThan(0);
    // Another visitor's log, another change.
    const other = localUpdate(
      file,
      events.map((e) => ({ ...e, itemId: e.itemId.replace('i', 'j') })),
      { steps: 2, learningRate: 0.2, negativePool: pool },
    );
    expect([...other.delta.rows.get('item/id')!.idx]).not.toEqual([...rows]);
  });
});

describe('aggregation', () => {
  const specs = specsOf(resolveConfig(small));
  it('averages updates, adds noise of the asked deviation, and steps the weights', () => {
    const agg = new Aggregate(specs);
    const a: Delta = {
      dense: new Map([['out/ln/b', new Float32Array(8).fill(1)]]),
      rows: new Map([['item/bias', { idx: Int32Array.from([3]), values: Float32Array.from([2]) }]]),
    };
    const b: Delta = {
      dense: new Map([['out/ln/b', new Float32Array(8).fill(3)]]),
      rows: new Map([['item/bias', { idx: Int32Array.from([3, 5]), values: Float32Array.from([4, 6]) }]]),
    };
    agg.add(a);
    agg.add(b);
    expect(agg.count).toBe(2);
    const mean = agg.mean(0, 2, Math.random);
    expect([...mean.get('out/ln/b')!]).toEqual(new Array(8).fill(2));
    expect(mean.get('item/bias')![3]).toBe(3);
    expect(mean.get('item/bias')![5]).toBe(3);
    expect(mean.get('item/bias')![4]).toBe(0);
    // Noise on every value, nobody's rows included.
    const noisy = new Aggregate(specs).mean(2, 1, mulberry32(7)).get('item/id')!;
    let s = 0;
    for (const x of noisy) s += x * x;
    expect(Math.sqrt(s / noisy.length)).toBeGreaterThan(1.8);
    expect(Math.sqrt(s / noisy.length)).toBeLessThan(2.2);

    const w = new Map([['x', Float32Array.from([1, 1])]]);
    const d = new Map([['x', Float32Array.from([0.5, -0.5])]]);
    serverStep(w, d, new Map(), { optimizer: 'fedavg' });
    expect([...w.get('x')!]).toEqual([1.5, 0.5]);
    const state = new Map<string, Float32Array>();
    serverStep(w, d, state, { optimizer: 'momentum', learningRate: 1, momentum: 0.5 });
    serverStep(w, d, state, { optimizer: 'momentum', learningRate: 1, momentum: 0.5 });
    expect(w.get('x')![0]).toBeCloseTo(1.5 + 0.5 + 0.75);
    const w2 = new Map([['x', Float32Array.from([0, 0])]]);
    serverStep(w2, d, new Map(), { optimizer: 'fedadam', learningRate: 0.1, tau: 0 });
    // First FedAdam step: m = 0.1·d, v = 0.01·d², so the move is lr·sign(d)·0.1/0.1.
    expect(w2.get('x')![0]).toBeCloseTo(0.1, 5);
    expect(w2.get('x')![1]).toBeCloseTo(-0.1, 5);
  });
});
