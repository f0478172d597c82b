// A file of its own: the WASM heap here is as fresh as a page's that loads the model.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { codeList, ItemCoder, seqBatch, trainBatch } from '../../../src/model/encode';
import { createNetwork } from '../../../src/model/index';
import { useNodeBackend } from '../../../src/offline/node-backend';

beforeAll(async () => {
  await useNodeBackend('wasm');
});

it('touches the memory the first step takes ahead of it, in slices, so the step finds it ready', () => {
  // The default model: its tables (16,384 ids, 1,024 topics) do not fit the heap twice over.
  const net = createNetwork({ seed: 4, topicBuckets: 1024, dropout: 0.2 });
  const coder = new ItemCoder(net.config);
  const codes = Array.from({ length: 300 }, (_, i) => coder.code({ itemId: `i${i}`, topics: [`t${i % 5}`] }));
  const seqs = Array.from({ length: 2 }, (_, r) => ({ keys: Array.from({ length: 51 }, (_, i) => (r * 7 + i * 3) % 300) }));
  // Scored first, as a page does before it trains.
  for (let r = 0; r < 5; r++) net.score(seqBatch([seqs[r % 2]!], [51], (k) => codes[k]!, 50).batch, codeList(codes.slice(0, 200)), 200);
  const batch = trainBatch(
    seqs,
    (k) => codes[k]!,
    Int32Array.from({ length: 64 }, (_, i) => i * 3),
    50,
    0,
  );
  const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  let parts = 0;
  while (!net['adam']) net.prepare('train', undefined, batch), parts++;
  const [tensors, bytes, before] = [tf.memory().numTensors, tf.memory().numBytes, heap()];
  while (net.prepare('train', undefined, batch) && parts < 1000) parts++;
  // Four times the tables (ids, topics, biases), 64K values a slice (the last frees them all),
  // then the dropout pool: 2·50·32 values a mask, 64× that in bytes up to a power of two (256 KB).
  const tables = 16_384 * 32 + 1024 * 32 + 16_384;
  expect(parts).toBe(7 + Math.ceil((4 * tables) / 65_536) + 262_144 / 65_536);
  expect(tf.memory().numTensors).toBe(tensors);
  expect(tf.memory().numBytes).toBe(bytes);
  const warmed = heap();
  expect(warmed).toBeGreaterThan(before);
  // The step's new tables and moments go into the memory touched ahead: the heap does not grow.
  net.step(batch, 0.01);
  expect(heap()).toBe(warmed);
  net.dispose();
});
