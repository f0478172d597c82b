/**
 * A data-dependent start for the item vectors: the top eigenvectors of the positive PMI matrix of
 * items read close together (randomized subspace iteration, plain arrays). Items read in the same
 * neighbourhoods start close, so the model ranks like an item-to-item recommender from its first
 * step and training refines the sequence encoder from there. Cheap: a few sparse products.
 */
import type { KeySequence } from '../model/encode';
import { fillNormal, mulberry32 } from '../model/hash';

interface Sparse {
  n: number;
  rowPtr: Int32Array;
  col: Int32Array;
  val: Float32Array;
}

/** Every pair (a, b, weight) of a co-occurrence count, each given to `f`; called twice. */
type PairVisit = (f: (a: number, b: number, w: number) => void) => void;

/** Pairs within the window of each sequence, both directions, weighted 1/distance. */
function pairsOf(seqs: readonly KeySequence[], window: number): PairVisit {
  return (f) => {
    for (const s of seqs) {
      const k = s.keys;
      for (let i = 0; i < k.length; i++) {
        for (let j = i + 1; j < Math.min(k.length, i + 1 + window); j++) {
          if (k[i] === k[j]) continue;
          f(k[i], k[j], 1 / (j - i));
          f(k[j], k[i], 1 / (j - i));
        }
      }
    }
  };
}

function cooccurrence(visit: PairVisit, n: number): Sparse {
  // Bucketed by row (counting sort), duplicates merged.
  const perRow = new Int32Array(n + 1);
  visit((a) => perRow[a + 1]++);
  for (let i = 0; i < n; i++) perRow[i + 1] += perRow[i];
  const fill = perRow.slice(0, n);
  const rawCol = new Int32Array(perRow[n]);
  const rawW = new Float32Array(perRow[n]);
  visit((a, b, w) => {
    rawCol[fill[a]] = b;
    rawW[fill[a]++] = w;
  });
  // Merge duplicates per row.
  const row = new Float64Array(n);
  const acc = new Float64Array(n);
  const rowPtr = new Int32Array(n + 1);
  const col: number[] = [];
  const cnt: number[] = [];
  for (let a = 0; a < n; a++) {
    const start = col.length;
    for (let p = perRow[a]; p < perRow[a + 1]; p++) {
      const b = rawCol[p];
      if (acc[b] === 0) col.push(b);
      acc[b] += rawW[p];
      row[a] += rawW[p];
    }
    for (let q = start; q < col.length; q++) {
      cnt.push(acc[col[q]]);
      acc[col[q]] = 0;
    }
    rowPtr[a + 1] = col.length;
  }
  // Positive PMI with context smoothing (count^0.75), as in word2vec.
  const ctx = new Float64Array(n);
  let ctxTotal = 0;
  for (let i = 0; i < n; i++) ctxTotal += ctx[i] = row[i] ** 0.75;
  const val = new Float32Array(col.length);
  for (let a = 0; a < n; a++) {
    for (let p = rowPtr[a]; p < rowPtr[a + 1]; p++) val[p] = Math.max(0, Math.log((cnt[p] * ctxTotal) / (row[a] * ctx[col[p]])));
  }
  return { n, rowPtr, col: Int32Array.from(col), val };
}

/** out = M · X, X and out n × k row-major. */
function spmm(m: Sparse, x: Float64Array, k: number): Float64Array {
  const out = new Float64Array(m.n * k);
  for (let i = 0; i < m.n; i++) {
    for (let p = m.rowPtr[i]; p < m.rowPtr[i + 1]; p++) {
      const j = m.col[p];
      const v = m.val[p];
      for (let c = 0; c < k; c++) out[i * k + c] += v * x[j * k + c];
    }
  }
  return out;
}

/** Orthonormalises the k columns of an n × k row-major matrix in place (modified Gram–Schmidt). */
function orthonormalize(x: Float64Array, n: number, k: number): void {
  // Columns copied out so that every pass reads contiguous memory.
  const cols: Float64Array[] = [];
  for (let c = 0; c < k; c++) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = x[i * k + c];
    for (const p of cols) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += v[i] * p[i];
      for (let i = 0; i < n; i++) v[i] -= dot * p[i];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < n; i++) v[i] /= norm;
    cols.push(v);
  }
  for (let c = 0; c < k; c++) {
    const v = cols[c];
    for (let i = 0; i < n; i++) x[i * k + c] = v[i];
  }
}

/** Eigen-decomposition of a small symmetric matrix (cyclic Jacobi); returns values and column vectors. */
function jacobi(a: Float64Array, k: number): { values: Float64Array; vectors: Float64Array } {
  const v = new Float64Array(k * k);
  for (let i = 0; i < k; i++) v[i * k + i] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += a[p * k + q] ** 2;
    if (off < 1e-18) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const apq = a[p * k + q];
        if (Math.abs(apq) < 1e-15) continue;
        const theta = (a[q * k + q] - a[p * k + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < k; r++) {
          const arp = a[r * k + p];
          const arq = a[r * k + q];
          a[r * k + p] = c * arp - s * arq;
          a[r * k + q] = s * arp + c * arq;
        }
        for (let r = 0; r < k; r++) {
          const apr = a[p * k + r];
          const aqr = a[q * k + r];
          a[p * k + r] = c * apr - s * aqr;
          a[q * k + r] = s * apr + c * aqr;
        }
        for (let r = 0; r < k; r++) {
          const vrp = v[r * k + p];
          const vrq = v[r * k + q];
          v[r * k + p] = c * vrp - s * vrq;
          v[r * k + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const values = new Float64Array(k);
  for (let i = 0; i < k; i++) values[i] = a[i * k + i];
  return { values, vectors: v };
}

/**
 * numItems × dim item vectors (row-major) from the sequences, scaled so the mean row norm is
 * `norm`. Items never seen get zero rows.
 */
export function spectralItemVectors(
  seqs: readonly KeySequence[],
  numItems: number,
  dim: number,
  { window = 3, ...o }: { window?: number; iterations?: number; seed?: number; norm?: number } = {},
): Float32Array {
  return spectralFromPairs(pairsOf(seqs, window), numItems, dim, o);
}

/**
 * The same vectors from summed pair weights (both directions listed): `a[i]` and `b[i]` read
 * together with weight `w[i]`, as the collector sums them from devices' statistics.
 */
export function spectralFromPairLists(
  pairs: { a: Int32Array; b: Int32Array; w: Float32Array },
  numItems: number,
  dim: number,
  o: { iterations?: number; seed?: number; norm?: number } = {},
): Float32Array {
  const visit: PairVisit = (f) => {
    for (let i = 0; i < pairs.a.length; i++) f(pairs.a[i]!, pairs.b[i]!, pairs.w[i]!);
  };
  return spectralFromPairs(visit, numItems, dim, o);
}

function spectralFromPairs(
  visit: PairVisit,
  numItems: number,
  dim: number,
  { iterations = 4, seed = 1, norm = 1 }: { iterations?: number; seed?: number; norm?: number },
): Float32Array {
  const m = cooccurrence(visit, numItems);
  const k = dim + 8;
  const rand = mulberry32(seed ^ 0x5bec);
  let q: Float64Array = Float64Array.from(fillNormal(new Float32Array(numItems * k), rand, 1));
  orthonormalize(q, numItems, k);
  for (let it = 0; it < iterations; it++) {
    q = spmm(m, q, k);
    orthonormalize(q, numItems, k);
  }
  const mq = spmm(m, q, k);
  const small = new Float64Array(k * k);
  for (let i = 0; i < numItems; i++) {
    for (let a = 0; a < k; a++) {
      const qa = q[i * k + a];
      if (qa === 0) continue;
      for (let b = 0; b < k; b++) small[a * k + b] += qa * mq[i * k + b];
    }
  }
  for (let a = 0; a < k; a++)
    for (let b = a + 1; b < k; b++) small[a * k + b] = small[b * k + a] = (small[a * k + b] + small[b * k + a]) / 2;
  const { values, vectors } = jacobi(small, k);
  const order = Array.from(values.keys())
    .sort((x, y) => values[y] - values[x])
    .slice(0, dim);
  const out = new Float32Array(numItems * dim);
  for (let i = 0; i < numItems; i++) {
    for (let d = 0; d < dim; d++) {
      const e = order[d];
      const lam = Math.max(0, values[e]);
      let s = 0;
      for (let a = 0; a < k; a++) s += q[i * k + a] * vectors[a * k + e];
      out[i * dim + d] = s * Math.sqrt(lam);
    }
  }
  let total = 0;
  let rows = 0;
  for (let i = 0; i < numItems; i++) {
    let r = 0;
    for (let d = 0; d < dim; d++) r += out[i * dim + d] ** 2;
    if (r > 0) {
      total += Math.sqrt(r);
      rows++;
    }
  }
  const scale = rows ? norm / (total / rows) : 1;
  for (let i = 0; i < out.length; i++) out[i] *= scale;
  return out;
}
