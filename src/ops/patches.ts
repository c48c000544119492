import * as tf from '@tensorflow/tfjs-core';
import { patchGrid } from '../config';

/**
 * im2col for the vision tower's patch embedding: from NHWC `images` `[B, H, W, C]`, every
 * `patch × patch` window at stride `stride` as one row, in (row, column) grid order, each row
 * ordered (kernel row, kernel column, channel). Returns a new `[B · ny · nx, patch² · C]` tensor
 * owned by the caller, with `[ny, nx] = patchGrid([H, W], patch, stride)`.
 * Not differentiable with respect to `images` (images need no gradient); the conv weight's
 * gradient then flows through a plain matMul, since wasm lacks `Conv2DBackpropFilter`.
 */
export function extractPatches(images: tf.Tensor4D, patch: number, stride: number): tf.Tensor2D {
  const [b, h, w, c] = images.shape;
  const [ny, nx] = patchGrid([h, w], patch, stride);
  return tf.tidy(() => {
    if (stride === patch) {
      const cropped =
        h === ny * patch && w === nx * patch ? images : tf.slice(images, [0, 0, 0, 0], [b, ny * patch, nx * patch, c]);
      const rows = tf.reshape(cropped, [b * ny, patch, nx, patch * c]);
      return tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [b * ny * nx, patch * patch * c]);
    }
    const pieces: tf.Tensor[] = [];
    for (let ky = 0; ky < patch; ky++) {
      const rows = tf.stridedSlice(images, [0, ky, 0, 0], [b, ky + (ny - 1) * stride + 1, w, c], [1, stride, 1, 1]);
      for (let kx = 0; kx < patch; kx++) {
        pieces.push(tf.stridedSlice(rows, [0, 0, kx, 0], [b, ny, kx + (nx - 1) * stride + 1, c], [1, 1, stride, 1]));
      }
    }
    return tf.reshape(tf.stack(pieces, 3), [b * ny * nx, patch * patch * c]);
  });
}
