import * as tf from '@tensorflow/tfjs-core';
import { crossEntropySum, oneHotRows } from './ops';
import { checkMatrixPair, intLabels } from './validate';

/**
 * Identity classification loss (ID, the instance loss of Zheng et al.), one of the paper's three
 * training losses: the mean cross entropy of the image logits and of the text logits (one shared
 * classifier over the person identities) against the identity labels, the two averaged. Same
 * semantics as the reference `compute_id`.
 *
 * @param imageLogits float32 `[batch, classes]` classifier logits of the image features.
 * @param textLogits float32 `[batch, classes]` classifier logits of the text features.
 * @param labels int32 `[batch]` identity class of each pair, `0 <= label < classes`: a tensor (read
 *   back once to check the range) or an `Int32Array` (checked on the host, nothing read back).
 * @returns a new float32 scalar owned by the caller; every intermediate tensor is disposed.
 * @throws Error naming the argument on a wrong rank, dtype or size, or a label out of range.
 * @example
 * ```ts
 * const loss = idLoss(imageLogits, textLogits, labels);
 * loss.dispose();
 * ```
 */
export function idLoss(imageLogits: tf.Tensor2D, textLogits: tf.Tensor2D, labels: tf.Tensor1D | Int32Array): tf.Scalar {
  const fn = 'idLoss';
  checkMatrixPair(fn, 'imageLogits', imageLogits, 'textLogits', textLogits, '[batch, classes]', 'number of classes');
  const [batch, classes] = imageLogits.shape;
  intLabels(fn, 'labels', labels, batch, 'imageLogits', classes, 'number of classes (imageLogits.shape[1])');

  return tf.tidy(() => {
    const targets = oneHotRows(labels instanceof Int32Array ? tf.tensor1d(labels, 'int32') : labels, classes);
    const sum = tf.add(crossEntropySum(imageLogits, targets, batch), crossEntropySum(textLogits, targets, batch));
    return tf.div(sum, 2) as tf.Scalar;
  });
}
