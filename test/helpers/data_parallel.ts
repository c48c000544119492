import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import type { TrainBatch } from '../../src/data/batch';
import { type IRRA, type IRRABatch, totalLoss } from '../../src/model';
import type { ParallelGradients } from '../../src/train/data_parallel';

/** Image ids of the fixture batch's 4 rows (rows 1 and 2 share an image). */
export const IMAGE_IDS = [0, 1, 1, 3];

/** The fixture batch as the trainer takes it (new tensors; `pidsOverride` replaces the pids). */
export function trainBatch(batch: IRRABatch, pidsOverride?: number[]): TrainBatch {
  return {
    pids: Int32Array.from(pidsOverride ?? batch.pids.dataSync()),
    imageIds: Int32Array.from(IMAGE_IDS),
    images: tf.clone(batch.images),
    captionIds: tf.clone(batch.captionIds),
    mlmIds: tf.clone(batch.mlmIds as tf.Tensor2D),
    mlmLabels: tf.clone(batch.mlmLabels as tf.Tensor2D),
  };
}

/** Disposes the tensors of a {@link trainBatch} the trainer did not take. */
export function disposeTrainBatch(b: TrainBatch): void {
  tf.dispose([b.images, b.captionIds, b.mlmIds as tf.Tensor, b.mlmLabels as tf.Tensor]);
}

/** Largest |a − e| over the largest |e|, per parameter; the worst over all parameters. */
export function worstRelative(got: Map<string, Float32Array>, expected: Map<string, Float32Array>): number {
  let worst = 0;
  for (const [name, e] of expected) {
    const a = got.get(name);
    if (!a) throw new Error(`no gradient for ${name}`);
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < e.length; i++) {
      scale = Math.max(scale, Math.abs(e[i]));
      diff = Math.max(diff, Math.abs(a[i] - e[i]));
    }
    worst = Math.max(worst, scale === 0 ? diff : diff / scale);
  }
  return worst;
}

/** Every parameter's values, copied to the host. */
export function parameterValues(model: IRRA): Map<string, Float32Array> {
  return new Map([...model.namedParameters()].map(([k, v]) => [k, Float32Array.from(v.dataSync())]));
}

/** Gradient tensors by parameter name, copied to the host (the tensors stay the caller's). */
export function hostGradients(grads: Map<string, tf.Tensor>): Map<string, Float32Array> {
  return new Map([...grads].map(([k, g]) => [k, Float32Array.from(g.dataSync())]));
}

/** One process: the losses and gradients of the fixture batch with its rows in `order`. */
export function singleProcess(model: IRRA, batch: IRRABatch, order: number[]) {
  const vars = [...model.namedParameters()].filter(([, v]) => v.trainable);
  const values: Record<string, number> = {};
  const rows = tf.tensor1d(order, 'int32');
  const pick = <T extends tf.Tensor>(t: T) => tf.gather(t, rows) as T;
  const permuted = {
    images: pick(batch.images),
    captionIds: pick(batch.captionIds),
    mlmIds: pick(batch.mlmIds as tf.Tensor2D),
    mlmLabels: pick(batch.mlmLabels as tf.Tensor2D),
    pids: pick(batch.pids),
    imageIds: tf.tensor1d(
      order.map((i) => IMAGE_IDS[i]),
      'int32',
    ),
  };
  const single = tf.variableGrads(
    () => {
      const out = model.computeLosses(permuted) as Record<string, tf.Scalar>;
      for (const [k, v] of Object.entries(out)) values[k] = v.dataSync()[0];
      return totalLoss(out);
    },
    vars.map(([, v]) => v),
  );
  const byVar = new Map(vars.map(([k, v]) => [v.name, k]));
  const grads = new Map(
    Object.entries(single.grads).map(([vn, g]) => [byVar.get(vn) as string, Float32Array.from(g.dataSync())]),
  );
  tf.dispose([single.value, ...Object.values(single.grads), rows, ...Object.values(permuted)]);
  return { values, grads };
}

/**
 * Checks two `gradients()` calls of a 2-worker group on the fixture batch against one process:
 * gradients within 1e-5 relative (or one process's own spread under a reordering of the batch, if
 * larger: wasm's bias gradients sum rows in blocks, ~2e-5), the same loss names and values within
 * 1e-5, and the second call identical to the first (workers reload the shared weights). Disposes
 * the calls' gradients; afterwards the tensor count must be `before`. Logs the errors as `label`.
 */
export function expectSingleProcessGradients(
  label: string,
  calls: { first: ParallelGradients; second: ParallelGradients },
  single: { values: Record<string, number>; grads: Map<string, Float32Array> },
  spread: number,
  before: number,
): void {
  const { first, second } = calls;
  const got = hostGradients(first.grads);
  const again = hostGradients(second.grads);
  tf.dispose([...first.grads.values(), ...second.grads.values()]);
  expect(tf.memory().numTensors).toBe(before);
  expect([...got.keys()].sort()).toEqual([...single.grads.keys()].sort());
  const gradError = worstRelative(got, single.grads);
  console.log(
    `${label}: gradients ${gradError.toExponential(2)} rel; ` +
      `one process vs itself on the batch reordered: ${spread.toExponential(2)} rel`,
  );
  expect(gradError).toBeLessThan(Math.max(1e-5, spread));
  expect(Object.keys(first.values)).toEqual(Object.keys(single.values));
  for (const [k, v] of Object.entries(single.values)) {
    expect(Math.abs(first.values[k] - v)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v)));
  }
  expect(worstRelative(again, got)).toBe(0);
  expect(second.values).toEqual(first.values);
}
