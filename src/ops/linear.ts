import * as tf from '@tensorflow/tfjs-core';
import { columnSum } from './column_sum';
import { customOp } from './custom_op';

/**
 * `x @ w + b` for a 2-D `x` `[rows, in]`, kernel `w` `[in, out]` (PyTorch's `weight` transposed)
 * and optional bias `b` `[out]`, with a gradient made of plain 2-D matMuls and explicit
 * transposes: tfjs's built-in matMul gradient uses transposed operands, which leave XNNPACK's fast
 * path on wasm (docs/performance.md, "Speed"). A `tf.Variable` kernel is read directly in the backward pass rather
 * than saved (saving clones, and on wasm a clone copies: a second copy of every weight would
 * double the memory of a training step). Returns a new `[rows, out]` tensor owned by the caller.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  const saveKernel = !(w instanceof tf.Variable);
  // Under a gradient tape (training), a Variable kernel is multiplied through a transient copy:
  // tfjs-wasm's XNNPACK keeps a packed copy of every right-hand operand until that tensor is
  // disposed, i.e. for a Variable until its next update: as much memory again as the weights (742
  // MB for ViT-B/16), with no reuse in training since every step assigns new values. Encoding
  // (no tape) keeps the cache, which saves the repacking on every call.
  const transient = !saveKernel && tf.engine().state.gradientDepth > 0;
  const f = customOp<tf.Tensor2D>(([xi, wi, bi], save) => {
    save(saveKernel ? [xi, wi] : [xi]);
    const wm = (transient ? tf.clone(wi) : wi) as tf.Tensor2D;
    const value = (
      bi ? tf.fused.matMul({ a: xi as tf.Tensor2D, b: wm, bias: bi }) : tf.matMul(xi as tf.Tensor2D, wm)
    ) as tf.Tensor2D;
    if (transient) wm.dispose();
    return {
      value,
      gradFunc: (dy, saved) => {
        const xs = saved[0] as tf.Tensor2D;
        const ws = (saveKernel ? saved[1] : wi) as tf.Tensor2D;
        const grads: tf.Tensor[] = [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
        if (bi) grads.push(columnSum(dy));
        return grads;
      },
    };
  });
  return b ? f(x, w, b) : f(x, w);
}
