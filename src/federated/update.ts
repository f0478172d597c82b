/**
 * A device's model update for one federated round: the change its local training made to the
 * round's weights, restricted to the dense encoder weights and the table rows it touched, clipped
 * to an L2 norm, quantized to int8 with a scale per row, and the round it belongs to. The same
 * code encodes on the device and decodes (and checks) in the collector.
 *
 * Wire format (little-endian): `ATNU`, u8 version (1), u8 flags (bit 0: noised on the device),
 * u16 0, u32 round, u32 header length, the header (JSON: each tensor's name, rows and width, and
 * whether it is rows of a table), padded to 4 bytes; then per tensor: for table rows their
 * indices (i32 each), then a f32 scale per row, then the int8 values, padded to 4 bytes.
 */
import { fillNormal } from '../model/hash';

/** A change of the weights: dense weights whole by name, and per table the rows it touches (ascending). */
export interface Delta {
  dense: Map<string, Float32Array>;
  rows: Map<string, { idx: Int32Array; values: Float32Array }>;
}

/** An update as decoded by the collector. */
export interface DecodedUpdate {
  round: number;
  /** The device added its own noise (`noise: 'local'`). */
  noised: boolean;
  delta: Delta;
  /** Its L2 norm as received. */
  norm: number;
}

/** What a weight is, for checking an update against the round's model. */
export interface WeightSpec {
  shape: readonly number[];
  /** A lookup table: an update sends some of its rows. */
  table: boolean;
}

const MAGIC = 0x554e5441; // "ATNU" little-endian
export const UPDATE_VERSION = 1;
const FLAG_NOISED = 1;

/** Why the collector refused an update; `kind` is the counter it goes to. */
export class UpdateError extends Error {
  constructor(
    readonly kind: 'malformed' | 'over-norm',
    message: string,
  ) {
    super(message);
    this.name = 'UpdateError';
  }
}

/** The L2 norm of a delta. */
export function normOf(delta: Delta): number {
  let s = 0;
  for (const v of delta.dense.values()) for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  for (const { values: v } of delta.rows.values()) for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/** Multiplies every value of a delta by `k`, in place. */
export function scaleDelta(delta: Delta, k: number): Delta {
  for (const v of delta.dense.values()) for (let i = 0; i < v.length; i++) v[i]! *= k;
  for (const { values: v } of delta.rows.values()) for (let i = 0; i < v.length; i++) v[i]! *= k;
  return delta;
}

/** Scales a delta down, in place, to L2 norm at most `clip`; returns its norm before. */
export function clipDelta(delta: Delta, clip: number): number {
  const n = normOf(delta);
  if (n > clip) scaleDelta(delta, clip / n);
  return n;
}

/** Adds N(0, std²) to every value of a delta, in place (the device's own noise, `noise: 'local'`). */
export function noiseDelta(delta: Delta, std: number, rand: () => number): Delta {
  const add = (v: Float32Array) => {
    const z = fillNormal(new Float32Array(v.length), rand, std);
    for (let i = 0; i < v.length; i++) v[i]! += z[i]!;
  };
  for (const v of delta.dense.values()) add(v);
  for (const { values } of delta.rows.values()) add(values);
  return delta;
}

/** Rows and width of a weight in an update (one int8 scale per row): a matrix by its rows, a vector as one row. */
function rowsOf(shape: readonly number[]): [number, number] {
  const size = shape.reduce((a, b) => a * b, 1);
  const width = shape.length > 1 ? (shape[shape.length - 1] as number) : size;
  return [size / width, width];
}

interface HeaderTensor {
  name: string;
  rows: number;
  width: number;
  table: boolean;
}

/**
 * Quantizes `v` (rows × width) to int8 with one scale per row, rounding stochastically (up with
 * the probability of the remainder): every value's expected decoding is the value itself, so
 * averaging many updates loses nothing to rounding.
 */
function quantize(v: Float32Array, width: number, scales: Float32Array, ints: Int8Array, rand: () => number): void {
  for (let r = 0; r < scales.length; r++) {
    let max = 0;
    for (let j = 0; j < width; j++) max = Math.max(max, Math.abs(v[r * width + j]!));
    const s = max / 127;
    scales[r] = s;
    if (s === 0) continue;
    for (let j = 0; j < width; j++) {
      const x = v[r * width + j]! / s;
      const f = Math.floor(x);
      ints[r * width + j] = Math.max(-127, Math.min(127, f + (rand() < x - f ? 1 : 0)));
    }
  }
}

/** The update's bytes for `round`; `rand` drives the rounding (any uniform source). */
export function encodeUpdate(
  round: number,
  delta: Delta,
  specs: ReadonlyMap<string, WeightSpec>,
  options: { noised?: boolean; rand?: () => number } = {},
): Uint8Array {
  const rand = options.rand ?? Math.random;
  const tensors: HeaderTensor[] = [];
  const data: { v: Float32Array; idx?: Int32Array }[] = [];
  for (const [name, v] of delta.dense) {
    const spec = specs.get(name);
    if (!spec) throw new Error(`attnflow: ${name} is not a weight of the round's model`);
    const [rows, width] = rowsOf(spec.shape);
    tensors.push({ name, rows, width, table: false });
    data.push({ v });
  }
  for (const [name, { idx, values }] of delta.rows) {
    const width = idx.length ? values.length / idx.length : 0;
    tensors.push({ name, rows: idx.length, width, table: true });
    data.push({ v: values, idx });
  }
  const head = new TextEncoder().encode(JSON.stringify({ tensors }));
  const headPadded = (head.length + 3) & ~3;
  let size = 16 + headPadded;
  for (const t of tensors) size += (t.table ? t.rows * 4 : 0) + t.rows * 4 + ((t.rows * t.width + 3) & ~3);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint8(4, UPDATE_VERSION);
  view.setUint8(5, options.noised ? FLAG_NOISED : 0);
  view.setUint32(8, round, true);
  view.setUint32(12, head.length, true);
  out.set(head, 16);
  let at = 16 + headPadded;
  tensors.forEach((t, i) => {
    const { v, idx } = data[i]!;
    if (idx) {
      new Int32Array(out.buffer, at, t.rows).set(idx);
      at += t.rows * 4;
    }
    const scales = new Float32Array(out.buffer, at, t.rows);
    at += t.rows * 4;
    quantize(v, t.width, scales, new Int8Array(out.buffer, at, t.rows * t.width), rand);
    at += (t.rows * t.width + 3) & ~3;
  });
  return out;
}

/**
 * Reads and checks an update against the round's weights `specs`: every tensor a weight of the
 * model, each at most once, dense weights whole, table rows in range and ascending, scales finite,
 * and its norm at most `clip` (with `slack` for the rounding). Throws `UpdateError`.
 */
export function decodeUpdate(bytes: Uint8Array, specs: ReadonlyMap<string, WeightSpec>, clip = Infinity, slack = 1.05): DecodedUpdate {
  const bad = (why: string): never => {
    throw new UpdateError('malformed', why);
  };
  const u8 = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (u8.byteLength < 16) bad('too short to be an update');
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  if (view.getUint32(0, true) !== MAGIC) bad('not an attnflow update (ATNU)');
  if (view.getUint8(4) !== UPDATE_VERSION) bad(`update version ${view.getUint8(4)}, expected ${UPDATE_VERSION}`);
  const flags = view.getUint8(5);
  const round = view.getUint32(8, true);
  const headLen = view.getUint32(12, true);
  if (16 + headLen > u8.byteLength) bad('header runs past the end');
  let header: { tensors?: unknown } | undefined;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(u8.subarray(16, 16 + headLen)));
  } catch {
    bad('header is not JSON');
  }
  if (!header || !Array.isArray(header.tensors)) bad('header has no tensors');
  let at = u8.byteOffset + 16 + ((headLen + 3) & ~3);
  const end = u8.byteOffset + u8.byteLength;
  const take = (n: number): number => {
    if (at + n > end) bad('data runs past the end');
    const from = at;
    at += n;
    return from;
  };
  const delta: Delta = { dense: new Map(), rows: new Map() };
  const seen = new Set<string>();
  let sum = 0;
  for (const t of header!.tensors as HeaderTensor[]) {
    if (!t || typeof t.name !== 'string') bad('a tensor without a name');
    const spec = specs.get(t.name);
    if (!spec) bad(`${t.name.slice(0, 60)} is not a weight of this model`);
    if (seen.has(t.name)) bad(`${t.name} appears twice`);
    seen.add(t.name);
    if (t.table !== spec!.table) bad(`${t.name}: ${spec!.table ? 'a table is sent as rows' : 'a dense weight is sent whole'}`);
    const [allRows, width] = rowsOf(spec!.shape);
    const rows = t.rows;
    if (!Number.isInteger(rows) || rows < 0 || t.width !== width || (spec!.table ? rows > allRows : rows !== allRows)) {
      bad(`${t.name}: wrong shape`);
    }
    let idx: Int32Array | undefined;
    if (spec!.table) {
      idx = new Int32Array(u8.buffer, take(rows * 4), rows).slice();
      for (let i = 0; i < rows; i++) {
        if (idx[i]! < 0 || idx[i]! >= allRows || (i > 0 && idx[i]! <= idx[i - 1]!))
          bad(`${t.name}: row indices out of range or not ascending`);
      }
    }
    const scales = new Float32Array(u8.buffer, take(rows * 4), rows);
    const n = rows * t.width;
    const ints = new Int8Array(u8.buffer, take((n + 3) & ~3), n);
    const values = new Float32Array(n);
    for (let r = 0; r < rows; r++) {
      const s = scales[r]!;
      if (!Number.isFinite(s) || s < 0) bad(`${t.name}: a scale is not a finite number ≥ 0`);
      for (let j = 0; j < t.width; j++) {
        const x = ints[r * t.width + j]! * s;
        values[r * t.width + j] = x;
        sum += x * x;
      }
    }
    if (idx) delta.rows.set(t.name, { idx, values });
    else delta.dense.set(t.name, values);
  }
  if (at !== end) bad('bytes after the last tensor');
  const norm = Math.sqrt(sum);
  if (!Number.isFinite(norm)) bad('values are not finite');
  if (norm > clip * slack) throw new UpdateError('over-norm', `norm ${norm.toPrecision(4)} is over the clip norm ${clip}`);
  // Within the rounding's slack: held to the clip norm exactly, as the privacy accounting assumes.
  if (norm > clip) scaleDelta(delta, clip / norm);
  return { round, noised: (flags & FLAG_NOISED) !== 0, delta, norm };
}

/** Uniform numbers in [0, 1) from the platform's cryptographic source, drawn in blocks (differential privacy's noise). */
export function secureRandom(): () => number {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c?.getRandomValues) throw new Error('attnflow: differential privacy noise needs crypto.getRandomValues');
  const block = new Uint32Array(8192);
  let at = block.length;
  return () => {
    if (at >= block.length - 1) {
      c.getRandomValues(block);
      at = 0;
    }
    const hi = block[at++]!;
    const lo = block[at++]!;
    return (hi * 2097152 + (lo >>> 11)) / 9007199254740992;
  };
}
