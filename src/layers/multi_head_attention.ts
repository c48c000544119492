import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { attentionCore, causalMask } from '../ops/attention';
import { linear } from '../ops/linear';
import { initSampler } from '../util/random';
import { firstShape, IrraLayer } from './irra_layer';
import {
  applyLinear,
  checkHeads,
  checkPositiveInts,
  constantInit,
  type LayerArgs,
  type LayerWeight,
  type LinearWeights,
  linearEntries,
  normalInit,
  type ReferenceWeight,
  read1d,
  read2d,
  uniformInit,
} from './weights';

/** Options of {@link MultiHeadAttention}. */
export interface MultiHeadAttentionArgs extends LayerArgs {
  /** Model width E (query, key, value and output width). */
  width: number;
  /** Number of heads H; E must be divisible by H. */
  heads: number;
  /** Add a causal mask (-inf above the diagonal), as CLIP's text tower. Default false. */
  causal?: boolean;
  /** Cross-attention: call with `[query, keyValue]` instead of one tensor. Default false. */
  cross?: boolean;
  /** Std of N(0, std²) for `in_proj_weight`; null (default) = PyTorch's xavier-uniform. */
  inProjStd?: number | null;
  /** Std of N(0, std²) for `out_proj.weight`; null (default) = PyTorch's Linear default. */
  outProjStd?: number | null;
  /** Seed of the weight initialization. Default: random. */
  seed?: number;
}

/** Defaults of {@link MultiHeadAttentionArgs}. */
export const MULTI_HEAD_ATTENTION_DEFAULTS = {
  causal: false,
  cross: false,
  inProjStd: null,
  outProjStd: null,
} as const;

/**
 * PyTorch's `nn.MultiheadAttention` (no dropout): a fused q/k/v projection (`in_proj_weight`
 * `[3E, E]` in the reference, stored here as one `[E, 3E]` kernel), scaled dot-product attention
 * per head (queries scaled by 1/√d, d = E/H), and `out_proj`. Self-attention maps `[B, L, E]` →
 * `[B, L, E]`; cross-attention (`cross: true`) maps `[query [B, Lq, E], keyValue [B, Lk, E]]` →
 * `[B, Lq, E]`. Every matMul, forward and backward, is a plain 2-D product (fast on tfjs-wasm).
 *
 * @example
 * ```ts
 * const attn = new MultiHeadAttention({ width: 64, heads: 1 });
 * const y = attn.apply(tf.randomNormal([2, 5, 64])) as tf.Tensor; // [2, 5, 64]
 * ```
 */
export class MultiHeadAttention extends IrraLayer {
  static readonly className = 'irra.MultiHeadAttention';
  readonly width: number;
  readonly heads: number;
  readonly causal: boolean;
  readonly cross: boolean;
  readonly inProjStd: number | null;
  readonly outProjStd: number | null;
  private inProjWeight!: LayerWeight;
  private inProjBias!: LayerWeight;
  private outProj!: LinearWeights;

  constructor(args: MultiHeadAttentionArgs) {
    super(args);
    checkPositiveInts('MultiHeadAttention', args, ['width', 'heads']);
    checkHeads('MultiHeadAttention', args.width, args.heads);
    this.width = args.width;
    this.heads = args.heads;
    this.causal = args.causal ?? MULTI_HEAD_ATTENTION_DEFAULTS.causal;
    this.cross = args.cross ?? MULTI_HEAD_ATTENTION_DEFAULTS.cross;
    this.inProjStd = args.inProjStd ?? MULTI_HEAD_ATTENTION_DEFAULTS.inProjStd;
    this.outProjStd = args.outProjStd ?? MULTI_HEAD_ATTENTION_DEFAULTS.outProjStd;
  }

  /**
   * Creates the float32 weights (input shape ignored) from `seed`: `in_proj_weight` `[E, 3E]`,
   * `in_proj_bias` `[3E]` (zeros), `out_proj.weight` `[E, E]`, `out_proj.bias` `[E]` (zeros).
   */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const e = this.width;
    const rng = initSampler(this.seed);
    const inInit =
      this.inProjStd === null ? uniformInit(rng, Math.sqrt(6 / (e + 3 * e))) : normalInit(rng, this.inProjStd);
    this.inProjWeight = this.addWeight('in_proj_weight', [e, 3 * e], 'float32', inInit);
    this.inProjBias = this.addWeight('in_proj_bias', [3 * e], 'float32', constantInit(0));
    const outInit = this.outProjStd === null ? uniformInit(rng, 1 / Math.sqrt(e)) : normalInit(rng, this.outProjStd);
    this.outProj = this.addLinear('out_proj', e, e, outInit, constantInit(0));
    this.built = true;
  }

  /** The weights under their reference names (`in_proj_weight`, `out_proj.bias`, ...). */
  referenceWeights(): ReferenceWeight[] {
    return [
      { name: 'in_proj_weight', weight: this.inProjWeight, layout: 'linear' },
      { name: 'in_proj_bias', weight: this.inProjBias, layout: 'identity' },
      ...linearEntries('out_proj', this.outProj),
    ];
  }

  /**
   * Self-attention on flattened tokens: `x` `[B · L, E]` → new `[B · L, E]` (caller owns it).
   * The layer must be built.
   */
  selfAttend(x: tf.Tensor2D, batch: number, length: number): tf.Tensor2D {
    return tf.tidy(() => {
      const qkv = linear(x, read2d(this.inProjWeight), read1d(this.inProjBias));
      const mask = this.causal ? causalMask(length) : null;
      const heads = attentionCore(qkv, null, {
        batch,
        heads: this.heads,
        queryLength: length,
        keyLength: length,
        mask,
      });
      return applyLinear(heads, this.outProj);
    });
  }

  /**
   * Cross-attention on flattened tokens: queries `q` `[B · Lq, E]`, keys = values `kv`
   * `[B · Lk, E]` → new `[B · Lq, E]` (caller owns it). The layer must be built.
   */
  crossAttend(q: tf.Tensor2D, kv: tf.Tensor2D, batch: number, queryLength: number, keyLength: number): tf.Tensor2D {
    const e = this.width;
    if (this.causal && queryLength !== keyLength) {
      throw new Error(
        `MultiHeadAttention: a causal mask needs equal query and key lengths, got ${queryLength} and ${keyLength}`,
      );
    }
    return tf.tidy(() => {
      const w = read2d(this.inProjWeight);
      const b = read1d(this.inProjBias);
      const qp = linear(q, tf.slice(w, [0, 0], [e, e]), tf.slice(b, [0], [e]));
      const kvp = linear(kv, tf.slice(w, [0, e], [e, 2 * e]), tf.slice(b, [e], [2 * e]));
      const mask = this.causal ? causalMask(queryLength) : null;
      const heads = attentionCore(qp, kvp, { batch, heads: this.heads, queryLength, keyLength, mask });
      return applyLinear(heads, this.outProj);
    });
  }

  /**
   * Self-attention `[B, L, E]` → new `[B, L, E]`, or (`cross`) `[query [B, Lq, E], keyValue [B, Lk, E]]`
   * → new `[B, Lq, E]`; the caller owns the result. Throws on a wrong input count, last axis or
   * batch mismatch.
   */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (this.cross) {
      if (list.length !== 2) {
        throw new Error(
          `MultiHeadAttention: a cross-attention layer takes [query, keyValue], got ${list.length} tensors`,
        );
      }
      return this.tokenPairFlat(['query', 'keyValue'], list, (q, kv, b, lq, lk) => this.crossAttend(q, kv, b, lq, lk));
    }
    return this.tokensFlat(list[0], (x, b, l) => this.selfAttend(x, b, l));
  }

  /** `[B, L, E]` from the (first) input shape; throws unless it has rank 3. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const first = firstShape(inputShape);
    if (first.length !== 3) {
      throw new Error(`MultiHeadAttention: expected input shape [batch, length, ${this.width}], got [${first}]`);
    }
    return [first[0], first[1], this.width];
  }

  /**
   * The constructor arguments (`width`, `heads`, `causal`, `cross`, `inProjStd`, `outProjStd`, `seed`)
   * for serialization.
   */
  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf(['width', 'heads', 'causal', 'cross', 'inProjStd', 'outProjStd', 'seed']);
  }
}
tf.serialization.registerClass(MultiHeadAttention);
