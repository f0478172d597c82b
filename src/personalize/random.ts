/** Seeded randomness for personalization: the same seed gives the same page, reload after reload. */

/** 32-bit FNV-1a hash of a string. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A seeded generator of numbers in [0, 1) (mulberry32). */
export { mulberry32 as seededRandom } from '../lib/random';
