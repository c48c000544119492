/** Host-side L2 normalisation of feature rows. */

/** Smallest norm divided by, as PyTorch's `F.normalize` (eps 1e-12), so a zero row stays zero. */
export const L2_EPSILON = 1e-12;

/**
 * Divides each row of a row-major `[rows, dim]` float32 matrix by its L2 norm, in place — the
 * reference's `F.normalize(x, p=2, dim=-1)`: the norm is accumulated in float64 and each quotient
 * rounded to float32. Returns `features`.
 * @throws Error when the length is not a multiple of `dim`.
 */
export function l2NormalizeRows(features: Float32Array, dim: number): Float32Array {
  if (!Number.isSafeInteger(dim) || dim < 1 || features.length % dim !== 0) {
    throw new Error(`l2NormalizeRows: ${features.length} values are not rows of ${dim}`);
  }
  for (let o = 0; o < features.length; o += dim) {
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += features[o + j] * features[o + j];
    const norm = Math.max(Math.fround(Math.sqrt(sum)), L2_EPSILON);
    for (let j = 0; j < dim; j++) features[o + j] = Math.fround(features[o + j] / norm);
  }
  return features;
}
