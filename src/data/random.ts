/**
 * The data pipeline's random draws. Every random decision (shuffles, identity sampling, flips,
 * crops, erasing, MLM masking) draws from an {@link Rng} passed in by the caller, so a run is
 * reproducible from one seed. The generator itself ({@link Rng}, `seededRng`, `forkRng`) lives in
 * `util/random.ts`; it is re-exported here for the pipeline's modules.
 */
import type { Rng } from '../util/random';

export { forkRng, type Rng, seededRng } from '../util/random';

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
