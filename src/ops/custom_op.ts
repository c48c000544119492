import * as tf from '@tensorflow/tfjs-core';

/** The forward half of a {@link customOp}: the value and its gradient function. */
export type CustomOpBody<T extends tf.Tensor> = (
  inputs: tf.Tensor[],
  save: tf.GradSaveFunc,
) => { value: T; gradFunc: (dy: T, saved: tf.Tensor[]) => tf.Tensor[] };

/**
 * `tf.customGrad` with the inputs as one array (typed), so ops can declare hand-written gradients
 * without casts at each call site. The returned function takes the differentiable inputs.
 *
 * Its backward pass frees as it goes: tfjs 4.22 runs a whole backward pass in one `tidy`, so every
 * temporary of every gradient function, every node's saved tensors and every intermediate gradient
 * would otherwise live until the last node is done. Here the gradient function runs in its own
 * tidy, and then the op's saved tensors (private clones made by `save`, used by this node only)
 * are disposed. The numbers are the same; only memory is released earlier. (The output gradient
 * `dy` stays: it may be the caller's own tensor, passed to `tf.grads`.)
 */
export function customOp<T extends tf.Tensor>(body: CustomOpBody<T>): (...inputs: tf.Tensor[]) => T {
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const { value, gradFunc } = body(args.slice(0, -1) as tf.Tensor[], save);
    return {
      value,
      gradFunc: (dy: T, saved: tf.Tensor[]) => {
        const grads = tf.tidy(() => gradFunc(dy, saved));
        tf.dispose(saved.filter((t) => !grads.includes(t)));
        return grads;
      },
    };
  }) as (...inputs: tf.Tensor[]) => T;
}
