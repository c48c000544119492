import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initSampler } from '../util/random';
import { firstInput, firstShape, IrraLayer } from './irra_layer';
import { quickGelu } from './quick_gelu';
import {
  applyLayerNorm,
  applyLinear,
  checkPositiveInts,
  type LayerArgs,
  type LayerNormWeights,
  type LinearWeights,
  layerNormEntries,
  linearEntries,
  normalInit,
  type ReferenceWeight,
  uniformInit,
} from './weights';

/** Options of {@link MlmHead}. */
export interface MlmHeadArgs extends LayerArgs {
  /** Input width E. */
  width: number;
  /** Vocabulary size (output width). */
  vocabSize: number;
  /** Std of `dense.weight`. Default `(2E)^-½` (the reference's fc_std). */
  denseStd?: number;
  /** Std of `fc.weight`. Default `E^-½ · (2 · 4)^-½` (the reference's proj_std at cmt_depth 4). */
  fcStd?: number;
  /** Seed of the weight initialization. Default: random. */
  seed?: number;
}

/** Depth of the cross-modal transformer that {@link MlmHeadArgs.fcStd}'s default assumes. */
export const MLM_HEAD_DEFAULT_DEPTH = 4;

/**
 * IRRA's MLM head: `dense` (E → E) → QuickGELU → `ln` → `fc` (E → vocab). Maps `[B, L, E]` →
 * vocabulary scores `[B, L, vocab]`.
 *
 * @example
 * ```ts
 * const head = new MlmHead({ width: 64, vocabSize: 100 });
 * const scores = head.apply(tf.randomNormal([2, 8, 64])) as tf.Tensor; // [2, 8, 100]
 * ```
 */
export class MlmHead extends IrraLayer {
  static readonly className = 'irra.MlmHead';
  readonly width: number;
  readonly vocabSize: number;
  readonly denseStd: number;
  readonly fcStd: number;
  private dense!: LinearWeights;
  private ln!: LayerNormWeights;
  private fc!: LinearWeights;

  constructor(args: MlmHeadArgs) {
    super(args);
    checkPositiveInts('MlmHead', args, ['width', 'vocabSize']);
    this.width = args.width;
    this.vocabSize = args.vocabSize;
    this.denseStd = args.denseStd ?? (2 * this.width) ** -0.5;
    this.fcStd = args.fcStd ?? this.width ** -0.5 * (2 * MLM_HEAD_DEFAULT_DEPTH) ** -0.5;
  }

  /**
   * Creates the float32 weights (input shape ignored) from `seed`: `dense` `[E, E]`, `ln` `[E]`,
   * `fc` `[E, vocab]`.
   */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const e = this.width;
    const rng = initSampler(this.seed);
    const bound = 1 / Math.sqrt(e);
    this.dense = this.addLinear('dense', e, e, normalInit(rng, this.denseStd), uniformInit(rng, bound));
    this.ln = this.addLayerNorm('ln', e);
    this.fc = this.addLinear('fc', e, this.vocabSize, normalInit(rng, this.fcStd), uniformInit(rng, bound));
    this.built = true;
  }

  /** The weights under their reference names (`dense.weight`, `ln.bias`, `fc.weight`, ...). */
  referenceWeights(): ReferenceWeight[] {
    return [...linearEntries('dense', this.dense), ...layerNormEntries('ln', this.ln), ...linearEntries('fc', this.fc)];
  }

  /** The head on flattened tokens `[rows, E]` → new scores `[rows, vocab]` (caller owns them). */
  forwardFlat(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const h = quickGelu(applyLinear(x, this.dense)) as tf.Tensor2D;
      return applyLinear(applyLayerNorm(h, this.ln), this.fc);
    });
  }

  /**
   * Float32 `[..., E]` → new vocabulary scores `[..., vocab]` (caller owns them). Throws unless the
   * last axis is E.
   */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = firstInput(inputs);
    if (x.shape[x.rank - 1] !== this.width) {
      throw new Error(`MlmHead: input must have last axis ${this.width}, got shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      const flat = tf.reshape(x, [-1, this.width]) as tf.Tensor2D;
      return tf.reshape(this.forwardFlat(flat), [...x.shape.slice(0, -1), this.vocabSize]);
    });
  }

  /** The input shape with its last axis replaced by `vocabSize`. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return [...firstShape(inputShape).slice(0, -1), this.vocabSize];
  }

  /** The constructor arguments (`width`, `vocabSize`, `denseStd`, `fcStd`, `seed`) for serialization. */
  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf(['width', 'vocabSize', 'denseStd', 'fcStd', 'seed']);
  }
}
tf.serialization.registerClass(MlmHead);
