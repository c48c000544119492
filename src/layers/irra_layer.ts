/**
 * The plumbing every IRRA layer shares (internal, not exported from the package): sub-layers that
 * are built and fast-initialized with their parent, the LayerNorm and Linear weight pairs, the
 * first of a list of inputs, `[B, L, E]` tokens run flattened, and `getConfig` from named fields.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  checkLastAxis,
  constantInit,
  type Initializer,
  type LayerArgs,
  type LayerNormWeights,
  type LinearWeights,
  randomSeed,
} from './weights';

/** The first tensor of a layer's inputs (the tensor itself when it was called with one). */
export function firstInput(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

/** The first shape of a layer's input shapes (the shape itself when it was called with one). */
export function firstShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
  return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
}

/** The base class of the IRRA layers: a tf.layers.Layer with a seed, a width and the helpers above. */
export abstract class IrraLayer extends tfl.layers.Layer {
  /** Seed of the weight initialization (a random one when the constructor got none). */
  readonly seed: number;
  /** Model width E (of the tokens the layer takes). */
  abstract readonly width: number;
  private readonly subLayers: tfl.layers.Layer[] = [];

  constructor(args: LayerArgs & { seed?: number }) {
    super(args);
    this.seed = args.seed ?? randomSeed();
  }

  /** The registered class name without its `irra.` prefix: what error messages start with. */
  protected get layerName(): string {
    return this.getClassName().replace(/^irra\./, '');
  }

  /** Records `layer` as a sub-layer (see {@link IrraLayer.setFastWeightInitDuringBuild}) and returns it. */
  protected subLayer<T extends tfl.layers.Layer>(layer: T): T {
    this.subLayers.push(layer);
    return layer;
  }

  /** Also applies to the sub-layers (zero initialization when weights will be loaded anyway). */
  override setFastWeightInitDuringBuild(value: boolean): void {
    super.setFastWeightInitDuringBuild(value);
    for (const layer of this.subLayers) layer.setFastWeightInitDuringBuild(value);
  }

  /** Builds sub-layer `layer` for tokens of width `width` and appends its trainable weights to this layer's. */
  protected buildSubLayer(layer: tfl.layers.Layer, width: number): void {
    layer.build([null, null, width]);
    this._trainableWeights.push(...layer.trainableWeights);
  }

  /** Adds the float32 weights of a LayerNorm of width `width`: `<prefix>.weight` (1) and `<prefix>.bias` (0). */
  protected addLayerNorm(prefix: string, width: number): LayerNormWeights {
    return {
      gamma: this.addWeight(`${prefix}.weight`, [width], 'float32', constantInit(1)),
      beta: this.addWeight(`${prefix}.bias`, [width], 'float32', constantInit(0)),
    };
  }

  /**
   * Adds the float32 weights of a Linear `inputs → outputs`: `<prefix>.weight` (stored
   * `[inputs, outputs]`, drawn by `kernelInit`) then `<prefix>.bias` `[outputs]` (`biasInit`).
   */
  protected addLinear(
    prefix: string,
    inputs: number,
    outputs: number,
    kernelInit: Initializer,
    biasInit: Initializer,
  ): LinearWeights {
    return {
      kernel: this.addWeight(`${prefix}.weight`, [inputs, outputs], 'float32', kernelInit),
      bias: this.addWeight(`${prefix}.bias`, [outputs], 'float32', biasInit),
    };
  }

  /**
   * Runs `forwardFlat` on float32 tokens `x` `[B, L, width]` flattened to `[B · L, width]` and
   * returns its result as a new `[B, L, width]` (caller owns it). Throws unless the last axis is
   * `width`.
   */
  protected tokensFlat(
    x: tf.Tensor,
    forwardFlat: (flat: tf.Tensor2D, batch: number, length: number) => tf.Tensor2D,
  ): tf.Tensor {
    const width = this.width;
    checkLastAxis(this.layerName, 'input', x.shape, width);
    const [b, l] = x.shape;
    return tf.tidy(() => tf.reshape(forwardFlat(tf.reshape(x, [b * l, width]), b, l), [b, l, width]));
  }

  /**
   * Runs `forwardFlat` on two float32 token inputs, `a` `[B, La, width]` and `b` `[B, Lb, width]`,
   * flattened to `[B · La, width]` and `[B · Lb, width]`, and returns its result as a new
   * `[B, La, width]` (caller owns it). Throws (naming the inputs' `names`) unless both last axes
   * are `width` and the batch sizes agree.
   */
  protected tokenPairFlat(
    names: [string, string],
    [a, b]: tf.Tensor[],
    forwardFlat: (a: tf.Tensor2D, b: tf.Tensor2D, batch: number, lengthA: number, lengthB: number) => tf.Tensor2D,
  ): tf.Tensor {
    const width = this.width;
    const layer = this.layerName;
    checkLastAxis(layer, names[0], a.shape, width);
    checkLastAxis(layer, names[1], b.shape, width);
    if (a.shape[0] !== b.shape[0]) {
      throw new Error(
        `${layer}: ${names[0]} and ${names[1]} must have the same batch size, got [${a.shape}] and [${b.shape}]`,
      );
    }
    const [n, la] = a.shape;
    const lb = b.shape[1] as number;
    return tf.tidy(() => {
      const out = forwardFlat(tf.reshape(a, [n * la, width]), tf.reshape(b, [n * lb, width]), n, la, lb);
      return tf.reshape(out, [n, la, width]);
    });
  }

  /** `super.getConfig()` and this layer's fields `keys`, in that order (the constructor arguments). */
  protected configOf(keys: readonly string[]): tf.serialization.ConfigDict {
    const fields = this as unknown as Record<string, tf.serialization.ConfigDictValue>;
    return { ...super.getConfig(), ...Object.fromEntries(keys.map((k) => [k, fields[k]])) };
  }
}
