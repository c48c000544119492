import * as tf from '@tensorflow/tfjs-core';
import { crossEntropySum, oneHotRows } from './ops';
import { checkMatrix, intLabels } from './validate';

/**
 * Masked language modelling loss, the paper's Implicit Relation Reasoning (IRR) objective: the
 * cross entropy of the MLM head's vocabulary scores at each token position against the original
 * token, averaged over the labelled positions; label 0 marks a position that is not predicted.
 * Same semantics as the reference `compute_mlm` (`CrossEntropyLoss(ignore_index=0)`), except that
 * a batch with no labelled position throws instead of returning NaN.
 *
 * @param scores float32 `[positions, vocab]` scores (flattened over batch and sequence).
 * @param labels int32 `[positions]` original token ids, `0 <= label < vocab`, 0 = ignored: a tensor
 *   (read back once) or an `Int32Array` (checked on the host, nothing read back).
 * @returns a new float32 scalar owned by the caller; every intermediate tensor is disposed.
 * @throws Error naming the argument on a wrong rank, dtype or size, a label out of range, or no
 *   labelled position.
 * @example
 * ```ts
 * const loss = mlmLoss(tf.reshape(logits, [-1, 49408]) as tf.Tensor2D, tf.reshape(mlmLabels, [-1]) as tf.Tensor1D);
 * loss.dispose();
 * ```
 */
export function mlmLoss(scores: tf.Tensor2D, labels: tf.Tensor1D | Int32Array): tf.Scalar {
  const fn = 'mlmLoss';
  checkMatrix(fn, 'scores', scores, '[positions, vocab]');
  const [positions, vocab] = scores.shape;
  const values = intLabels(fn, 'labels', labels, positions, 'scores', vocab, 'vocabulary size (scores.shape[1])');
  let labelled = 0;
  for (const v of values) if (v !== 0) labelled++;
  if (labelled === 0) {
    throw new Error(
      `${fn}: labels has no labelled position (all ${positions} entries are 0, the ignored index); the loss is undefined`,
    );
  }

  return tf.tidy(() => {
    const labelTensor = labels instanceof Int32Array ? tf.tensor1d(labels, 'int32') : labels;
    const keep = tf.reshape(tf.cast(tf.notEqual(labelTensor, 0), 'float32'), [positions, 1]);
    const targets = tf.mul(oneHotRows(labelTensor, vocab), keep) as tf.Tensor2D;
    return crossEntropySum(scores, targets, labelled);
  });
}
