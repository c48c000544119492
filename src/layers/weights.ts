/**
 * Shared weight plumbing of the layers (internal): reference names and layouts, seeded
 * initializers, and the LayerNorm / Linear weight pairs that several layers hold.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { layerNorm } from '../ops/layer_norm';
import { linear } from '../ops/linear';
import type { NormalSampler } from '../util/random';

/** A tfjs-layers weight initializer. */
export type Initializer = ReturnType<typeof tfl.initializers.zeros>;
/** A tfjs-layers weight (what `Layer.addWeight` returns). */
export type LayerWeight = tfl.LayerVariable;

/**
 * How a stored weight relates to the reference (PyTorch) layout: `identity` (same), `linear`
 * (stored `[in, out]`, reference `[out, in]`), or `conv` (stored `[kh · kw · c, out]` in the
 * im2col order of `extractPatches`, reference `[out, c, kh, kw]`).
 */
export type WeightLayout = 'identity' | 'linear' | { conv: [kh: number, kw: number, channels: number] };

/** One weight under its reference name (relative to the layer that holds it). */
export interface ReferenceWeight {
  name: string;
  weight: LayerWeight;
  layout: WeightLayout;
}

/** A stored tensor → a new tensor in the reference layout (caller owns it). */
export function toReferenceLayout(t: tf.Tensor, layout: WeightLayout): tf.Tensor {
  if (layout === 'identity') return tf.clone(t);
  if (layout === 'linear') return tf.transpose(t);
  const [kh, kw, c] = layout.conv;
  return tf.tidy(() => tf.transpose(tf.reshape(t, [kh, kw, c, t.shape[1] as number]), [3, 2, 0, 1]));
}

/** A reference-layout tensor → a new tensor in the stored layout (caller owns it). */
export function fromReferenceLayout(t: tf.Tensor, layout: WeightLayout): tf.Tensor {
  if (layout === 'identity') return tf.clone(t);
  if (layout === 'linear') return tf.transpose(t);
  const [kh, kw, c] = layout.conv;
  return tf.tidy(() => tf.reshape(tf.transpose(t, [2, 3, 1, 0]), [kh * kw * c, t.shape[0]]));
}

let provider: ((shape: number[]) => tf.Tensor) | null = null;

/**
 * Runs `build` with every weight of the reference initializers made by `provide(shape)` instead of
 * a random draw, in the order the layers create them. For models built from existing weights.
 */
export function withWeightProvider<T>(provide: (shape: number[]) => tf.Tensor, build: () => T): T {
  provider = provide;
  try {
    return build();
  } finally {
    provider = null;
  }
}

/**
 * Runs `build` with every weight of the reference initializers allocated without values (no
 * random draw, no zero fill: on wasm the heap pages stay untouched until written), for a model
 * whose every weight is written right afterwards (`IRRA.fromStateDict`). Reading such a weight
 * before writing it is an error of the caller.
 */
export function withUninitializedWeights<T>(build: () => T): T {
  return withWeightProvider(allocateUninitialized, build);
}

/** A float32 tensor whose storage is allocated on the active backend but never written. */
export function allocateUninitialized(shape: number[]): tf.Tensor {
  const backend = tf.backend();
  const dataId = backend.write(null as unknown as Float32Array, shape, 'float32');
  return tf.engine().makeTensorFromDataId(dataId, shape, 'float32', backend);
}

function arrayInit(make: (size: number) => Float32Array): Initializer {
  const init = {
    apply: (shape: number[]) =>
      provider ? provider(shape) : tf.tensor(make(shape.reduce((a, b) => a * b, 1)), shape, 'float32'),
    getClassName: () => 'ReferenceInit',
    getConfig: () => ({}),
  };
  return init as unknown as Initializer;
}

/** N(0, std²) from a seeded stream (drawn when the weight is built). */
export const normalInit = (rng: NormalSampler, std: number): Initializer =>
  arrayInit((n) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
    return out;
  });
/** U(-bound, bound) from a seeded stream (drawn when the weight is built). */
export const uniformInit = (rng: NormalSampler, bound: number): Initializer =>
  arrayInit((n) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (2 * rng.uniform() - 1) * bound;
    return out;
  });
/** A constant. */
export const constantInit = (value: number): Initializer => arrayInit((n) => new Float32Array(n).fill(value));

/** A LayerNorm's weight (γ, init 1) and bias (β, init 0). */
export interface LayerNormWeights {
  gamma: LayerWeight;
  beta: LayerWeight;
}

/** A Linear's kernel (stored `[in, out]`) and bias. */
export interface LinearWeights {
  kernel: LayerWeight;
  bias: LayerWeight;
}

/** LayerNorm (eps 1e-5) of `x` `[rows, E]` with the weights `w` → new `[rows, E]` (caller owns it). */
export const applyLayerNorm = (x: tf.Tensor2D, w: LayerNormWeights): tf.Tensor2D =>
  layerNorm(x, read1d(w.gamma), read1d(w.beta));

/** `x @ kernel + bias` of `x` `[rows, in]` with the Linear weights `w` → new `[rows, out]` (caller owns it). */
export const applyLinear = (x: tf.Tensor2D, w: LinearWeights): tf.Tensor2D =>
  linear(x, read2d(w.kernel), read1d(w.bias));

/** The reference names of a LayerNorm's weights under `prefix`. */
export function layerNormEntries(prefix: string, w: LayerNormWeights): ReferenceWeight[] {
  return [
    { name: `${prefix}.weight`, weight: w.gamma, layout: 'identity' },
    { name: `${prefix}.bias`, weight: w.beta, layout: 'identity' },
  ];
}

/** The reference names of a Linear's weights under `prefix`. */
export function linearEntries(prefix: string, w: LinearWeights): ReferenceWeight[] {
  return [
    { name: `${prefix}.weight`, weight: w.kernel, layout: 'linear' },
    { name: `${prefix}.bias`, weight: w.bias, layout: 'identity' },
  ];
}

/** Prefixes every entry's name with `prefix.`. */
export function prefixed(prefix: string, entries: ReferenceWeight[]): ReferenceWeight[] {
  return entries.map((e) => ({ ...e, name: `${prefix}.${e.name}` }));
}

/** A seed when the caller gave none. */
export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 31);

/** Reads a weight as a typed tensor. */
export const read1d = (w: LayerWeight): tf.Tensor1D => w.read() as tf.Tensor1D;
/** Reads a weight as a typed tensor. */
export const read2d = (w: LayerWeight): tf.Tensor2D => w.read() as tf.Tensor2D;

/** The constructor options every tfjs-layers Layer accepts (name, trainable, ...). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

/** A derived integer seed for sub-layer `index` of a layer seeded with `seed`. */
export const subSeed = (seed: number, index: number): number => ((seed * 1000003 + index * 7919 + 17) >>> 0) % 2 ** 31;

/** Throws a clear error when `value` is not a positive integer. */
export function checkPositiveInt(layer: string, name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${layer}: ${name} must be a positive integer, got ${String(value)}`);
  }
}

/** Throws a clear error naming the first of `keys` whose value in `args` is not a positive integer. */
export function checkPositiveInts<A extends object>(layer: string, args: A, keys: readonly (keyof A & string)[]): void {
  for (const k of keys) checkPositiveInt(layer, k, args[k]);
}

/** Throws a clear error when `width` is not divisible by `heads`. */
export function checkHeads(layer: string, width: number, heads: number): void {
  if (width % heads !== 0) {
    throw new Error(`${layer}: width ${width} must be divisible by heads ${heads}`);
  }
}

/** Throws when a tensor's last axis differs from `width`. */
export function checkLastAxis(layer: string, name: string, shape: readonly (number | null)[], width: number): void {
  if (shape.length !== 3 || shape[2] !== width) {
    throw new Error(`${layer}: ${name} must have shape [batch, length, ${width}], got [${shape.join(', ')}]`);
  }
}
