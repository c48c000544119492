import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom_op';

/**
 * Gradient checkpointing (activation recomputation) of one differentiable function of a 2-D
 * tensor: returns `fn(x)` while the gradient tape keeps only a copy of `x`; the backward pass runs
 * `fn` again under a nested `tf.grads` to get `dx` and the gradients of `weights`, then frees the
 * recomputed intermediates before the next block's backward pass. The results equal those of
 * calling `fn(x)` directly (the same deterministic ops run twice); the cost is one more forward
 * pass of `fn` per backward pass, the gain that the activations of `fn` are not held during the
 * whole forward pass.
 *
 * `fn` must be deterministic, must read every tensor it differentiates other than `x` from
 * `weights` (typically the block's `tf.Variable`s, read directly rather than saved), and must use
 * every one of them (a weight `fn` ignores would have no gradient). Returns a new tensor owned by
 * the caller.
 */
export function checkpoint(fn: (x: tf.Tensor2D) => tf.Tensor2D, x: tf.Tensor2D, weights: tf.Tensor[]): tf.Tensor2D {
  const f = customOp<tf.Tensor2D>((inputs, save) => {
    save([inputs[0]]);
    return {
      value: tf.tidy(() => fn(inputs[0] as tf.Tensor2D)),
      gradFunc: (dy, saved) => {
        const xs = saved[0] as tf.Tensor2D;
        // A nested tf.grads replaces the engine's active tape and sets it to null when done; the
        // outer backward pass still needs it (it frees its saved tensors from it at the end).
        const state = tf.engine().state;
        const outerTape = state.activeTape;
        try {
          return tf.grads((...args: tf.Tensor[]) => fn(args[0] as tf.Tensor2D))([xs, ...weights], dy);
        } finally {
          state.activeTape = outerTape;
        }
      },
    };
  });
  return f(x, ...weights);
}
