/**
 * Federated rounds, on the demo's model (the default config, the tables sized for the demo's
 * 44-item catalogue), in Node on WASM:
 *
 * - a device's update by the length of its log (10, 50 and 200 events; the model reads the last 50):
 *   its bytes on the wire, and the time of its local training and encoding, as a ratio to the
 *   10-event log's;
 * - the collector's round by its updates (100, 400 and 1,600): decoding and checking them, and
 *   closing the round (sum, noise on every value, FedAdam, the next weights), as a ratio to 100's.
 *
 * Medians of 5 runs; the machine is noisy, so ratios are what to read.
 */
import { readFileSync } from 'node:fs';
import { Aggregate, secureRandom, serverStep } from '../../src/federated/aggregate';
import { specsOf } from '../../src/federated/local';
import { clipDelta, decodeUpdate, encodeUpdate } from '../../src/federated/update';
import { federatedConfig } from '../../src/collect/rounds';
import { initialWeights } from '../../src/model/network';
import { localUpdate } from '../../src/model/index';
import { encodeWeights } from '../../src/model/serialize';
import { weightShapes } from '../../src/model/weights';
import { useNodeBackend } from '../../src/offline/node-backend';

await useNodeBackend('wasm');
const catalogue = JSON.parse(readFileSync(new URL('../../examples/catalogue.json', import.meta.url), 'utf8'));
const config = federatedConfig(catalogue);
const specs = specsOf(config);
const values = await initialWeights(config, async () => {});
const weights = encodeWeights(
  config,
  weightShapes(config).map(([name, shape]) => [name, shape, values.get(name)!]),
  'float16',
);
const items = catalogue.items.map((i: { id: string; topics: string[] }) => ({ itemId: i.id, topics: i.topics }));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
function time(fn: () => void, runs = 5): number {
  fn(); // warm
  const t: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

const log = (n: number) =>
  Array.from({ length: n }, (_, i) => {
    const it = items[(i * 7) % items.length]!;
    return { itemId: it.itemId, topics: it.topics, attentionMs: (i % 5) * 1500, viewId: `v${i >> 3}`, skipped: i % 5 === 0 };
  });

console.log(
  `federated rounds on the demo's model (${weightShapes(config).reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0)} parameters), Node, WASM`,
);
console.log('\na device: 4 SGD steps from the round weights, clip, int8 encode');
console.log('log events   update bytes   time (ratio to 10 events)');
let base = 0;
const updates: Uint8Array[] = [];
// Every size once before any is timed: the first calls of a process compile what they run.
for (const n of [10, 50, 200])
  for (let i = 0; i < 3; i++) localUpdate(weights, log(n), { steps: 4, learningRate: 0.5, negativePool: items });
for (const n of [10, 50, 200]) {
  let bytes = new Uint8Array();
  const ms = time(() => {
    const { delta } = localUpdate(weights, log(n), { steps: 4, learningRate: 0.5, negativePool: items });
    clipDelta(delta, 1);
    bytes = encodeUpdate(1, delta, specs);
  });
  base ||= ms;
  updates.push(bytes);
  console.log(
    `${String(n).padStart(10)}   ${String(bytes.byteLength).padStart(12)}   ${(ms / base).toFixed(2)}×${n === 10 ? ` (${ms.toFixed(0)} ms)` : ''}`,
  );
}

console.log('\nthe collector: decode and check every update, then close the round (noise on every value, FedAdam)');
console.log('updates   decode+check (ratio to 100)   close (ratio to 100)   per update, ratio');
let b1 = 0;
let b2 = 0;
for (const n of [100, 400, 1600]) {
  const received = Array.from({ length: n }, (_, i) => updates[i % updates.length]!);
  const decodeMs = time(() => {
    for (const u of received) decodeUpdate(u, specs, 1);
  }, 3);
  const decoded = received.map((u) => decodeUpdate(u, specs, 1).delta);
  const closeMs = time(() => {
    const agg = new Aggregate(specs);
    for (const d of decoded) agg.add(d);
    const mean = agg.mean(1, n, secureRandom());
    const w = new Map([...values].map(([k, v]) => [k, v.slice()]));
    serverStep(w, mean, new Map(), { optimizer: 'fedadam' });
  }, 3);
  b1 ||= decodeMs;
  b2 ||= closeMs;
  console.log(
    `${String(n).padStart(7)}   ${(decodeMs / b1).toFixed(2).padStart(26)}×   ${(closeMs / b2).toFixed(2).padStart(19)}×   ${((decodeMs + closeMs) / n / ((b1 + b2) / 100)).toFixed(2)}×`,
  );
}
