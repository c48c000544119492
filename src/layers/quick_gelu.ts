import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** The constant of CLIP's QuickGELU, `x · sigmoid(1.702 · x)`. */
export const QUICK_GELU_ALPHA = 1.702;

/** `x · sigmoid(1.702 · x)` on a tensor of any shape; a new tensor owned by the caller. */
export function quickGelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, QUICK_GELU_ALPHA))));
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
  static readonly className = 'QuickGELU';

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return quickGelu(x);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }
}
tf.serialization.registerClass(QuickGELU);
