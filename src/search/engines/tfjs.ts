/**
 * The tfjs encoder engine: the model itself, on whatever tfjs backend is active.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { IRRA } from '../../model/irra';
import type { EncoderEngine } from '../types';
import { checkIds, checkPixels } from './inputs';

/**
 * An {@link EncoderEngine} over `model` on the active tfjs backend: uploads the host arrays,
 * runs `model.encodeImage` / `model.encodeText` inside `tf.tidy`, and reads the features back
 * with `await data()` (so it works on webgpu too). No tensor outlives a call; `dispose()` frees
 * nothing of the model's, which stays the caller's.
 *
 * @example
 * ```ts
 * const engine = createTfjsEngine(model);
 * const feats = await engine.encodeImages(pixelsNHWC, 2); // Float32Array [2 * embedDim]
 * ```
 */
export function createTfjsEngine(model: IRRA): EncoderEngine {
  const config = model.config;
  const [h, w] = config.imageSize;
  const read = async (out: tf.Tensor): Promise<Float32Array> => {
    try {
      return new Float32Array(await out.data());
    } finally {
      out.dispose();
    }
  };
  return {
    kind: 'tfjs',
    embedDim: config.embedDim,
    async encodeImages(pixels: Float32Array, count: number): Promise<Float32Array> {
      checkPixels('tfjs engine', pixels, count, config);
      if (count === 0) return new Float32Array(0);
      return read(tf.tidy(() => model.encodeImage(tf.tensor4d(pixels, [count, h, w, 3], 'float32'))));
    },
    async encodeTexts(ids: Int32Array, count: number): Promise<Float32Array> {
      checkIds('tfjs engine', ids, count, config);
      if (count === 0) return new Float32Array(0);
      // Host ids: validated and pooled from host memory, so webgl/webgpu never stall on a read-back.
      return read(model.encodeText(ids));
    },
    async dispose(): Promise<void> {},
  };
}
