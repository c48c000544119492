import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom_op';

/**
 * Rows of `table` `[vocab, width]` at int32 `ids` (any shape) → `[...ids.shape, width]`, with a
 * gradient built by `scatterND` (which sums repeated ids). tfjs's own `gather` gradient needs the
 * `UnsortedSegmentSum` kernel, which the wasm backend lacks. Returns a new tensor owned by the
 * caller; `ids` must already be validated to lie in `[0, vocab)`.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  const [vocab, width] = table.shape;
  const flatIds = tf.reshape(ids, [-1]) as tf.Tensor1D;
  const f = customOp<tf.Tensor>(([t], save) => {
    // The ids are saved (not captured): the caller may free them before the backward pass.
    save([flatIds]);
    return {
      value: tf.gather(t, flatIds),
      gradFunc: (dy, saved) => [tf.scatterND(tf.reshape(saved[0], [-1, 1]), dy, [vocab, width])],
    };
  });
  const rows = f(table);
  const out = tf.reshape(rows, [...ids.shape, width]);
  flatIds.dispose();
  rows.dispose();
  return out;
}
