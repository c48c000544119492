import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkpoint } from '../ops/checkpoint';
import { firstInput, IrraLayer } from './irra_layer';
import { ResidualAttentionBlock } from './residual_attention_block';
import { checkPositiveInts, type LayerArgs, prefixed, type ReferenceWeight, subSeed } from './weights';

/**
 * Initialization scheme of a {@link Transformer}: `'clip'` = CLIP's `initialize_parameters` (and
 * IRRA's cross-modal init, the same formulas: in_proj N(0, w^-½), out_proj and c_proj
 * N(0, w^-½ · (2·layers)^-½), c_fc N(0, (2w)^-½)); `'torch'` = PyTorch's module defaults (the
 * reference's vision tower, which CLIP's init leaves alone).
 */
export type TransformerInit = 'clip' | 'torch';

/** Options of {@link Transformer}. */
export interface TransformerArgs extends LayerArgs {
  /** Model width. */
  width: number;
  /** Number of residual blocks. */
  layers: number;
  /** Number of attention heads. */
  heads: number;
  /** Causal self-attention in every block. Default false. */
  causal?: boolean;
  /** Initialization scheme. Default `'clip'`. */
  init?: TransformerInit;
  /** Seed of the weight initialization. Default: random. */
  seed?: number;
  /** Recompute each block's activations in the backward pass ({@link checkpoint}). Default false. */
  gradientCheckpointing?: boolean;
}

/** Defaults of {@link TransformerArgs}. */
export const TRANSFORMER_DEFAULTS = { causal: false, init: 'clip', gradientCheckpointing: false } as const;

/**
 * A stack of `layers` {@link ResidualAttentionBlock}s (the reference `Transformer`, weights under
 * `resblocks.<i>.`). Maps `[B, L, width]` → `[B, L, width]`.
 *
 * @example
 * ```ts
 * const t = new Transformer({ width: 64, layers: 2, heads: 1 });
 * const y = t.apply(tf.randomNormal([2, 5, 64])) as tf.Tensor;
 * ```
 */
export class Transformer extends IrraLayer {
  static readonly className = 'irra.Transformer';
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  readonly causal: boolean;
  readonly init: TransformerInit;
  readonly resblocks: ResidualAttentionBlock[];
  /**
   * When true, each block is a {@link checkpoint}: the gradient tape keeps only the block inputs
   * and the backward pass recomputes each block's activations (same results, ~1/3 more compute,
   * far less memory during training). Changeable at any time; no effect without gradients.
   */
  gradientCheckpointing: boolean;

  constructor(args: TransformerArgs) {
    super(args);
    checkPositiveInts('Transformer', args, ['width', 'layers', 'heads']);
    this.width = args.width;
    this.layers = args.layers;
    this.heads = args.heads;
    this.causal = args.causal ?? TRANSFORMER_DEFAULTS.causal;
    this.init = args.init ?? TRANSFORMER_DEFAULTS.init;
    if (this.init !== 'clip' && this.init !== 'torch') {
      throw new Error(`Transformer: init must be 'clip' or 'torch', got ${String(this.init)}`);
    }
    this.gradientCheckpointing = args.gradientCheckpointing ?? TRANSFORMER_DEFAULTS.gradientCheckpointing;
    const scale = this.width ** -0.5;
    const initStd =
      this.init === 'clip'
        ? { attn: scale, proj: scale * (2 * this.layers) ** -0.5, fc: (2 * this.width) ** -0.5 }
        : null;
    this.resblocks = [];
    for (let i = 0; i < this.layers; i++) {
      this.resblocks.push(
        this.subLayer(
          new ResidualAttentionBlock({
            width: this.width,
            heads: this.heads,
            causal: this.causal,
            initStd,
            seed: subSeed(this.seed, i),
          }),
        ),
      );
    }
  }

  /** Builds every block for width `width` (input shape ignored) and collects their weights. */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    for (const block of this.resblocks) this.buildSubLayer(block, this.width);
    this.built = true;
  }

  /** The weights under their reference names (`resblocks.<i>.…`). */
  referenceWeights(): ReferenceWeight[] {
    return this.resblocks.flatMap((b, i) => prefixed(`resblocks.${i}`, b.referenceWeights()));
  }

  /** All blocks on flattened tokens `[B · L, width]` → new `[B · L, width]` (caller owns it). */
  forwardFlat(x: tf.Tensor2D, batch: number, length: number): tf.Tensor2D {
    return tf.tidy(() => {
      let h = x;
      for (const block of this.resblocks) {
        const run = (x: tf.Tensor2D): tf.Tensor2D => block.forwardFlat(x, batch, length);
        h = this.gradientCheckpointing
          ? checkpoint(
              run,
              h,
              block.trainableWeights.map((w) => w.read()),
            )
          : run(h);
      }
      return h;
    });
  }

  /**
   * Float32 `[B, L, width]` → new `[B, L, width]` (caller owns it). Throws unless the last axis is
   * `width`.
   */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.tokensFlat(firstInput(inputs), (x, b, l) => this.forwardFlat(x, b, l));
  }

  /** The input shape, unchanged. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  /**
   * The constructor arguments (`width`, `layers`, `heads`, `causal`, `init`, `seed`,
   * `gradientCheckpointing`) for serialization.
   */
  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf(['width', 'layers', 'heads', 'causal', 'init', 'seed', 'gradientCheckpointing']);
  }
}
tf.serialization.registerClass(Transformer);
