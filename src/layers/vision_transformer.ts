import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { patchGrid } from '../config';
import { linear } from '../ops/linear';
import { extractPatches } from '../ops/patches';
import { initSampler } from '../util/random';
import { firstInput, firstShape, IrraLayer } from './irra_layer';
import { Transformer } from './transformer';
import {
  applyLayerNorm,
  checkPositiveInt,
  checkPositiveInts,
  type LayerArgs,
  type LayerNormWeights,
  type LayerWeight,
  layerNormEntries,
  normalInit,
  prefixed,
  type ReferenceWeight,
  read2d,
  subSeed,
  uniformInit,
} from './weights';

/** Options of {@link VisionTransformer}. */
export interface VisionTransformerArgs extends LayerArgs {
  /** Input size `[height, width]` in pixels (IRRA: [384, 128]). */
  imageSize: [number, number];
  /** Patch (conv kernel) size. */
  patchSize: number;
  /** Patch stride; smaller than `patchSize` gives overlapping patches. */
  strideSize: number;
  /** Transformer width. */
  width: number;
  /** Number of residual blocks. */
  layers: number;
  /** Number of attention heads. */
  heads: number;
  /** Output (embedding) width of `proj`. */
  outputDim: number;
  /** Seed of the weight initialization. Default: random. */
  seed?: number;
}

/** Number of input channels (RGB). */
export const IMAGE_CHANNELS = 3;

/**
 * CLIP's vision transformer with IRRA's non-square input and patch stride: a bias-free patch
 * embedding `conv1` (kernel `patch`, stride `stride`; computed as im2col + matMul), class token,
 * positional embedding (`ny · nx + 1` rows, `[ny, nx] = patchGrid([H, W], patch, stride)`),
 * `ln_pre`, the transformer, `ln_post` on every token and `@ proj`. Maps NHWC float32 images
 * `[B, H, W, 3]` → tokens `[B, ny · nx + 1, outputDim]`; the global image feature is token 0 ({@link VisionTransformer.pooled}).
 *
 * @example
 * ```ts
 * const vit = new VisionTransformer({ imageSize: [32, 16], patchSize: 8, strideSize: 8, width: 64, layers: 1, heads: 1, outputDim: 32 });
 * const tokens = vit.apply(tf.randomNormal([2, 32, 16, 3])) as tf.Tensor; // [2, 9, 32]
 * ```
 */
export class VisionTransformer extends IrraLayer {
  static readonly className = 'irra.VisionTransformer';
  readonly imageSize: [number, number];
  readonly patchSize: number;
  readonly strideSize: number;
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  readonly outputDim: number;
  /** Patch grid rows. */
  readonly gridY: number;
  /** Patch grid columns. */
  readonly gridX: number;
  readonly transformer: Transformer;
  private conv1!: LayerWeight;
  private classEmbedding!: LayerWeight;
  private positionalEmbedding!: LayerWeight;
  private lnPre!: LayerNormWeights;
  private lnPost!: LayerNormWeights;
  private proj!: LayerWeight;

  constructor(args: VisionTransformerArgs) {
    super(args);
    const n = 'VisionTransformer';
    if (!Array.isArray(args.imageSize) || args.imageSize.length !== 2) {
      throw new Error(`${n}: imageSize must be [height, width], got ${JSON.stringify(args.imageSize)}`);
    }
    checkPositiveInt(n, 'imageSize[0]', args.imageSize[0]);
    checkPositiveInt(n, 'imageSize[1]', args.imageSize[1]);
    checkPositiveInts(n, args, ['patchSize', 'strideSize', 'width', 'layers', 'heads', 'outputDim']);
    if (args.imageSize[0] < args.patchSize || args.imageSize[1] < args.patchSize) {
      throw new Error(`${n}: imageSize [${args.imageSize}] must be at least patchSize ${args.patchSize} on each side`);
    }
    this.imageSize = [args.imageSize[0], args.imageSize[1]];
    this.patchSize = args.patchSize;
    this.strideSize = args.strideSize;
    this.width = args.width;
    this.layers = args.layers;
    this.heads = args.heads;
    this.outputDim = args.outputDim;
    [this.gridY, this.gridX] = patchGrid(this.imageSize, this.patchSize, this.strideSize);
    this.transformer = this.subLayer(
      new Transformer({
        width: this.width,
        layers: this.layers,
        heads: this.heads,
        init: 'torch',
        seed: subSeed(this.seed, 0),
      }),
    );
  }

  /** Tokens per image: `gridY · gridX + 1`. */
  get numTokens(): number {
    return this.gridY * this.gridX + 1;
  }

  /**
   * Creates the float32 weights (input shape ignored) from `seed`: `class_embedding` `[width]`,
   * `positional_embedding` `[numTokens, width]`, `proj` `[width, outputDim]`, `conv1.weight`
   * `[3 · patch², width]`, `ln_pre`, the transformer and `ln_post`.
   */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const w = this.width;
    const rng = initSampler(this.seed);
    const scale = w ** -0.5;
    const p = this.patchSize;
    this.classEmbedding = this.addWeight('class_embedding', [w], 'float32', normalInit(rng, scale));
    this.positionalEmbedding = this.addWeight(
      'positional_embedding',
      [this.numTokens, w],
      'float32',
      normalInit(rng, scale),
    );
    this.proj = this.addWeight('proj', [w, this.outputDim], 'float32', normalInit(rng, scale));
    const fanIn = IMAGE_CHANNELS * p * p;
    this.conv1 = this.addWeight('conv1.weight', [fanIn, w], 'float32', uniformInit(rng, 1 / Math.sqrt(fanIn)));
    this.lnPre = this.addLayerNorm('ln_pre', w);
    this.buildSubLayer(this.transformer, w);
    this.lnPost = this.addLayerNorm('ln_post', w);
    this.built = true;
  }

  /** The weights under their reference names (`conv1.weight`, `transformer.resblocks.0.…`). */
  referenceWeights(): ReferenceWeight[] {
    const p = this.patchSize;
    return [
      { name: 'class_embedding', weight: this.classEmbedding, layout: 'identity' },
      { name: 'positional_embedding', weight: this.positionalEmbedding, layout: 'identity' },
      { name: 'proj', weight: this.proj, layout: 'identity' },
      { name: 'conv1.weight', weight: this.conv1, layout: { conv: [p, p, IMAGE_CHANNELS] } },
      ...layerNormEntries('ln_pre', this.lnPre),
      ...prefixed('transformer', this.transformer.referenceWeights()),
      ...layerNormEntries('ln_post', this.lnPost),
    ];
  }

  /** Throws unless `images` is float32 NHWC `[B, H, W, 3]` of this layer's image size. */
  checkImages(images: tf.Tensor, name = 'images'): void {
    const [h, w] = this.imageSize;
    const want = `float32 NHWC [batch, ${h}, ${w}, ${IMAGE_CHANNELS}]`;
    if (images.rank !== 4) {
      throw new Error(`${name} must be ${want}, got rank ${images.rank} shape [${images.shape}]`);
    }
    const s = images.shape;
    if (s[3] !== IMAGE_CHANNELS || s[1] !== h || s[2] !== w) {
      const hint =
        s[1] === IMAGE_CHANNELS && s[2] === h && s[3] === w ? ' (this looks like NCHW: transpose to NHWC)' : '';
      throw new Error(`${name} must be ${want}, got shape [${s}]${hint}`);
    }
    if (images.dtype !== 'float32') throw new Error(`${name} must be float32, got ${images.dtype}`);
  }

  /**
   * Runs patch embedding, ln_pre and the transformer: returns new flattened tokens
   * `[B · numTokens, width]` before `ln_post` (caller owns them). `images` must be checked.
   */
  trunk(images: tf.Tensor4D): tf.Tensor2D {
    const b = images.shape[0];
    const n = this.numTokens;
    const w = this.width;
    return tf.tidy(() => {
      const patches = extractPatches(images, this.patchSize, this.strideSize);
      const embedded = tf.reshape(linear(patches, read2d(this.conv1)), [b, n - 1, w]);
      const cls = tf.add(tf.zeros([b, 1, w]), tf.reshape(this.classEmbedding.read(), [1, 1, w]));
      const tokens = tf.add(tf.concat([cls, embedded], 1), this.positionalEmbedding.read());
      const x = applyLayerNorm(tf.reshape(tokens, [b * n, w]) as tf.Tensor2D, this.lnPre);
      return this.transformer.forwardFlat(x, b, n);
    });
  }

  /** `ln_post` and `@ proj` on flattened tokens `[rows, width]` → new `[rows, outputDim]`. */
  head(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => linear(applyLayerNorm(x, this.lnPost), read2d(this.proj)));
  }

  /** All tokens `[B, numTokens, outputDim]` of NHWC `images` (new tensor, caller owns it). */
  tokens(images: tf.Tensor4D): tf.Tensor3D {
    this.checkImages(images);
    const b = images.shape[0];
    return tf.tidy(() => tf.reshape(this.head(this.trunk(images)), [b, this.numTokens, this.outputDim]));
  }

  /**
   * Token 0 (the class token) of each image, from flattened tokens `[B · numTokens, dim]` (a
   * {@link VisionTransformer.trunk}, or a {@link VisionTransformer.head} of one) → new `[B, dim]`.
   */
  classTokens(x: tf.Tensor2D): tf.Tensor2D {
    const dim = x.shape[1];
    const b = x.shape[0] / this.numTokens;
    return tf.tidy(
      () =>
        tf.reshape(tf.slice(tf.reshape(x, [b, this.numTokens, dim]), [0, 0, 0], [b, 1, dim]), [b, dim]) as tf.Tensor2D,
    );
  }

  /** The global feature of a {@link VisionTransformer.trunk}: `head(classTokens(trunk))`, new `[B, outputDim]`. */
  pooledFromTrunk(trunk: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.head(this.classTokens(trunk)));
  }

  /** The global feature (token 0) `[B, outputDim]` of NHWC `images` (new tensor, caller owns it). */
  pooled(images: tf.Tensor4D): tf.Tensor2D {
    this.checkImages(images);
    return tf.tidy(() => this.pooledFromTrunk(this.trunk(images)));
  }

  /**
   * {@link VisionTransformer.tokens} of the (first) input: float32 NHWC `[B, H, W, 3]` → new
   * `[B, numTokens, outputDim]` (caller owns it).
   */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.tokens(firstInput(inputs) as tf.Tensor4D);
  }

  /** `[B, numTokens, outputDim]`. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return [firstShape(inputShape)[0], this.numTokens, this.outputDim];
  }

  /**
   * The constructor arguments (`imageSize`, `patchSize`, `strideSize`, `width`, `layers`, `heads`,
   * `outputDim`, `seed`) for serialization.
   */
  override getConfig(): tf.serialization.ConfigDict {
    const keys = ['imageSize', 'patchSize', 'strideSize', 'width', 'layers', 'heads', 'outputDim', 'seed'];
    return { ...this.configOf(keys), imageSize: [...this.imageSize] };
  }
}
tf.serialization.registerClass(VisionTransformer);
