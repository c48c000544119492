/**
 * A small seeded pseudo-random generator for SynthPedes (mulberry32), with the few draws the
 * generator needs. The dataset must be byte-identical for a seed whatever else the library does:
 * it draws only from the library's one pure `mulberry32` and stateless helpers, never from a
 * shared stream.
 */
import { mulberry32 } from '../../util/random';
import { shuffleInPlace } from '../random';

/** A seeded random stream: every method advances the stream. */
export interface SynthRng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform float in [lo, hi). */
  range(lo: number, hi: number): number;
  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of a non-empty list, uniformly. */
  pick<T>(items: readonly T[]): T;
  /** One element of a non-empty list with probability proportional to its weight. */
  weighted<T>(items: readonly (readonly [T, number])[]): T;
  /** A new array with the items in a uniformly random order (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[];
}

/**
 * Mixes integers into one 32-bit seed (a murmur3-style finaliser per word), so that streams
 * keyed by (seed, purpose, index, ...) are independent of each other and of the draw order.
 */
export function hashSeed(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const w of words) {
    let k = Math.imul(w | 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A mulberry32 stream seeded with `seed` (any integer; only its low 32 bits are used). */
export function createSynthRng(seed: number): SynthRng {
  const next = mulberry32(seed);
  const rng: SynthRng = {
    next,
    range: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
    weighted: (items) => {
      let total = 0;
      for (const [, w] of items) total += w;
      let r = next() * total;
      for (const [item, w] of items) {
        r -= w;
        if (r < 0) return item;
      }
      return items[items.length - 1][0];
    },
    shuffle: (items) => shuffleInPlace(items.slice(), next),
  };
  return rng;
}
