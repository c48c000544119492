import * as tf from '@tensorflow/tfjs-core';

/** The forward half of a {@link customOp}: the value and its gradient function. */
export type CustomOpBody<T extends tf.Tensor> = (
  inputs: tf.Tensor[],
  save: tf.GradSaveFunc,
) => { value: T; gradFunc: (dy: T, saved: tf.Tensor[]) => tf.Tensor[] };

/**
 * `tf.customGrad` with the inputs as one array (typed), so ops can declare hand-written gradients
 * without casts at each call site. The returned function takes the differentiable inputs.
 */
export function customOp<T extends tf.Tensor>(body: CustomOpBody<T>): (...inputs: tf.Tensor[]) => T {
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    return body(args.slice(0, -1) as tf.Tensor[], save);
  }) as (...inputs: tf.Tensor[]) => T;
}
