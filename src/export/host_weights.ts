/**
 * The parameters an ONNX tower needs, copied from the model to host memory in the reference
 * (PyTorch) layout. Read synchronously (`dataSync`, for {@link exportOnnx}) or asynchronously
 * (`await data()`, for backends whose synchronous reads are unreliable, such as webgpu).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { IRRA } from '../model/irra';

/** One parameter on the host: row-major float32 values and the reference shape. */
export interface HostWeight {
  data: Float32Array;
  shape: number[];
}

/** Reference name → host copy of the parameter. */
export type HostWeights = ReadonlyMap<string, HostWeight>;

/** The export parts and the reference-name prefix of the parameters each reads. */
export const PART_PREFIX = { image: 'base_model.visual.', text: 'base_model.' } as const;

/** Whether parameter `name` belongs to tower `part` (the text tower is `base_model.` minus `visual`). */
export function inPart(name: string, part: keyof typeof PART_PREFIX): boolean {
  if (part === 'image') return name.startsWith(PART_PREFIX.image);
  return name.startsWith(PART_PREFIX.text) && !name.startsWith(PART_PREFIX.image);
}

/** The state-dict entries of tower `part`. */
function partEntries(state: Map<string, tf.Tensor>, part: keyof typeof PART_PREFIX): Array<[string, tf.Tensor]> {
  return [...state].filter(([name]) => inPart(name, part));
}

const host = (t: tf.Tensor, values: ArrayLike<number>): HostWeight => ({
  data: new Float32Array(values as Float32Array),
  shape: [...t.shape],
});

/**
 * Host copies of tower `part`'s parameters, read with `dataSync()`. Every tensor that
 * `model.stateDict()` made is disposed (also on failure).
 */
export function hostWeightsSync(model: IRRA, part: keyof typeof PART_PREFIX): Map<string, HostWeight> {
  const state = model.stateDict();
  try {
    return new Map(partEntries(state, part).map(([name, t]) => [name, host(t, t.dataSync())]));
  } finally {
    for (const t of state.values()) t.dispose();
  }
}

/** As {@link hostWeightsSync}, read with `await data()` (every backend, webgpu included). */
export async function hostWeights(model: IRRA, part: keyof typeof PART_PREFIX): Promise<Map<string, HostWeight>> {
  const state = model.stateDict();
  try {
    const entries = partEntries(state, part);
    const values = await Promise.all(entries.map(([, t]) => t.data()));
    return new Map(entries.map(([name, t], i) => [name, host(t, values[i])]));
  } finally {
    for (const t of state.values()) t.dispose();
  }
}
