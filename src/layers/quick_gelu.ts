import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { customOp } from '../ops/custom_op';
import { firstInput } from './irra_layer';

/** The constant of CLIP's QuickGELU, `x · sigmoid(1.702 · x)`. */
export const QUICK_GELU_ALPHA = 1.702;

/**
 * `x · sigmoid(1.702 · x)` on a tensor of any shape; a new tensor owned by the caller. Its
 * gradient `s + 1.702 · x · s · (1 − s)` (s = sigmoid(1.702 · x)) is written by hand so that only
 * `x` is kept for the backward pass (autodiff would keep three more tensors of x's size).
 */
export function quickGelu(x: tf.Tensor): tf.Tensor {
  const f = customOp<tf.Tensor>(([xi], save) => {
    save([xi]);
    return {
      value: tf.tidy(() => tf.mul(xi, tf.sigmoid(tf.mul(xi, QUICK_GELU_ALPHA)))),
      gradFunc: (dy, saved) => {
        const xs = saved[0];
        const s = tf.sigmoid(tf.mul(xs, QUICK_GELU_ALPHA));
        const ds = tf.mul(tf.mul(xs, QUICK_GELU_ALPHA), tf.mul(s, tf.sub(1, s)));
        return [tf.mul(dy, tf.add(s, ds))];
      },
    };
  });
  return f(x);
}

/**
 * CLIP's QuickGELU activation, `x · sigmoid(1.702 · x)` element-wise (the MLP activation of every
 * residual block and of the MLM head). No weights; output shape = input shape.
 *
 * @example
 * ```ts
 * const y = new QuickGELU().apply(tf.tensor([0, 1, -1])) as tf.Tensor;
 * ```
 */
export class QuickGELU extends tfl.layers.Layer {
  static readonly className = 'irra.QuickGELU';

  /** {@link quickGelu} of the (first) input: a new tensor of the same shape, owned by the caller. */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return quickGelu(firstInput(inputs));
  }

  /** The input shape, unchanged. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }
}
tf.serialization.registerClass(QuickGELU);
