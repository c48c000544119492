/** Synthetic IRRA batches for the benches (fixed content, no randomness but the images' seed). */
import * as tf from '@tensorflow/tfjs-core';
import { type IRRAConfig, irraConfig } from '../src/config';
import type { IRRABatch } from '../src/model';

/** The demo's model (src/cli/demo.ts defaults with the SynthPedes word vocabulary), for the small-model benches. */
export const DEMO_SIZE_CONFIG: IRRAConfig = irraConfig({
  preset: 'tiny',
  imageSize: [64, 24],
  visionPatchSize: 8,
  strideSize: 8,
  visionWidth: 64,
  visionLayers: 2,
  embedDim: 64,
  transformerWidth: 64,
  transformerLayers: 2,
  cmtDepth: 1,
  contextLength: 48,
  vocabSize: 130,
  numClasses: 128,
  lossNames: ['sdm', 'id', 'mlm'],
});

/** `[batch, contextLength]` int32 captions: SOT, 8+ ids, EOT (the last vocabulary ids), zeros. */
export function captionIds(c: IRRAConfig, batch: number, seed: number): tf.Tensor2D {
  const l = c.contextLength;
  const ids = new Int32Array(batch * l);
  const v = c.vocabSize;
  for (let b = 0; b < batch; b++) {
    const len = Math.min(l - 1, 8 + ((b * 7 + seed) % Math.max(1, l - 10)));
    ids[b * l] = v - 2;
    for (let i = 1; i < len; i++) ids[b * l + i] = 1 + ((b * 131 + i * 17 + seed) % (v - 4));
    ids[b * l + len] = v - 1;
  }
  return tf.tensor2d(ids, [batch, l], 'int32');
}

/** A synthetic training batch  (every tensor new; dispose with tf.dispose(Object.values(b))). */
export function trainBatch(c: IRRAConfig, batch: number): IRRABatch {
  const caps = captionIds(c, batch, 0);
  const ids = caps.dataSync();
  const masked = Int32Array.from(ids);
  const labels = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] > 0 && ids[i] < c.vocabSize - 2 && i % 7 === 3) {
      masked[i] = c.vocabSize - 3;
      labels[i] = ids[i];
    }
  }
  const pids = new Int32Array(batch).map((_, i) => Math.floor(i / 2) % c.numClasses);
  return {
    images: tf.randomNormal([batch, c.imageSize[0], c.imageSize[1], 3], 0, 1, 'float32', 1) as tf.Tensor4D,
    captionIds: caps,
    mlmIds: tf.tensor2d(masked, caps.shape, 'int32'),
    mlmLabels: tf.tensor2d(labels, caps.shape, 'int32'),
    pids: tf.tensor1d(pids, 'int32'),
    imageIds: tf.tensor1d(pids, 'int32'),
  };
}
