/**
 * Seeded randomness for the data pipeline. Every random decision (shuffles, identity
 * sampling, flips, crops, erasing, MLM masking) draws from an {@link Rng} passed in by the
 * caller, so a run is reproducible from one seed.
 */
import { mulberry32 } from '../util/random';

/** A source of uniform floats in `[0, 1)` (the shape of `Math.random`). */
export type Rng = () => number;

/**
 * A small, fast, seeded generator (mulberry32) returning floats in `[0, 1)` with 32 bits of
 * resolution. The same seed always yields the same sequence.
 *
 * @param seed any finite number; only its low 32 bits (after truncation) are used.
 * @example
 * const rng = seededRng(42);
 * const x = rng(); // same value on every run
 */
export function seededRng(seed: number): Rng {
  if (!Number.isFinite(seed)) {
    throw new Error(`seededRng: seed must be a finite number, got ${String(seed)}`);
  }
  return mulberry32(seed);
}

/** A new generator seeded from the next draw of `rng` (an independent stream for one task). */
export function forkRng(rng: Rng): Rng {
  return seededRng(Math.floor(rng() * 4294967296));
}

/** A uniform integer in `[low, high)` (torch.randint / Python randrange semantics). */
export function randInt(rng: Rng, low: number, high: number): number {
  return low + Math.floor(rng() * (high - low));
}

/** A uniform float in `[low, high)` (torch.empty(1).uniform_(low, high)). */
export function uniform(rng: Rng, low: number, high: number): number {
  return low + rng() * (high - low);
}

/** Shuffles `items` in place (Fisher–Yates) and returns it. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/** `k` distinct elements of `items` chosen uniformly without replacement (Python `random.sample`). */
export function sampleWithoutReplacement<T>(items: readonly T[], k: number, rng: Rng): T[] {
  const pool = items.slice();
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (pool.length - i));
    const tmp = pool[i];
    pool[i] = pool[j];
    pool[j] = tmp;
  }
  return pool.slice(0, k);
}
