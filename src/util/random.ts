/**
 * The library's one seeded random generator (mulberry32) and everything drawn from it: the
 * uniform stream type {@link Rng} used by the data pipeline, MLM masking and SynthPedes, and the
 * {@link NormalSampler} that initializes weights. Pure JavaScript, no imports: tokenizer, data and
 * layers all sit low in the dependency chain and use it.
 * Changing this file changes every random stream (weights of `IRRA.create({ seed })`, data
 * batches, masking, SynthPedes pixels and captions), which tests and published demo numbers pin.
 */

/** A seeded stream of uniform floats in `[0, 1)` (the shape of `Math.random`). */
export type Rng = () => number;

/**
 * A mulberry32 stream of uniform floats in `[0, 1)` with 32 bits of resolution (32-bit state,
 * period 2³²). The same seed always yields the same sequence. No validation: callers check
 * their seed and name their own argument in the error (see {@link seededRng}).
 *
 * @param seed any number; only `seed >>> 0` (its truncated low 32 bits, 0 for NaN/±Infinity) is used.
 * @example
 * const next = mulberry32(42);
 * const x = next(); // same value on every run
 */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * {@link mulberry32} with its seed checked: a finite number, of which only the low 32 bits
 * (after truncation) are used.
 *
 * @throws if `seed` is not a finite number.
 * @example
 * const rng = seededRng(42);
 * const x = rng(); // same value on every run
 */
export function seededRng(seed: number): Rng {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new Error(`seed: expected a finite number, got ${String(seed)}`);
  }
  return mulberry32(seed);
}

/** A new stream seeded from the next draw of `rng` (an independent stream for one task). */
export function forkRng(rng: Rng): Rng {
  return seededRng(Math.floor(rng() * 4294967296));
}

/**
 * Standard normal draws from a uniform stream (Box–Muller: each pair of uniforms gives two
 * normals, the second kept for the next call). `uniform` draws from the same stream, so uniform
 * and normal draws can interleave reproducibly.
 */
export class NormalSampler {
  private spare: number | null = null;

  /** @param uniform the uniform stream this sampler draws from (and advances). */
  constructor(readonly uniform: Rng) {}

  /** A standard normal number. */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/**
 * The weight-initialization stream of a layer or model seed: the seed is spread over 32 bits
 * (Knuth's multiplicative hash, 0 replaced by the golden-ratio constant) before it seeds
 * {@link mulberry32}, so nearby seeds (`seed`, `seed + 1`, ...) give unrelated weights.
 *
 * @param seed any finite number; the same seed gives the same stream.
 */
export function initSampler(seed: number): NormalSampler {
  return new NormalSampler(mulberry32(Math.floor(seed * 2654435761) >>> 0 || 0x9e3779b9));
}
