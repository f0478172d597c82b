/**
 * Compact weight files: `ATNF`, a JSON header (config, tensor names and shapes), then the tensors,
 * quantised to float16 or to int8 with one float32 scale per row. No tfjs io, no fetch.
 */
import { AttnflowConfigError, describe } from '../lib/errors';
import type { ModelConfig, Quantization } from './types';
import { runParts } from '../lib/pause';

const MAGIC = 0x464e5441; // "ATNF" little-endian
const QUANT: Quantization[] = ['float32', 'float16', 'int8'];

interface Header {
  config: ModelConfig;
  tensors: { name: string; shape: number[] }[];
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half bits, round to nearest even. */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  e = half >>> 10;
  return sign | half;
}

/** IEEE half bits → float32. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** int8 scale groups: one per row of width ≥ 16 (embedding rows), else one for the whole tensor. */
function rowsOf(shape: number[]): [number, number] {
  const size = shape.reduce((a, b) => a * b, 1);
  const width = shape.length > 1 ? shape[shape.length - 1] : size;
  return width >= 16 && size > width ? [size / width, width] : [1, size];
}

/** Serialises a config and its weights (in the order given). */
export function encodeWeights(
  config: ModelConfig,
  weights: [string, number[], Float32Array][],
  quantization: Quantization = 'float16',
): Uint8Array {
  const file = weightFile(
    config,
    weights.map(([name, shape]) => [name, shape]),
    quantization,
  );
  weights.forEach(([, , data], i) => file.put(i, data));
  return file.bytes;
}

/**
 * A weight file of known tensors, written a part at a time: `put(i, data, at)` writes values of
 * the i-th tensor, from its value `at` on (whole rows), into `bytes`. A caller on the page can
 * read and write a part per task.
 */
export function weightFile(
  config: ModelConfig,
  tensors: [string, number[]][],
  quantization: Quantization = 'float16',
): { bytes: Uint8Array; put(i: number, data: ArrayLike<number>, at?: number): void } {
  const q = QUANT.indexOf(quantization);
  if (q < 0) throw new AttnflowConfigError(describe('quantization', QUANT.join(' | '), quantization));
  const header: Header = { config, tensors: tensors.map(([name, shape]) => ({ name, shape })) };
  const head = new TextEncoder().encode(JSON.stringify(header));
  const headPadded = (head.length + 3) & ~3;
  // Where each tensor starts.
  const starts: number[] = [];
  let at = 12 + headPadded;
  for (const [, shape] of tensors) {
    starts.push(at);
    const size = shape.reduce((a, b) => a * b, 1);
    const [rows] = rowsOf(shape);
    at += q === 0 ? size * 4 : q === 1 ? (size * 2 + 3) & ~3 : rows * 4 + ((size + 3) & ~3);
  }
  const out = new Uint8Array(at);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint8(4, 1);
  view.setUint8(5, q);
  view.setUint32(8, head.length, true);
  out.set(head, 12);
  const put = (i: number, data: ArrayLike<number>, from = 0): void => {
    const shape = tensors[i]![1];
    const start = starts[i]!;
    if (q === 0) {
      new Float32Array(out.buffer, start + from * 4, data.length).set(data);
    } else if (q === 1) {
      const h = new Uint16Array(out.buffer, start + from * 2, data.length);
      for (let j = 0; j < data.length; j++) h[j] = toHalf(data[j]);
    } else {
      const [all, width] = rowsOf(shape);
      const rows = data.length / width;
      const scales = new Float32Array(out.buffer, start + (from / width) * 4, rows);
      const ints = new Int8Array(out.buffer, start + all * 4 + from, data.length);
      for (let r = 0; r < rows; r++) {
        let max = 0;
        for (let j = 0; j < width; j++) max = Math.max(max, Math.abs(data[r * width + j]));
        const s = max / 127 || 1;
        scales[r] = s;
        for (let j = 0; j < width; j++) ints[r * width + j] = Math.round(data[r * width + j] / s);
      }
    }
  };
  return { bytes: out, put };
}

/** A weight file read back: its config, quantisation and float32 weights. */
export interface DecodedWeights {
  config: ModelConfig;
  quantization: Quantization;
  weights: Map<string, Float32Array>;
}

/** Reads a weight file back into its config and float32 weights. */
export function decodeWeights(bytes: ArrayBuffer | Uint8Array): DecodedWeights {
  return runParts(decodeParts(bytes));
}

/** Values decoded per part of `decodeParts`. */
const DECODE_BLOCK = 1 << 16;

/**
 * `decodeWeights` a part at a time (a generator that yields between parts, about 64K values
 * each): on a page, turning a megabyte of float16 back into float32 is a long task.
 */
export function* decodeParts(bytes: ArrayBuffer | Uint8Array): Generator<void, DecodedWeights, void> {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  // Typed views need 4-byte alignment: copy when the bytes sit at an odd offset.
  const u8 = buf.byteOffset % 4 === 0 ? buf : buf.slice();
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  if (u8.byteLength < 12 || view.getUint32(0, true) !== MAGIC) {
    throw new AttnflowConfigError(describe('model weights', 'an attnflow weight file (ATNF)', `${u8.byteLength} other bytes`));
  }
  const version = view.getUint8(4);
  if (version !== 1) throw new AttnflowConfigError(describe('model weights version', '1', version));
  const q = view.getUint8(5);
  const headLen = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(12, 12 + headLen))) as Header;
  let at = u8.byteOffset + 12 + ((headLen + 3) & ~3);
  const weights = new Map<string, Float32Array>();
  let since = 0;
  for (const { name, shape } of header.tensors) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const [rows, width] = rowsOf(shape);
    // Whole rows per block: int8 scales go by row.
    const step = Math.max(1, Math.floor(DECODE_BLOCK / width)) * width;
    const scales = q === 2 ? new Float32Array(u8.buffer, at, rows) : undefined;
    const start = q === 2 ? at + rows * 4 : at;
    for (let from = 0; from < size; from += step) {
      const to = Math.min(size, from + step);
      if (q === 0) {
        data.set(new Float32Array(u8.buffer, start + from * 4, to - from), from);
      } else if (q === 1) {
        const h = new Uint16Array(u8.buffer, start + from * 2, to - from);
        for (let i = from; i < to; i++) data[i] = fromHalf(h[i - from]);
      } else {
        const ints = new Int8Array(u8.buffer, start + from, to - from);
        for (let i = from; i < to; i++) data[i] = ints[i - from] * scales![Math.floor(i / width)];
      }
      since += to - from;
      if (since >= DECODE_BLOCK) {
        since = 0;
        yield;
      }
    }
    at = start + (q === 0 ? size * 4 : q === 1 ? (size * 2 + 3) & ~3 : (size + 3) & ~3);
    weights.set(name, data);
  }
  return { config: header.config, quantization: QUANT[q], weights };
}
