/**
 * A small seedable random source for weight initialization (internal). tfjs's own random ops are
 * seedable per call only; the model needs one reproducible stream per `IRRA.create({ seed })`.
 */

/** Deterministic pseudo-random stream: mulberry32 uniforms, Box–Muller normals. */
export class Rng {
  private state: number;
  private spare: number | null = null;

  /** @param seed any finite number; the same seed gives the same stream. */
  constructor(seed: number) {
    this.state = Math.floor(seed * 2654435761) >>> 0 || 0x9e3779b9;
  }

  /** A uniform number in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

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

  /** A derived independent stream (for sub-layers), deterministic in this stream's state. */
  fork(): Rng {
    return new Rng(this.uniform() * 4294967296 + 1);
  }
}

/** `size` values drawn from N(0, std²). */
export function normalArray(rng: Rng, size: number, std: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.normal() * std;
  return out;
}

/** `size` values drawn from U(-bound, bound). */
export function uniformArray(rng: Rng, size: number, bound: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (2 * rng.uniform() - 1) * bound;
  return out;
}
