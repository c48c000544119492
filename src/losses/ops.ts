/**
 * Shared tensor arithmetic of the loss functions (internal, not exported from the package).
 * Everything here is differentiable on every backend without gather: targets enter as
 * float32 masks that multiply the log-probabilities.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Each row divided by its Euclidean norm, as `x / x.norm(dim=1, keepdim=True)` does. */
export function l2NormalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.sqrt(tf.sum(tf.square(x), 1, true)));
}

/** `[B, B]` float32 matrix with 1 where `ids[i] == ids[j]`, else 0. */
export function sameIdMask(ids: tf.Tensor1D): tf.Tensor2D {
  const n = ids.shape[0];
  return tf.cast(tf.equal(tf.reshape(ids, [n, 1]), tf.reshape(ids, [1, n])), 'float32') as tf.Tensor2D;
}

/**
 * `mean_i sum_j softmax(logits)_ij * (logSoftmax(logits)_ij - logTarget_ij)`: the KL divergence
 * from each row's predicted distribution to a target distribution whose log is given.
 */
export function meanRowKl(logits: tf.Tensor2D, logTarget: tf.Tensor2D): tf.Scalar {
  const pred = tf.softmax(logits, 1);
  return tf.mean(tf.sum(tf.mul(pred, tf.sub(tf.logSoftmax(logits, 1), logTarget)), 1));
}

/**
 * Cross entropy of each row of `logits` against the one-hot (or masked one-hot) rows of
 * `targets`, summed over rows and divided by `count`.
 */
export function crossEntropySum(logits: tf.Tensor2D, targets: tf.Tensor2D, count: number): tf.Scalar {
  return tf.div(tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits, 1)))), count);
}

/** `[n, depth]` float32 one-hot rows of the int32 `labels`. */
export function oneHotRows(labels: tf.Tensor1D, depth: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(labels, depth), 'float32') as tf.Tensor2D;
}
