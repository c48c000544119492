import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { layerNorm } from '../ops/layer_norm';
import { linear } from '../ops/linear';
import { initSampler } from '../util/random';
import { MultiHeadAttention } from './multi_head_attention';
import { quickGelu } from './quick_gelu';
import {
  checkLastAxis,
  checkPositiveInt,
  constantInit,
  type LayerArgs,
  type LayerNormWeights,
  type LinearWeights,
  layerNormEntries,
  linearEntries,
  normalInit,
  prefixed,
  type ReferenceWeight,
  randomSeed,
  read1d,
  read2d,
  subSeed,
  uniformInit,
} from './weights';

/** Options of {@link ResidualAttentionBlock}. */
export interface ResidualAttentionBlockArgs extends LayerArgs {
  /** Model width E. */
  width: number;
  /** Number of attention heads. */
  heads: number;
  /** Causal self-attention (CLIP's text tower). Default false. */
  causal?: boolean;
  /**
   * CLIP-style initialization stds `{ attn, proj, fc }` (in_proj, out_proj and c_proj, c_fc
   * weights); null (default) = PyTorch's module defaults, as the reference's vision blocks.
   */
  initStd?: { attn: number; proj: number; fc: number } | null;
  /** Seed of the weight initialization. Default: random. */
  seed?: number;
}

/**
 * CLIP's residual attention block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))` with
 * mlp = `c_fc` (E → 4E) → QuickGELU → `c_proj` (4E → E); LayerNorm eps 1e-5. Maps `[B, L, E]` →
 * `[B, L, E]`.
 *
 * @example
 * ```ts
 * const block = new ResidualAttentionBlock({ width: 64, heads: 1 });
 * const y = block.apply(tf.randomNormal([2, 5, 64])) as tf.Tensor;
 * ```
 */
export class ResidualAttentionBlock extends tfl.layers.Layer {
  static readonly className = 'irra.ResidualAttentionBlock';
  readonly width: number;
  readonly heads: number;
  readonly causal: boolean;
  readonly initStd: { attn: number; proj: number; fc: number } | null;
  readonly seed: number;
  readonly attn: MultiHeadAttention;
  private ln1!: LayerNormWeights;
  private ln2!: LayerNormWeights;
  private cFc!: LinearWeights;
  private cProj!: LinearWeights;

  constructor(args: ResidualAttentionBlockArgs) {
    super(args);
    checkPositiveInt('ResidualAttentionBlock', 'width', args.width);
    checkPositiveInt('ResidualAttentionBlock', 'heads', args.heads);
    this.width = args.width;
    this.heads = args.heads;
    this.causal = args.causal ?? false;
    this.initStd = args.initStd ?? null;
    this.seed = args.seed ?? randomSeed();
    this.attn = new MultiHeadAttention({
      width: this.width,
      heads: this.heads,
      causal: this.causal,
      inProjStd: this.initStd?.attn ?? null,
      outProjStd: this.initStd?.proj ?? null,
      seed: subSeed(this.seed, 0),
    });
  }

  /** Also applies to the sub-layers (zero initialization when weights will be loaded anyway). */
  override setFastWeightInitDuringBuild(value: boolean): void {
    super.setFastWeightInitDuringBuild(value);
    this.attn.setFastWeightInitDuringBuild(value);
  }

  /**
   * Creates the float32 weights (input shape ignored) from `seed`: the attention, `ln_1`/`ln_2`
   * (γ = 1, β = 0), `mlp.c_fc` `[E, 4E]` and `mlp.c_proj` `[4E, E]`.
   */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const e = this.width;
    const rng = initSampler(this.seed);
    this.attn.build([null, null, e]);
    this._trainableWeights.push(...this.attn.trainableWeights);
    this.ln1 = {
      gamma: this.addWeight('ln_1.weight', [e], 'float32', constantInit(1)),
      beta: this.addWeight('ln_1.bias', [e], 'float32', constantInit(0)),
    };
    const fcInit = this.initStd ? normalInit(rng, this.initStd.fc) : uniformInit(rng, 1 / Math.sqrt(e));
    this.cFc = {
      kernel: this.addWeight('mlp.c_fc.weight', [e, 4 * e], 'float32', fcInit),
      bias: this.addWeight('mlp.c_fc.bias', [4 * e], 'float32', uniformInit(rng, 1 / Math.sqrt(e))),
    };
    const projInit = this.initStd ? normalInit(rng, this.initStd.proj) : uniformInit(rng, 1 / Math.sqrt(4 * e));
    this.cProj = {
      kernel: this.addWeight('mlp.c_proj.weight', [4 * e, e], 'float32', projInit),
      bias: this.addWeight('mlp.c_proj.bias', [e], 'float32', uniformInit(rng, 1 / Math.sqrt(4 * e))),
    };
    this.ln2 = {
      gamma: this.addWeight('ln_2.weight', [e], 'float32', constantInit(1)),
      beta: this.addWeight('ln_2.bias', [e], 'float32', constantInit(0)),
    };
    this.built = true;
  }

  /** The weights under their reference names, in the reference's order. */
  referenceWeights(): ReferenceWeight[] {
    return [
      ...prefixed('attn', this.attn.referenceWeights()),
      ...layerNormEntries('ln_1', this.ln1),
      ...linearEntries('mlp.c_fc', this.cFc),
      ...linearEntries('mlp.c_proj', this.cProj),
      ...layerNormEntries('ln_2', this.ln2),
    ];
  }

  /** The block on flattened tokens `[B · L, E]` → new `[B · L, E]` (caller owns it). */
  forwardFlat(x: tf.Tensor2D, batch: number, length: number): tf.Tensor2D {
    return tf.tidy(() => {
      const a = this.attn.selfAttend(layerNorm(x, read1d(this.ln1.gamma), read1d(this.ln1.beta)), batch, length);
      const h = tf.add(x, a) as tf.Tensor2D;
      const n = layerNorm(h, read1d(this.ln2.gamma), read1d(this.ln2.beta));
      const m = quickGelu(linear(n, read2d(this.cFc.kernel), read1d(this.cFc.bias))) as tf.Tensor2D;
      return tf.add(h, linear(m, read2d(this.cProj.kernel), read1d(this.cProj.bias))) as tf.Tensor2D;
    });
  }

  /** Float32 `[B, L, E]` → new `[B, L, E]` (caller owns it). Throws unless the last axis is E. */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    checkLastAxis('ResidualAttentionBlock', 'input', x.shape, this.width);
    const [b, l] = x.shape;
    return tf.tidy(() => tf.reshape(this.forwardFlat(tf.reshape(x, [b * l, this.width]), b, l), x.shape));
  }

  /** The input shape, unchanged. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  /** The constructor arguments (`width`, `heads`, `causal`, `initStd`, `seed`) for serialization. */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      width: this.width,
      heads: this.heads,
      causal: this.causal,
      initStd: this.initStd,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(ResidualAttentionBlock);
