import * as tf from '@tensorflow/tfjs-core';
import { l2NormalizeRows, meanRowKl, sameIdMask } from './ops';
import { checkFeaturePair, checkPositive } from './validate';

/** Defaults of {@link cmpmLoss}, as in the reference `compute_cmpm`. */
export const CMPM_DEFAULTS = {
  /** Added to the target distribution before its log, so that zero targets stay finite. */
  epsilon: 1e-8,
} as const;

/** Options of {@link cmpmLoss}. */
export interface CmpmLossOptions {
  /** Added to the target distribution before its log; finite, > 0. Default 1e-8. */
  epsilon?: number;
}

/**
 * Cross-Modal Projection Matching loss (CMPM, Zhang & Lu 2018), a baseline the paper compares
 * against: the *unnormalized* features of one modality projected on the normalized features of
 * the other, softmaxed per row, and the KL divergence to the identity-match mask divided by its
 * row norms (broadcast along columns, as the reference does), both directions added. No
 * temperature: the feature norms act as one, so the loss depends on the feature scale. Same
 * semantics as the reference `compute_cmpm`.
 *
 * @param imageFeats float32 `[batch, dim]` image features (their scale matters).
 * @param textFeats float32 `[batch, dim]` text features.
 * @param pids int32 `[batch]` identity of each pair.
 * @param opts `epsilon` (see {@link CMPM_DEFAULTS}).
 * @returns a new float32 scalar owned by the caller; every intermediate tensor is disposed.
 * @throws Error naming the argument on a wrong rank, dtype, batch or feature size, or epsilon.
 * @example
 * ```ts
 * const loss = cmpmLoss(imageFeats, textFeats, pids);
 * loss.dispose();
 * ```
 */
export function cmpmLoss(
  imageFeats: tf.Tensor2D,
  textFeats: tf.Tensor2D,
  pids: tf.Tensor1D,
  opts: CmpmLossOptions = {},
): tf.Scalar {
  const fn = 'cmpmLoss';
  const batch = checkFeaturePair(fn, imageFeats, textFeats, pids);
  const epsilon = opts.epsilon ?? CMPM_DEFAULTS.epsilon;
  checkPositive(fn, 'opts.epsilon', epsilon);

  return tf.tidy(() => {
    const mask = sameIdMask(pids);
    // The reference divides by `mask.norm(dim=1)`, a [batch] vector that broadcasts along columns.
    const target = tf.div(mask, tf.reshape(tf.sqrt(tf.sum(mask, 1)), [1, batch]));
    const logTarget = tf.log(tf.add(target, epsilon)) as tf.Tensor2D;
    const imageToText = tf.matMul(imageFeats, l2NormalizeRows(textFeats), false, true) as tf.Tensor2D;
    const textToImage = tf.matMul(textFeats, l2NormalizeRows(imageFeats), false, true) as tf.Tensor2D;
    return tf.add(meanRowKl(imageToText, logTarget), meanRowKl(textToImage, logTarget)) as tf.Scalar;
  });
}
