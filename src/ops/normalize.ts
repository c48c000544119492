/**
 * L2 normalisation of feature rows, the reference's `F.normalize(x, p=2, dim=-1)` (eps 1e-12):
 * once in host memory, once on the backend. The losses keep their own epsilon-free division
 * (`losses/ops.ts`), which is the reference's `x / x.norm(dim=1, keepdim=True)`.
 */
import * as tf from '@tensorflow/tfjs-core';

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

/**
 * {@link l2NormalizeRows} on the backend: each row of `features` `[rows, dim]` divided by
 * `max(‖row‖₂, L2_EPSILON)`. Returns a new float32 tensor owned by the caller; `features` is
 * not disposed.
 */
export function l2NormalizeTensorRows(features: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(features, tf.maximum(tf.norm(features, 'euclidean', 1, true), L2_EPSILON)));
}
