/**
 * Plain-array encodings of items, visitor sequences and training batches. Nothing here touches
 * tensors, so batches can be prepared anywhere (a worker, a test) and handed to the network.
 */
import { hash32, ID_SEEDS, TOPIC_SEED } from './hash';
import type { AttentionEvent, ItemRef, ModelConfig } from './types';

/** Attention features per position: log1p(attention s), log1p(hover s), log1p(clicks), skipped, any signal. */
export const FEATURES = 5;

/** Hashed form of one item. */
export interface ItemCode {
  /** Bucket of each id hash. */
  ids: Int32Array;
  /** Topic buckets. */
  topics: Int32Array;
  /** Site-provided vector, if any. */
  vector?: ArrayLike<number>;
}

/**
 * A list of n items in fixed-width form: k id buckets per item and up to `topicK` topic buckets,
 * each with a weight (1 or 0 for ids, 1/count or 0 for topics; padding items weigh 0).
 */
export interface CodeList {
  n: number;
  idK: number;
  idIdx: Int32Array;
  idW: Float32Array;
  topicK: number;
  topicIdx: Int32Array;
  topicW: Float32Array;
  /** n × itemVectorDim, zeros where an item has none; only when the config uses vectors. */
  vectors?: Float32Array;
}

/** Visitor sequences, left-padded to a common length L (the last column is the most recent). */
export interface SeqBatch {
  B: number;
  L: number;
  /** Items at the B·L positions; padding positions have no entries. */
  items: CodeList;
  /** B·L·FEATURES attention features. */
  features: Float32Array;
  /** B·L flags, 1 at real positions. */
  valid: Float32Array;
}

/** A sequence batch plus what to learn from it. */
export interface TrainBatch extends SeqBatch {
  /** Flat positions (b·L + l) whose output predicts a target. */
  targetPos: Int32Array;
  /** The positive item each of those positions predicts. */
  targets: CodeList;
  /** Keys of the targets, to mask negatives that equal their row's positive. */
  targetKeys: Int32Array;
  /** Shared negatives for every row. */
  negatives: CodeList;
  negativeKeys: Int32Array;
  /** K per-row negatives (skipped items of the target's view), T·K, with a 0 / -1e9 mask. */
  rowNegatives?: CodeList;
  rowNegativeMask?: Float32Array;
  K: number;
}

/** One visitor sequence in key form: items as integer keys into a code table. */
export interface KeySequence {
  keys: ArrayLike<number>;
  /** len·FEATURES features; default zeros. */
  features?: Float32Array;
  /** 1 where the event was seen-but-skipped (not a positive target). */
  skipped?: Uint8Array;
  /** View of each event (any integer), for skipped negatives. */
  views?: Int32Array;
}

/** Hashes item refs into bucket codes, caching by id and topics. */
export class ItemCoder {
  private cache = new Map<string, ItemCode>();
  constructor(private config: ModelConfig) {}

  code(item: ItemRef | string): ItemCode {
    const ref = typeof item === 'string' ? { itemId: item } : item;
    const topics = ref.topics ?? [];
    const key = topics.length ? ref.itemId + '\u0000' + topics.join('\u0000') : ref.itemId;
    let c = this.cache.get(key);
    if (!c) {
      const { idBuckets, idHashes, topicBuckets } = this.config;
      const ids = new Int32Array(idHashes);
      for (let h = 0; h < idHashes; h++) ids[h] = hash32(ref.itemId, ID_SEEDS[h]) % idBuckets;
      const tops = new Int32Array(topicBuckets > 0 ? topics.length : 0);
      for (let t = 0; t < tops.length; t++) tops[t] = hash32(topics[t], TOPIC_SEED) % topicBuckets;
      c = { ids, topics: tops };
      if (this.cache.size > 50_000) this.cache.clear();
      this.cache.set(key, c);
    }
    return ref.vector ? { ...c, vector: ref.vector } : c;
  }
}

/** Fixed-width form of a list of item codes; `undefined` entries become zero rows (padding). */
export function codeList(codes: readonly (ItemCode | undefined)[], vectorDim = 0): CodeList {
  const n = codes.length;
  let idK = 1;
  let topicK = 0;
  for (const c of codes) {
    if (c) {
      idK = Math.max(idK, c.ids.length);
      topicK = Math.max(topicK, c.topics.length);
    }
  }
  // One buffer for every array: in browsers each typed-array allocation costs microseconds, which
  // add up to much of a score call (views on one buffer cost next to nothing).
  const buf = new ArrayBuffer(4 * n * (2 * idK + 2 * topicK + vectorDim));
  let at = 0;
  const part = <T>(Type: new (b: ArrayBuffer, offset: number, length: number) => T, length: number): T => {
    const view = new Type(buf, at, length);
    at += 4 * length;
    return view;
  };
  const idIdx = part(Int32Array, n * idK);
  const idW = part(Float32Array, n * idK);
  const topicIdx = part(Int32Array, n * topicK);
  const topicW = part(Float32Array, n * topicK);
  const vectors = vectorDim > 0 ? part(Float32Array, n * vectorDim) : undefined;
  for (let s = 0; s < n; s++) {
    const c = codes[s];
    if (!c) continue;
    for (let j = 0; j < c.ids.length; j++) {
      idIdx[s * idK + j] = c.ids[j];
      idW[s * idK + j] = 1;
    }
    for (let j = 0; j < c.topics.length; j++) {
      topicIdx[s * topicK + j] = c.topics[j];
      topicW[s * topicK + j] = 1 / c.topics.length;
    }
    if (vectors && c.vector) for (let j = 0; j < vectorDim; j++) vectors[s * vectorDim + j] = Number(c.vector[j]) || 0;
  }
  return { n, idK, idIdx, idW, topicK, topicIdx, topicW, vectors };
}

/** The attention features of one event (see `FEATURES`). */
export function eventFeatures(e: AttentionEvent, out: Float32Array, at: number): void {
  const a = Math.max(0, Number(e.attentionMs) || 0);
  const h = Math.max(0, Number(e.hoverMs) || 0);
  const c = Math.max(0, Number(e.clicks) || 0);
  out[at] = Math.log1p(a / 1000);
  out[at + 1] = Math.log1p(h / 1000);
  out[at + 2] = Math.log1p(c);
  out[at + 3] = e.skipped ? 1 : 0;
  out[at + 4] = a > 0 || h > 0 || c > 0 || e.skipped ? 1 : 0;
}

/**
 * One visitor's events as a batch of one, for scoring (the caller keeps the last `maxLen`): the
 * same batch as `seqBatch` of their key sequence, with fewer allocations. No events: one padded column.
 */
export function visitorBatch(events: readonly AttentionEvent[], code: (e: AttentionEvent) => ItemCode, vectorDim = 0): SeqBatch {
  const L = Math.max(1, events.length);
  const items = codeList(events.length ? events.map(code) : [undefined], vectorDim);
  const mem = new Float32Array(L * (FEATURES + 1));
  const features = mem.subarray(0, L * FEATURES);
  const valid = mem.subarray(L * FEATURES);
  for (let i = 0; i < events.length; i++) {
    eventFeatures(events[i], features, i * FEATURES);
    valid[i] = 1;
  }
  return { B: 1, L, items, features, valid };
}

/**
 * Left-pads the last `maxLen` inputs of each sequence. `lengths[b]` of sequence b are used as
 * inputs (the rest, if any, are only targets).
 */
export function seqBatch(
  seqs: readonly KeySequence[],
  lengths: readonly number[],
  codeOf: (key: number) => ItemCode,
  maxLen: number,
  vectorDim = 0,
): { batch: SeqBatch; starts: Int32Array } {
  const B = seqs.length;
  let L = 1;
  for (let b = 0; b < B; b++) L = Math.max(L, Math.min(maxLen, lengths[b]));
  const codes: (ItemCode | undefined)[] = new Array(B * L);
  const features = new Float32Array(B * L * FEATURES);
  const valid = new Float32Array(B * L);
  const starts = new Int32Array(B); // sequence index at column 0 (may be negative: padding)
  for (let b = 0; b < B; b++) {
    const s = seqs[b];
    const n = lengths[b];
    const first = n - L; // sequence index shown in column 0
    starts[b] = first;
    for (let l = 0; l < L; l++) {
      const i = first + l;
      const p = b * L + l;
      if (i < 0 || i >= n) continue;
      codes[p] = codeOf(s.keys[i]);
      valid[p] = 1;
      if (s.features) features.set(s.features.subarray(i * FEATURES, (i + 1) * FEATURES), p * FEATURES);
    }
  }
  return { batch: { B, L, items: codeList(codes, vectorDim), features, valid }, starts };
}

/**
 * A training batch: each position predicts the item of the next event that was not skipped.
 * `negativeKeys` are shared by all rows; up to `K` skipped items of the target's view come first
 * as per-row negatives.
 */
export function trainBatch(
  seqs: readonly KeySequence[],
  codeOf: (key: number) => ItemCode,
  negativeKeys: Int32Array,
  maxLen: number,
  K: number,
  vectorDim = 0,
): TrainBatch {
  const lengths = seqs.map((s) => Math.max(0, s.keys.length - 1));
  const { batch, starts } = seqBatch(seqs, lengths, codeOf, maxLen, vectorDim);
  const { B, L } = batch;
  const tPos: number[] = [];
  const tKeys: number[] = [];
  const rowNeg: (ItemCode | undefined)[] = [];
  const rowMask: number[] = [];
  let anySkipped = false;
  for (let b = 0; b < B; b++) {
    const s = seqs[b];
    // The event each position predicts: the next one not skipped. Items passed over are no answer
    // to "what does this visitor attend next", so a position before them learns the read after
    // them, and the last position of a log that ends on skipped items (where scoring asks) is trained.
    const n = s.keys.length;
    const next = new Int32Array(n).fill(-1);
    for (let q = n - 2; q >= 0; q--) next[q] = !s.skipped?.[q + 1] ? q + 1 : next[q + 1]!;
    for (let l = 0; l < L; l++) {
      const i = starts[b] + l;
      if (i < 0 || i >= lengths[b]) continue;
      const j = next[i]!; // target event
      if (j < 0) continue;
      tPos.push(b * L + l);
      tKeys.push(s.keys[j]);
      if (K > 0) {
        let k = 0;
        if (s.skipped && s.views) {
          const view = s.views[j];
          for (let q = 0; q < s.keys.length && k < K; q++) {
            if (s.skipped[q] && s.views[q] === view && s.keys[q] !== s.keys[j]) {
              rowNeg.push(codeOf(s.keys[q]));
              rowMask.push(0);
              k++;
              anySkipped = true;
            }
          }
        }
        for (; k < K; k++) {
          rowNeg.push(undefined);
          rowMask.push(-1e9);
        }
      }
    }
  }
  const negCodes: ItemCode[] = [];
  for (let n = 0; n < negativeKeys.length; n++) negCodes.push(codeOf(negativeKeys[n]));
  const out: TrainBatch = {
    ...batch,
    targetPos: Int32Array.from(tPos),
    targets: codeList(
      tKeys.map((k) => codeOf(k)),
      vectorDim,
    ),
    targetKeys: Int32Array.from(tKeys),
    negatives: codeList(negCodes, vectorDim),
    negativeKeys,
    K: anySkipped ? K : 0,
  };
  if (anySkipped) {
    out.rowNegatives = codeList(rowNeg, vectorDim);
    out.rowNegativeMask = Float32Array.from(rowMask);
  }
  return out;
}
