/**
 * Where a caption looks in an image, according to IRRA's fusion encoder: the attention
 * probabilities of its cross-attention (text tokens attending to image tokens), for inspection and
 * for drawing heat maps over retrieved images.
 */
import * as tf from '@tensorflow/tfjs-core';
import { layerNorm } from '../ops/layer_norm';
import { linear } from '../ops/linear';
import type { IRRA } from './irra';

const shapeOf = (t: tf.Tensor): string => `[${t.shape.join(', ')}]`;

/** Checks the arguments shared by both functions; returns the fusion's head count. */
function checkInputs(fn: string, model: IRRA, images: tf.Tensor4D, captionIds: tf.Tensor2D): number {
  if (!model.crossModal) {
    throw new Error(
      `${fn}: model has no fusion encoder (its config's lossNames must include 'mlm', got [${model.config.lossNames.join(', ')}])`,
    );
  }
  if (!(images instanceof tf.Tensor) || images.rank !== 4) {
    throw new Error(
      `${fn}: images must be a float32 NHWC tensor [B, H, W, 3], got ${images instanceof tf.Tensor ? shapeOf(images) : typeof images}`,
    );
  }
  if (!(captionIds instanceof tf.Tensor) || captionIds.rank !== 2) {
    throw new Error(
      `${fn}: captionIds must be an int32 tensor [B, contextLength], got ${captionIds instanceof tf.Tensor ? shapeOf(captionIds) : typeof captionIds}`,
    );
  }
  if (images.shape[0] !== captionIds.shape[0]) {
    throw new Error(
      `${fn}: images and captionIds must have the same batch size, got images ${shapeOf(images)} and captionIds ${shapeOf(captionIds)}`,
    );
  }
  return model.crossModal.heads;
}

/** The softmaxed cross-attention `[B, H, Lt, N]` (inside the caller's tidy). */
function attentionProbabilities(model: IRRA, images: tf.Tensor4D, captionIds: tf.Tensor2D, heads: number): tf.Tensor4D {
  const p = model.namedParameters();
  const param = (name: string) => p.get(name) as tf.Tensor;
  const imageTokens = model.encodeImageTokens(images);
  const textTokens = model.encodeTextTokens(captionIds);
  const [b, n, e] = imageTokens.shape;
  const l = textTokens.shape[1];
  const d = e / heads;
  const w = param('cross_attn.in_proj_weight') as tf.Tensor2D; // stored [E, 3E]: q | k | v columns
  const bias = param('cross_attn.in_proj_bias') as tf.Tensor1D;
  const q = linear(
    layerNorm(
      tf.reshape(textTokens, [b * l, e]),
      param('ln_pre_t.weight') as tf.Tensor1D,
      param('ln_pre_t.bias') as tf.Tensor1D,
    ),
    tf.slice(w, [0, 0], [e, e]),
    tf.slice(bias, [0], [e]),
  );
  const k = linear(
    layerNorm(
      tf.reshape(imageTokens, [b * n, e]),
      param('ln_pre_i.weight') as tf.Tensor1D,
      param('ln_pre_i.bias') as tf.Tensor1D,
    ),
    tf.slice(w, [0, e], [e, e]),
    tf.slice(bias, [e], [e]),
  );
  const qh = tf.transpose(tf.reshape(q, [b, l, heads, d]), [0, 2, 1, 3]);
  const kh = tf.transpose(tf.reshape(k, [b, n, heads, d]), [0, 2, 3, 1]);
  return tf.softmax(tf.matMul(tf.mul(qh, 1 / Math.sqrt(d)), kh)) as tf.Tensor4D;
}

/**
 * The fusion encoder's cross-attention probabilities: queries are the caption's tokens (text tower
 * output → `ln_pre_t` → the query part of `cross_attn.in_proj`), keys the image's tokens (image
 * tower output → `ln_pre_i` → the key part), scaled by 1/√d per head as `nn.MultiheadAttention`,
 * softmaxed over the image tokens. These are exactly the weights `cross_attn` averages the values
 * with in the model's IRR branch.
 *
 * @param model an IRRA whose config has 'mlm' (so it has the fusion encoder).
 * @param images float32 NHWC `[B, H, W, 3]`, normalized as the model expects.
 * @param captionIds int32 `[B, contextLength]` caption ids (padding 0), one caption per image.
 * @returns a new float32 `[B, heads, contextLength, numTokens]` tensor (image token 0 is the class
 *   token; every row over the last axis sums to 1), owned by the caller.
 * @throws Error when the model has no fusion encoder, the batch sizes differ, or the images or ids
 *   do not fit the model (shape, dtype, id range).
 */
export function crossAttentionWeights(model: IRRA, images: tf.Tensor4D, captionIds: tf.Tensor2D): tf.Tensor4D {
  const heads = checkInputs('crossAttentionWeights', model, images, captionIds);
  return tf.tidy(() => attentionProbabilities(model, images, captionIds, heads));
}

/**
 * A heat map of where a caption looks in an image: the fusion encoder's cross-attention
 * ({@link crossAttentionWeights}) averaged over the heads and over the caption's real tokens
 * (every id ≠ 0: start, words, end), with the class token dropped and the patch tokens laid out on
 * the model's patch grid. Each map sums to 1 minus the attention the class token received; scale
 * it as you like for display.
 *
 * @param model an IRRA whose config has 'mlm'.
 * @param images float32 NHWC `[B, H, W, 3]`, normalized as the model expects.
 * @param captionIds int32 `[B, contextLength]`; row i is the caption for image i.
 * @returns a new float32 `[B, gridY, gridX]` tensor (the image tower's patch grid), owned by the
 *   caller.
 * @throws Error as {@link crossAttentionWeights}, and when a row of captionIds holds no token.
 * @example
 * ```ts
 * const maps = crossAttentionMap(model, images, ids); // [B, gridY, gridX]
 * const values = await maps.data();
 * maps.dispose();
 * ```
 */
export function crossAttentionMap(model: IRRA, images: tf.Tensor4D, captionIds: tf.Tensor2D): tf.Tensor3D {
  const heads = checkInputs('crossAttentionMap', model, images, captionIds);
  const [b, l] = captionIds.shape;
  if (captionIds.dtype === 'int32') {
    const ids = captionIds.dataSync();
    for (let r = 0; r < b; r++) {
      let any = false;
      for (let j = 0; j < l && !any; j++) any = ids[r * l + j] !== 0;
      if (!any) throw new Error(`crossAttentionMap: captionIds row ${r} holds no token (all ids are 0)`);
    }
  }
  return tf.tidy(() => {
    const probs = attentionProbabilities(model, images, captionIds, heads);
    const n = probs.shape[3];
    const perToken = tf.mean(probs, 1); // [B, Lt, N]
    const real = tf.expandDims(tf.cast(tf.notEqual(captionIds, 0), 'float32'), 2); // [B, Lt, 1]
    const averaged = tf.div(tf.sum(tf.mul(perToken, real), 1), tf.sum(real, 1)); // [B, N]
    const patches = tf.slice(averaged, [0, 1], [b, n - 1]);
    return tf.reshape(patches, [b, model.visual.gridY, model.visual.gridX]) as tf.Tensor3D;
  });
}
