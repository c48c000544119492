/**
 * The one seeded uniform generator of the library (mulberry32), shared by the data pipeline
 * (`seededRng`), MLM masking (`createRng`) and SynthPedes (`createSynthRng`). Pure JavaScript,
 * no imports: tokenizer and data both sit at the bottom of the dependency chain and use it.
 * Changing this function changes every random stream (data batches, masking, SynthPedes pixels
 * and captions), which tests and published demo numbers pin.
 */

/**
 * A mulberry32 stream of uniform floats in `[0, 1)` with 32 bits of resolution (32-bit state,
 * period 2³²). The same seed always yields the same sequence. No validation: callers check
 * their seed and name their own argument in the error.
 *
 * @param seed any number; only `seed >>> 0` (its truncated low 32 bits, 0 for NaN/±Infinity) is used.
 * @example
 * const next = mulberry32(42);
 * const x = next(); // same value on every run
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
