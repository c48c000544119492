import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom_op';

/**
 * `x @ w + b` for a 2-D `x` `[rows, in]`, kernel `w` `[in, out]` (PyTorch's `weight` transposed)
 * and optional bias `b` `[out]`, with a gradient made of plain 2-D matMuls and explicit
 * transposes: tfjs's built-in matMul gradient uses transposed operands, which leave XNNPACK's fast
 * path on wasm (~10× slower). A `tf.Variable` kernel is read directly in the backward pass rather
 * than saved (saving clones, and on wasm a clone copies: a second copy of every weight would
 * double the memory of a training step). Returns a new `[rows, out]` tensor owned by the caller.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  const saveKernel = !(w instanceof tf.Variable);
  const f = customOp<tf.Tensor2D>(([xi, wi, bi], save) => {
    save(saveKernel ? [xi, wi] : [xi]);
    const value = (
      bi
        ? tf.fused.matMul({ a: xi as tf.Tensor2D, b: wi as tf.Tensor2D, bias: bi })
        : tf.matMul(xi as tf.Tensor2D, wi as tf.Tensor2D)
    ) as tf.Tensor2D;
    return {
      value,
      gradFunc: (dy, saved) => {
        const xs = saved[0] as tf.Tensor2D;
        const ws = (saveKernel ? saved[1] : wi) as tf.Tensor2D;
        const grads: tf.Tensor[] = [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
        if (bi) grads.push(tf.sum(dy, 0));
        return grads;
      },
    };
  });
  return b ? f(x, w, b) : f(x, w);
}
