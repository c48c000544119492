import * as tf from '@tensorflow/tfjs-core';
import { crossEntropySum, l2NormalizeRows } from './ops';
import { checkFeaturePair, checkPositive } from './validate';

/**
 * Image-text contrastive loss (ITC, InfoNCE as in CLIP), a baseline the paper compares against:
 * cosine similarities times `logitScale`, cross entropy with the matching pair (the diagonal) as
 * the class, averaged over image→text and text→image. Same semantics as the reference
 * `compute_itc`; identities are not used, so two pairs of one person count as negatives.
 *
 * @param imageFeats float32 `[batch, dim]` image features (any scale; normalized here).
 * @param textFeats float32 `[batch, dim]` text features; row i is the caption of image i.
 * @param logitScale inverse temperature, finite and > 0.
 * @returns a new float32 scalar owned by the caller; every intermediate tensor is disposed.
 * @throws Error naming the argument on a wrong rank, dtype, batch or feature size, or scale.
 * @example
 * ```ts
 * const loss = itcLoss(imageFeats, textFeats, 50);
 * loss.dispose();
 * ```
 */
export function itcLoss(imageFeats: tf.Tensor2D, textFeats: tf.Tensor2D, logitScale: number): tf.Scalar {
  const fn = 'itcLoss';
  const batch = checkFeaturePair(fn, imageFeats, textFeats);
  checkPositive(fn, 'logitScale', logitScale);

  return tf.tidy(() => {
    const perImage = tf.mul(
      tf.matMul(l2NormalizeRows(imageFeats), l2NormalizeRows(textFeats), false, true),
      logitScale,
    ) as tf.Tensor2D;
    const perText = tf.transpose(perImage) as tf.Tensor2D;
    const diagonal = tf.eye(batch) as tf.Tensor2D;
    const sum = tf.add(crossEntropySum(perImage, diagonal, batch), crossEntropySum(perText, diagonal, batch));
    return tf.div(sum, 2) as tf.Scalar;
  });
}
