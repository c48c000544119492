import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initSampler } from '../util/random';
import { firstInput, IrraLayer } from './irra_layer';
import { MultiHeadAttention } from './multi_head_attention';
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
  prefixed,
  type ReferenceWeight,
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
export class ResidualAttentionBlock extends IrraLayer {
  static readonly className = 'irra.ResidualAttentionBlock';
  readonly width: number;
  readonly heads: number;
  readonly causal: boolean;
  readonly initStd: { attn: number; proj: number; fc: number } | null;
  readonly attn: MultiHeadAttention;
  private ln1!: LayerNormWeights;
  private ln2!: LayerNormWeights;
  private cFc!: LinearWeights;
  private cProj!: LinearWeights;

  constructor(args: ResidualAttentionBlockArgs) {
    super(args);
    checkPositiveInts('ResidualAttentionBlock', args, ['width', 'heads']);
    this.width = args.width;
    this.heads = args.heads;
    this.causal = args.causal ?? false;
    this.initStd = args.initStd ?? null;
    this.attn = this.subLayer(
      new MultiHeadAttention({
        width: this.width,
        heads: this.heads,
        causal: this.causal,
        inProjStd: this.initStd?.attn ?? null,
        outProjStd: this.initStd?.proj ?? null,
        seed: subSeed(this.seed, 0),
      }),
    );
  }

  /**
   * Creates the float32 weights (input shape ignored) from `seed`: the attention, `ln_1`/`ln_2`
   * (γ = 1, β = 0), `mlp.c_fc` `[E, 4E]` and `mlp.c_proj` `[4E, E]`.
   */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const e = this.width;
    const rng = initSampler(this.seed);
    this.buildSubLayer(this.attn, e);
    this.ln1 = this.addLayerNorm('ln_1', e);
    const fcInit = this.initStd ? normalInit(rng, this.initStd.fc) : uniformInit(rng, 1 / Math.sqrt(e));
    this.cFc = this.addLinear('mlp.c_fc', e, 4 * e, fcInit, uniformInit(rng, 1 / Math.sqrt(e)));
    const projInit = this.initStd ? normalInit(rng, this.initStd.proj) : uniformInit(rng, 1 / Math.sqrt(4 * e));
    this.cProj = this.addLinear('mlp.c_proj', 4 * e, e, projInit, uniformInit(rng, 1 / Math.sqrt(4 * e)));
    this.ln2 = this.addLayerNorm('ln_2', e);
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
      const h = tf.add(x, this.attn.selfAttend(applyLayerNorm(x, this.ln1), batch, length)) as tf.Tensor2D;
      const m = quickGelu(applyLinear(applyLayerNorm(h, this.ln2), this.cFc)) as tf.Tensor2D;
      return tf.add(h, applyLinear(m, this.cProj)) as tf.Tensor2D;
    });
  }

  /** Float32 `[B, L, E]` → new `[B, L, E]` (caller owns it). Throws unless the last axis is E. */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.tokensFlat(firstInput(inputs), (x, b, l) => this.forwardFlat(x, b, l));
  }

  /** The input shape, unchanged. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  /** The constructor arguments (`width`, `heads`, `causal`, `initStd`, `seed`) for serialization. */
  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf(['width', 'heads', 'causal', 'initStd', 'seed']);
  }
}
tf.serialization.registerClass(ResidualAttentionBlock);
