import * as tf from '@tensorflow/tfjs-core';
import { columnSum } from './column_sum';
import { customOp } from './custom_op';

/** LayerNorm epsilon of the reference (`nn.LayerNorm` default). */
export const LAYER_NORM_EPSILON = 1e-5;

/**
 * LayerNorm over the last axis of a 2-D `x` `[rows, width]` with scale `gamma` and shift `beta`
 * `[width]` (biased variance, epsilon 1e-5, as PyTorch), with a hand-written gradient that uses
 * only element-wise ops and row/column sums. Returns a new tensor owned by the caller.
 */
export function layerNorm(
  x: tf.Tensor2D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps = LAYER_NORM_EPSILON,
): tf.Tensor2D {
  const f = customOp<tf.Tensor2D>(([xi, g, b], save) => {
    const { mean, variance } = tf.moments(xi, -1, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(tf.sub(xi, mean), rstd);
    save([xhat, rstd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b) as tf.Tensor2D,
      gradFunc: (dy, saved) => {
        const [xh, rs, gs] = saved;
        const dxhat = tf.mul(dy, gs);
        const m1 = tf.mean(dxhat, -1, true);
        const m2 = tf.mean(tf.mul(dxhat, xh), -1, true);
        const dx = tf.mul(rs, tf.sub(tf.sub(dxhat, m1), tf.mul(xh, m2)));
        return [dx, columnSum(tf.mul(dy, xh) as tf.Tensor2D), columnSum(dy)];
      },
    };
  });
  return f(x, gamma, beta);
}
