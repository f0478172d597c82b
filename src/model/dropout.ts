/** Training's dropout masks: the seeded pool of random bytes they are read from, and its size. */

/** Dropout masks come from a pool of random bytes read at random offsets: cheap and seeded. */
export class DropoutPool {
  private bytes: Uint8Array;
  private filled = 0;
  constructor(
    private rand: () => number,
    size: number,
  ) {
    this.bytes = new Uint8Array(size);
  }

  get full(): boolean {
    return this.filled === this.bytes.length;
  }

  /** Draws up to `n` more bytes of the pool, in order: the same pool however it is cut. */
  fill(n = Infinity): void {
    const end = Math.min(this.bytes.length, this.filled + n);
    for (let i = this.filled; i < end; i += 4) {
      const r = (this.rand() * 4294967296) >>> 0;
      this.bytes[i] = r & 255;
      this.bytes[i + 1] = (r >>> 8) & 255;
      this.bytes[i + 2] = (r >>> 16) & 255;
      this.bytes[i + 3] = r >>> 24;
    }
    this.filled = end;
  }

  mask(n: number, rate: number): Float32Array {
    if (!this.full) this.fill();
    const out = new Float32Array(n);
    const keep = 1 / (1 - rate);
    const cut = Math.round(rate * 256);
    let at = Math.floor(this.rand() * this.bytes.length);
    for (let i = 0; i < n; i++) {
      if (at >= this.bytes.length) at = 0;
      out[i] = this.bytes[at++] >= cut ? keep : 0;
    }
    return out;
  }
}

/**
 * Bytes of the dropout pool for a first mask of `n` values: 64× a mask, at most 4 MB. A visitor's
 * own training step (a few thousand values a mask) fills a pool of some 100 KB, and batches of
 * thousands of positions get the full pool.
 */
export const poolSize = (n: number): number => Math.min(1 << 22, 2 ** Math.ceil(Math.log2(Math.max(1024, n * 64))));
