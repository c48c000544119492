import * as tf from '@tensorflow/tfjs-core';
import { l2NormalizeRows, meanRowKl, sameIdMask } from './ops';
import { checkFeaturePair, checkIntVector, checkNonNegative, checkPositive } from './validate';

/** Defaults of {@link sdmLoss}, as in the reference `compute_sdm`. */
export const SDM_DEFAULTS = {
  /** Target weight of a pair with the same identity but a different image (with `imageIds`). */
  factor: 0.3,
  /** Added to the target distribution before its log, so that zero targets stay finite. */
  epsilon: 1e-8,
} as const;

/** Options of {@link sdmLoss}. */
export interface SdmLossOptions {
  /**
   * int32 `[batch]` image ids. When given, the target of a pair is 1 for the same image, `factor`
   * for the same identity in a different image, 0 otherwise (the reference's soft labels).
   */
  imageIds?: tf.Tensor1D;
  /** Weight of same-identity, different-image pairs; finite, >= 0. Default 0.3. */
  factor?: number;
  /** Added to the target distribution before its log; finite, > 0. Default 1e-8. */
  epsilon?: number;
}

/**
 * Similarity Distribution Matching (SDM), the paper's main alignment loss: the KL divergence from
 * the softmaxed image→text and text→image cosine similarities (times `logitScale`) to the
 * normalized identity-match distribution, summed over rows, averaged over the batch, both
 * directions added. Same semantics as the reference `compute_sdm`, including its normalization
 * of the target by the row sums broadcast along columns.
 *
 * @param imageFeats float32 `[batch, dim]` image features (any scale; normalized here).
 * @param textFeats float32 `[batch, dim]` text features.
 * @param pids int32 `[batch]` identity of each pair.
 * @param logitScale inverse temperature, finite and > 0 (IRRA uses 50).
 * @param opts image ids for soft labels, `factor`, `epsilon` (see {@link SDM_DEFAULTS}).
 * @returns a new float32 scalar owned by the caller; every intermediate tensor is disposed.
 * @throws Error naming the argument on a wrong rank, dtype, batch or feature size, or scale.
 * @example
 * ```ts
 * const loss = sdmLoss(imageFeats, textFeats, pids, 50);
 * loss.dispose();
 * ```
 */
export function sdmLoss(
  imageFeats: tf.Tensor2D,
  textFeats: tf.Tensor2D,
  pids: tf.Tensor1D,
  logitScale: number,
  opts: SdmLossOptions = {},
): tf.Scalar {
  const fn = 'sdmLoss';
  const batch = checkFeaturePair(fn, imageFeats, textFeats, pids);
  if (opts.imageIds !== undefined) checkIntVector(fn, 'opts.imageIds', opts.imageIds, batch, 'imageFeats');
  checkPositive(fn, 'logitScale', logitScale);
  const factor = opts.factor ?? SDM_DEFAULTS.factor;
  const epsilon = opts.epsilon ?? SDM_DEFAULTS.epsilon;
  checkNonNegative(fn, 'opts.factor', factor);
  checkPositive(fn, 'opts.epsilon', epsilon);
  const { imageIds } = opts;

  return tf.tidy(() => {
    let labels = sameIdMask(pids);
    if (imageIds !== undefined) {
      const sameImage = sameIdMask(imageIds);
      labels = tf.add(tf.mul(tf.sub(labels, sameImage), factor), sameImage);
    }
    // The reference divides by `labels.sum(dim=1)`, a [batch] vector that broadcasts along columns.
    const target = tf.div(labels, tf.reshape(tf.sum(labels, 1), [1, batch]));
    const logTarget = tf.log(tf.add(target, epsilon)) as tf.Tensor2D;
    const textToImage = tf.mul(
      tf.matMul(l2NormalizeRows(textFeats), l2NormalizeRows(imageFeats), false, true),
      logitScale,
    ) as tf.Tensor2D;
    const imageToText = tf.transpose(textToImage) as tf.Tensor2D;
    return tf.add(meanRowKl(imageToText, logTarget), meanRowKl(textToImage, logTarget)) as tf.Scalar;
  });
}
