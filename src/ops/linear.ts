import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom_op';

/**
 * `x @ w + b` for a 2-D `x` `[rows, in]`, kernel `w` `[in, out]` (PyTorch's `weight` transposed)
 * and optional bias `b` `[out]`, with a gradient made of plain 2-D matMuls and explicit
 * transposes: tfjs's built-in matMul gradient uses transposed operands, which leave XNNPACK's fast
 * path on wasm (~10× slower). Returns a new `[rows, out]` tensor owned by the caller.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (b) {
    const f = customOp<tf.Tensor2D>(([xi, wi, bi], save) => {
      save([xi, wi]);
      const value = tf.fused.matMul({ a: xi as tf.Tensor2D, b: wi as tf.Tensor2D, bias: bi }) as tf.Tensor2D;
      return {
        value,
        gradFunc: (dy, saved) => {
          const [xs, ws] = saved as tf.Tensor2D[];
          return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy), tf.sum(dy, 0)];
        },
      };
    });
    return f(x, w, b);
  }
  const f = customOp<tf.Tensor2D>(([xi, wi], save) => {
    save([xi, wi]);
    return {
      value: tf.matMul(xi as tf.Tensor2D, wi as tf.Tensor2D) as tf.Tensor2D,
      gradFunc: (dy, saved) => {
        const [xs, ws] = saved as tf.Tensor2D[];
        return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
      },
    };
  });
  return f(x, w);
}
