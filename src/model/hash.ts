/**
 * String hashing for the item encoder. Ids are hashed into a fixed number of buckets so the model
 * needs no vocabulary: unseen ids still map somewhere, and the weights have a fixed size.
 */
import { finish, mixK, step } from '../lib/murmur';

/** 32-bit MurmurHash3 of the UTF-16 code units of `s` (one code unit a block), seeded. */
export function hash32(s: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < s.length; i++) h = step(h, mixK(s.charCodeAt(i)));
  return finish(h, s.length);
}

/** Seeds of the id hash functions; several independent hashes make full collisions rare. */
export const ID_SEEDS = [0x9747b28c, 0x2f6b7a11, 0x5bd1e995, 0x1b873593] as const;
/** Seed of the topic hash. */
export const TOPIC_SEED = 0x3c6ef372;

/** Small, fast, seeded PRNG (mulberry32); returns a function giving floats in [0, 1). */
export { mulberry32 } from '../lib/random';

/** Standard normal samples from a uniform PRNG (Box–Muller). */
export function fillNormal(out: Float32Array, rand: () => number, std: number): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    const th = 2 * Math.PI * rand();
    out[i] = r * Math.cos(th);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(th);
  }
  return out;
}
