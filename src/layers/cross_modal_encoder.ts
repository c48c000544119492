import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { firstShape, IrraLayer } from './irra_layer';
import { MultiHeadAttention } from './multi_head_attention';
import { Transformer } from './transformer';
import {
  applyLayerNorm,
  checkPositiveInts,
  type LayerArgs,
  type LayerNormWeights,
  layerNormEntries,
  prefixed,
  type ReferenceWeight,
  subSeed,
} from './weights';

/** Options of {@link CrossModalEncoder}. */
export interface CrossModalEncoderArgs extends LayerArgs {
  /** Width E of both modalities' tokens (IRRA: the embedding width). */
  width: number;
  /** Attention heads of the cross attention and of every block (IRRA: E / 64). */
  heads: number;
  /** Number of residual blocks after the cross attention (IRRA's `cmt_depth`, default 4). */
  depth: number;
  /** Seed of the weight initialization. Default: random. */
  seed?: number;
}

/**
 * IRRA's multimodal interaction encoder (`cross_former`, the paper's IRR fusion):
 * `x = cross_attn(ln_pre_t(text), ln_pre_i(image), ln_pre_i(image))`, then `depth` residual
 * blocks (no mask), then `ln_post`. Takes `[text [B, Lt, E], image [B, Li, E]]` → `[B, Lt, E]`.
 * Weights under the reference's top-level names (`cross_attn.*`, `cross_modal_transformer.*`,
 * `ln_pre_t.*`, `ln_pre_i.*`, `ln_post.*`), initialized as the reference's `build.py`.
 *
 * @example
 * ```ts
 * const enc = new CrossModalEncoder({ width: 64, heads: 1, depth: 1 });
 * const y = enc.apply([tf.randomNormal([2, 8, 64]), tf.randomNormal([2, 9, 64])]) as tf.Tensor; // [2, 8, 64]
 * ```
 */
export class CrossModalEncoder extends IrraLayer {
  static readonly className = 'irra.CrossModalEncoder';
  readonly width: number;
  readonly heads: number;
  readonly depth: number;
  readonly crossAttn: MultiHeadAttention;
  readonly transformer: Transformer;
  private lnPreT!: LayerNormWeights;
  private lnPreI!: LayerNormWeights;
  private lnPost!: LayerNormWeights;

  constructor(args: CrossModalEncoderArgs) {
    super(args);
    checkPositiveInts('CrossModalEncoder', args, ['width', 'heads', 'depth']);
    this.width = args.width;
    this.heads = args.heads;
    this.depth = args.depth;
    const scale = this.width ** -0.5;
    this.crossAttn = this.subLayer(
      new MultiHeadAttention({
        width: this.width,
        heads: this.heads,
        cross: true,
        inProjStd: scale,
        outProjStd: scale * (2 * this.depth) ** -0.5,
        seed: subSeed(this.seed, 0),
      }),
    );
    this.transformer = this.subLayer(
      new Transformer({
        width: this.width,
        layers: this.depth,
        heads: this.heads,
        init: 'clip',
        seed: subSeed(this.seed, 1),
      }),
    );
  }

  /**
   * Creates the weights (input shape ignored): the cross attention, the blocks and the three layer norms
   * (γ = 1, β = 0), all float32.
   */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const e = this.width;
    this.buildSubLayer(this.crossAttn, e);
    this.buildSubLayer(this.transformer, e);
    this.lnPreT = this.addLayerNorm('ln_pre_t', e);
    this.lnPreI = this.addLayerNorm('ln_pre_i', e);
    this.lnPost = this.addLayerNorm('ln_post', e);
    this.built = true;
  }

  /** The weights under their reference names, in the reference's order. */
  referenceWeights(): ReferenceWeight[] {
    return [
      ...prefixed('cross_attn', this.crossAttn.referenceWeights()),
      ...prefixed('cross_modal_transformer', this.transformer.referenceWeights()),
      ...layerNormEntries('ln_pre_t', this.lnPreT),
      ...layerNormEntries('ln_pre_i', this.lnPreI),
      ...layerNormEntries('ln_post', this.lnPost),
    ];
  }

  /**
   * The fusion on flattened tokens: `text` `[B · Lt, E]`, `image` `[B · Li, E]` → new
   * `[B · Lt, E]` (caller owns it).
   */
  forwardFlat(
    text: tf.Tensor2D,
    image: tf.Tensor2D,
    batch: number,
    textLength: number,
    imageLength: number,
  ): tf.Tensor2D {
    return tf.tidy(() => {
      const q = applyLayerNorm(text, this.lnPreT);
      const kv = applyLayerNorm(image, this.lnPreI);
      const x = this.crossAttn.crossAttend(q, kv, batch, textLength, imageLength);
      return applyLayerNorm(this.transformer.forwardFlat(x, batch, textLength), this.lnPost);
    });
  }

  /**
   * `[text [B, Lt, E], image [B, Li, E]]` (float32) → new fused text tokens `[B, Lt, E]` (caller owns
   * them). Throws on a wrong input count, last axis or batch mismatch.
   */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) {
      throw new Error('CrossModalEncoder: expected inputs [text [B, Lt, E], image [B, Li, E]]');
    }
    return this.tokenPairFlat(['text', 'image'], inputs, (t, i, b, lt, li) => this.forwardFlat(t, i, b, lt, li));
  }

  /** `[B, Lt, E]` from the text input shape. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = firstShape(inputShape);
    return [s[0], s[1], this.width];
  }

  /** The constructor arguments (`width`, `heads`, `depth`, `seed`) for serialization. */
  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf(['width', 'heads', 'depth', 'seed']);
  }
}
tf.serialization.registerClass(CrossModalEncoder);
