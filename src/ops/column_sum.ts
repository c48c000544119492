import * as tf from '@tensorflow/tfjs-core';

/**
 * Sum over the rows of a 2-D `x` `[rows, cols]` → new `[cols]` (what a bias or LayerNorm gradient
 * needs), owned by the caller. On wasm it is the product `ones[1, rows] @ x`: tfjs-wasm reduces a
 * non-innermost axis by transposing first, far slower than the product (docs/performance.md, "Speed"),
 * and the product gives the same bits (each column is summed in row order either way; multiplying
 * by 1 is exact; checked on several shapes). Elsewhere it is
 * `tf.sum(x, 0)` (the cpu backend's blocked matMul rounds differently).
 */
export function columnSum(x: tf.Tensor2D): tf.Tensor1D {
  if (tf.getBackend() !== 'wasm') return tf.sum(x, 0) as tf.Tensor1D;
  return tf.tidy(() => {
    const [rows, cols] = x.shape;
    return tf.reshape(tf.matMul(tf.ones([1, rows]), x), [cols]) as tf.Tensor1D;
  });
}
