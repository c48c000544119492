import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { layerNorm } from '../ops/layer_norm';
import { MultiHeadAttention } from './multi_head_attention';
import { Transformer } from './transformer';
import {
  checkLastAxis,
  checkPositiveInt,
  constantInit,
  type LayerArgs,
  type LayerNormWeights,
  layerNormEntries,
  prefixed,
  type ReferenceWeight,
  randomSeed,
  read1d,
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
export class CrossModalEncoder extends tfl.layers.Layer {
  static readonly className = 'irra.CrossModalEncoder';
  readonly width: number;
  readonly heads: number;
  readonly depth: number;
  readonly seed: number;
  readonly crossAttn: MultiHeadAttention;
  readonly transformer: Transformer;
  private lnPreT!: LayerNormWeights;
  private lnPreI!: LayerNormWeights;
  private lnPost!: LayerNormWeights;

  constructor(args: CrossModalEncoderArgs) {
    super(args);
    for (const k of ['width', 'heads', 'depth'] as const) checkPositiveInt('CrossModalEncoder', k, args[k]);
    this.width = args.width;
    this.heads = args.heads;
    this.depth = args.depth;
    this.seed = args.seed ?? randomSeed();
    const scale = this.width ** -0.5;
    this.crossAttn = new MultiHeadAttention({
      width: this.width,
      heads: this.heads,
      cross: true,
      inProjStd: scale,
      outProjStd: scale * (2 * this.depth) ** -0.5,
      seed: subSeed(this.seed, 0),
    });
    this.transformer = new Transformer({
      width: this.width,
      layers: this.depth,
      heads: this.heads,
      init: 'clip',
      seed: subSeed(this.seed, 1),
    });
  }

  /** Also applies to the sub-layers (zero initialization when weights will be loaded anyway). */
  override setFastWeightInitDuringBuild(value: boolean): void {
    super.setFastWeightInitDuringBuild(value);
    this.crossAttn.setFastWeightInitDuringBuild(value);
    this.transformer.setFastWeightInitDuringBuild(value);
  }

  /**
   * Creates the weights (input shape ignored): the cross attention, the blocks and the three layer norms
   * (γ = 1, β = 0), all float32.
   */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const e = this.width;
    this.crossAttn.build([null, null, e]);
    this.transformer.build([null, null, e]);
    this._trainableWeights.push(...this.crossAttn.trainableWeights, ...this.transformer.trainableWeights);
    const ln = (name: string): LayerNormWeights => ({
      gamma: this.addWeight(`${name}.weight`, [e], 'float32', constantInit(1)),
      beta: this.addWeight(`${name}.bias`, [e], 'float32', constantInit(0)),
    });
    this.lnPreT = ln('ln_pre_t');
    this.lnPreI = ln('ln_pre_i');
    this.lnPost = ln('ln_post');
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
      const q = layerNorm(text, read1d(this.lnPreT.gamma), read1d(this.lnPreT.beta));
      const kv = layerNorm(image, read1d(this.lnPreI.gamma), read1d(this.lnPreI.beta));
      const x = this.crossAttn.crossAttend(q, kv, batch, textLength, imageLength);
      const y = this.transformer.forwardFlat(x, batch, textLength);
      return layerNorm(y, read1d(this.lnPost.gamma), read1d(this.lnPost.beta));
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
    const [t, i] = inputs;
    checkLastAxis('CrossModalEncoder', 'text', t.shape, this.width);
    checkLastAxis('CrossModalEncoder', 'image', i.shape, this.width);
    if (t.shape[0] !== i.shape[0]) {
      throw new Error(
        `CrossModalEncoder: text and image must have the same batch size, got [${t.shape}] and [${i.shape}]`,
      );
    }
    const [b, lt] = t.shape;
    const li = i.shape[1] as number;
    return tf.tidy(() => {
      const out = this.forwardFlat(tf.reshape(t, [b * lt, this.width]), tf.reshape(i, [b * li, this.width]), b, lt, li);
      return tf.reshape(out, [b, lt, this.width]);
    });
  }

  /** `[B, Lt, E]` from the text input shape. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [s[0], s[1], this.width];
  }

  /** The constructor arguments (`width`, `heads`, `depth`, `seed`) for serialization. */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), width: this.width, heads: this.heads, depth: this.depth, seed: this.seed };
  }
}
tf.serialization.registerClass(CrossModalEncoder);
