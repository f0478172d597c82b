/**
 * MurmurHash3 x86 32-bit in its three parts: a 4-byte block's mix, the running hash's step, and the
 * finish. The model hashes ids over UTF-16 code units, the private reports over UTF-8 bytes; both
 * are built from these.
 */

/** A block (or the tail) mixed on its own. */
export function mixK(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

/** The running hash `h` after the mixed block `k`. */
export function step(h: number, k: number): number {
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The finished hash of `len` input units, unsigned 32-bit. */
export function finish(h: number, len: number): number {
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
