/** FLOP counts of the IRRA workloads and the matMul roofline they are measured against (shared by the benches). */
import * as tf from '@tensorflow/tfjs-core';
import { type IRRAConfig, patchGrid } from '../src/config';
import { trainBatch } from './train_batch';

export function seconds(fn: () => void, repeats: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
export const run = (f: () => tf.Tensor) => () => {
  const out = f();
  out.dataSync();
  out.dispose();
};

/** GFLOP/s of a plain `[rows, width] @ [width, 4 · width]` matMul. */
export function matMulGflops(rows: number, width: number, repeats: number): number {
  const a = tf.randomNormal([rows, width]) as tf.Tensor2D;
  const b = tf.randomNormal([width, 4 * width]) as tf.Tensor2D;
  const s = seconds(
    run(() => tf.matMul(a, b)),
    repeats,
  );
  tf.dispose([a, b]);
  return (2 * rows * width * 4 * width) / s / 1e9;
}

/** Dense matMul FLOPs of one transformer pass over `tokens` tokens of width `w` (per item). */
export function towerFlops(tokens: number, w: number, layers: number): number {
  return layers * (2 * tokens * w * 12 * w + 2 * 2 * tokens * tokens * w);
}
/** Tokens of the image tower: the patch grid and the class token. */
export function imageTokens(c: IRRAConfig): number {
  const [ny, nx] = patchGrid(c.imageSize, c.visionPatchSize, c.strideSize);
  return ny * nx + 1;
}
/** matMul FLOPs of encoding one image (patch embedding, tower, projection of every token). */
export function imageFlops(c: IRRAConfig, allTokens: boolean): number {
  const n = imageTokens(c);
  return (
    2 * (n - 1) * 3 * c.visionPatchSize ** 2 * c.visionWidth +
    towerFlops(n, c.visionWidth, c.visionLayers) +
    2 * (allTokens ? n : 1) * c.visionWidth * c.embedDim
  );
}
/** matMul FLOPs of encoding one caption. */
export function textFlops(c: IRRAConfig, allTokens: boolean): number {
  return (
    towerFlops(c.contextLength, c.transformerWidth, c.transformerLayers) +
    2 * (allTokens ? c.contextLength : 1) * c.transformerWidth * c.embedDim
  );
}
/** matMul FLOPs of the forward pass of one training step (sdm + id + mlm) per item. */
export function trainForwardFlops(c: IRRAConfig, batch: number): number {
  const l = c.contextLength;
  const n = imageTokens(c);
  const e = c.embedDim;
  const cross = 2 * l * e * e + 2 * n * e * 2 * e + 2 * 2 * l * n * e + 2 * l * e * e;
  const fusion = cross + towerFlops(l, e, c.cmtDepth);
  const mlmHead = ((2 * e * e + 2 * e * c.vocabSize) * mlmRows(c, batch)) / batch;
  const classifier = 2 * 2 * e * c.numClasses;
  return imageFlops(c, true) + textFlops(c, false) + textFlops(c, true) + fusion + mlmHead + classifier;
}

/** Labelled MLM positions of {@link trainBatch} (the MLM head scores only those). */
export function mlmRows(c: IRRAConfig, batch: number): number {
  const tb = trainBatch(c, batch);
  const labels = tb.mlmLabels ? (tb.mlmLabels.dataSync() as Int32Array) : new Int32Array(0);
  const n = labels.filter((v) => v !== 0).length;
  tf.dispose(Object.values(tb) as tf.Tensor[]);
  return n;
}
