import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { embeddingLookup } from '../ops/embedding';
import { linear } from '../ops/linear';
import { initSampler } from '../util/random';
import { firstInput, firstShape, IrraLayer } from './irra_layer';
import { Transformer } from './transformer';
import {
  applyLayerNorm,
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
} from './weights';

/** Options of {@link TextTransformer}. */
export interface TextTransformerArgs extends LayerArgs {
  /** Tokens per caption (CLIP: 77). */
  contextLength: number;
  /** Vocabulary size (CLIP: 49408); the end-of-text id is the largest id. */
  vocabSize: number;
  /** Transformer width. */
  width: number;
  /** Number of residual blocks. */
  layers: number;
  /** Number of attention heads. */
  heads: number;
  /** Output (embedding) width of `text_projection`. */
  outputDim: number;
  /** Seed of the weight initialization. Default: random. */
  seed?: number;
}

/** Validation options of {@link TextTransformer.checkIds}. */
export interface CheckIdsOptions {
  /** Require each row to contain the end-of-text id (`vocabSize - 1`). Default true. */
  requireEot?: boolean;
}

/**
 * CLIP's text transformer: token embedding + positional embedding, a causal transformer,
 * `ln_final` and `@ text_projection`. Maps int32 ids `[B, contextLength]` → tokens
 * `[B, contextLength, outputDim]`; the global text feature is the token at `argmax(ids)` of each
 * row, the end-of-text token ({@link TextTransformer.pooled}).
 *
 * @example
 * ```ts
 * const text = new TextTransformer({ contextLength: 8, vocabSize: 100, width: 64, layers: 1, heads: 1, outputDim: 32 });
 * const tokens = text.apply(tf.tensor2d([[98, 5, 99, 0, 0, 0, 0, 0]], [1, 8], 'int32')) as tf.Tensor; // [1, 8, 32]
 * ```
 */
export class TextTransformer extends IrraLayer {
  static readonly className = 'irra.TextTransformer';
  readonly contextLength: number;
  readonly vocabSize: number;
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  readonly outputDim: number;
  readonly transformer: Transformer;
  private tokenEmbedding!: LayerWeight;
  private positionalEmbedding!: LayerWeight;
  private lnFinal!: LayerNormWeights;
  private textProjection!: LayerWeight;

  constructor(args: TextTransformerArgs) {
    super(args);
    checkPositiveInts('TextTransformer', args, ['contextLength', 'vocabSize', 'width', 'layers', 'heads', 'outputDim']);
    this.contextLength = args.contextLength;
    this.vocabSize = args.vocabSize;
    this.width = args.width;
    this.layers = args.layers;
    this.heads = args.heads;
    this.outputDim = args.outputDim;
    this.transformer = this.subLayer(
      new Transformer({
        width: this.width,
        layers: this.layers,
        heads: this.heads,
        causal: true,
        init: 'clip',
        seed: subSeed(this.seed, 0),
      }),
    );
  }

  /** The end-of-text id: the largest id, `vocabSize - 1`. */
  get eotId(): number {
    return this.vocabSize - 1;
  }

  /**
   * Creates the float32 weights (input shape ignored) from `seed`: `positional_embedding`
   * `[contextLength, width]`, `text_projection` `[width, outputDim]`, the transformer,
   * `token_embedding.weight` `[vocabSize, width]` and `ln_final`.
   */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const w = this.width;
    const rng = initSampler(this.seed);
    this.positionalEmbedding = this.addWeight(
      'positional_embedding',
      [this.contextLength, w],
      'float32',
      normalInit(rng, 0.01),
    );
    this.textProjection = this.addWeight('text_projection', [w, this.outputDim], 'float32', normalInit(rng, w ** -0.5));
    this.buildSubLayer(this.transformer, w);
    this.tokenEmbedding = this.addWeight(
      'token_embedding.weight',
      [this.vocabSize, w],
      'float32',
      normalInit(rng, 0.02),
    );
    this.lnFinal = this.addLayerNorm('ln_final', w);
    this.built = true;
  }

  /** The weights under their reference names (`token_embedding.weight`, `ln_final.bias`, ...). */
  referenceWeights(): ReferenceWeight[] {
    return [
      { name: 'positional_embedding', weight: this.positionalEmbedding, layout: 'identity' },
      { name: 'text_projection', weight: this.textProjection, layout: 'identity' },
      ...prefixed('transformer', this.transformer.referenceWeights()),
      { name: 'token_embedding.weight', weight: this.tokenEmbedding, layout: 'identity' },
      ...layerNormEntries('ln_final', this.lnFinal),
    ];
  }

  /**
   * Throws unless `ids` is int32 `[B, contextLength]` with every id in `[0, vocabSize)` and (by
   * default) an end-of-text id in every row. Returns the ids' values (row-major).
   */
  checkIds(ids: tf.Tensor | Int32Array, name = 'ids', opts: CheckIdsOptions = {}): Int32Array {
    const want = `int32 [batch, ${this.contextLength}]`;
    let v: Int32Array;
    if (ids instanceof Int32Array) {
      // Host ids are checked where they are: no upload, no read-back.
      if (ids.length === 0 || ids.length % this.contextLength !== 0) {
        throw new Error(
          `${name} must be ${want}: an Int32Array of rows of ${this.contextLength} ids, got ${ids.length} ids`,
        );
      }
      v = ids;
    } else {
      if (!(ids instanceof tf.Tensor) || ids.rank !== 2 || ids.shape[1] !== this.contextLength) {
        throw new Error(
          `${name} must be ${want}, got ${ids instanceof tf.Tensor ? `shape [${ids.shape}]` : typeof ids}`,
        );
      }
      if (ids.dtype !== 'int32') throw new Error(`${name} must be int32, got ${ids.dtype}`);
      v = ids.dataSync() as Int32Array;
    }
    for (let i = 0; i < v.length; i++) {
      if (v[i] < 0 || v[i] >= this.vocabSize) {
        const r = Math.floor(i / this.contextLength);
        throw new Error(
          `${name} must hold ids in [0, ${this.vocabSize}) (the vocabulary size), got ${v[i]} at row ${r}, position ${i % this.contextLength}`,
        );
      }
    }
    if (opts.requireEot ?? true) {
      for (let r = 0; r < v.length / this.contextLength; r++) {
        if (!v.subarray(r * this.contextLength, (r + 1) * this.contextLength).includes(this.eotId)) {
          throw new Error(
            `${name} row ${r} has no end-of-text id ${this.eotId} (vocabSize - 1); every caption must end with it within ${this.contextLength} tokens`,
          );
        }
      }
    }
    return v;
  }

  /**
   * Embedding and the causal transformer: returns new flattened tokens `[B · L, width]` before
   * `ln_final` (caller owns them). `ids` must be checked.
   */
  trunk(ids: tf.Tensor2D): tf.Tensor2D {
    const [b, l] = ids.shape;
    const w = this.width;
    return tf.tidy(() => {
      const x = tf.add(embeddingLookup(read2d(this.tokenEmbedding), ids), this.positionalEmbedding.read());
      return this.transformer.forwardFlat(tf.reshape(x, [b * l, w]) as tf.Tensor2D, b, l);
    });
  }

  /** `ln_final` and `@ text_projection` on flattened tokens `[rows, width]` → new `[rows, outputDim]`. */
  head(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => linear(applyLayerNorm(x, this.lnFinal), read2d(this.textProjection)));
  }

  /**
   * `ids` as an int32 `[B, contextLength]` tensor: the tensor itself, or host ids uploaded (call
   * it inside a tidy: an uploaded tensor is the tidy's to dispose). `ids` must be checked.
   */
  idsTensor(ids: TokenIds): tf.Tensor2D {
    return ids instanceof Int32Array
      ? tf.tensor2d(ids, [ids.length / this.contextLength, this.contextLength], 'int32')
      : ids;
  }

  /** All tokens `[B, L, outputDim]` of int32 `ids` (new tensor, caller owns it). */
  tokens(ids: TokenIds, opts: CheckIdsOptions = {}): tf.Tensor3D {
    const v = this.checkIds(ids, 'ids', opts);
    const l = this.contextLength;
    const b = v.length / l;
    return tf.tidy(() => tf.reshape(this.head(this.trunk(this.idsTensor(ids))), [b, l, this.outputDim]));
  }

  /**
   * The token at `argmax(ids)` of each row, `[B, outputDim]` (new tensor, caller owns it). With
   * host ids (`Int32Array`) the end-of-text positions come from host memory: no read-back.
   */
  pooled(ids: TokenIds): tf.Tensor2D {
    const v = this.checkIds(ids, 'ids');
    return tf.tidy(() => this.pooledFromTrunk(this.trunk(this.idsTensor(ids)), v));
  }

  /**
   * The end-of-text token (the first `argmax` of each row of `ids`, the checked ids' values) of
   * flattened tokens `[B · contextLength, dim]` (a {@link TextTransformer.trunk}, or a
   * {@link TextTransformer.head} of one) → new `[B, dim]`.
   */
  endOfTextTokens(x: tf.Tensor2D, ids: Int32Array): tf.Tensor2D {
    const l = this.contextLength;
    const b = ids.length / l;
    return tf.tidy(() => poolAt(tf.reshape(x, [b, l, x.shape[1]]), argmaxRows(ids, b, l)));
  }

  /** The global feature of a {@link TextTransformer.trunk}: `head(endOfTextTokens(trunk, ids))`, new `[B, outputDim]`. */
  pooledFromTrunk(trunk: tf.Tensor2D, ids: Int32Array): tf.Tensor2D {
    return tf.tidy(() => this.head(this.endOfTextTokens(trunk, ids)));
  }

  /**
   * {@link TextTransformer.tokens} of the (first) input: int32 ids `[B, contextLength]` → new
   * `[B, contextLength, outputDim]` (caller owns it).
   */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.tokens(firstInput(inputs) as tf.Tensor2D);
  }

  /** `[B, contextLength, outputDim]`. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return [firstShape(inputShape)[0], this.contextLength, this.outputDim];
  }

  /**
   * The constructor arguments (`contextLength`, `vocabSize`, `width`, `layers`, `heads`, `outputDim`,
   * `seed`) for serialization.
   */
  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf(['contextLength', 'vocabSize', 'width', 'layers', 'heads', 'outputDim', 'seed']);
  }
}
tf.serialization.registerClass(TextTransformer);

/**
 * Token ids: an int32 tensor `[B, contextLength]`, or the same values row-major in an `Int32Array`
 * (what `ClipTokenizer.tokenizeToArray` returns), which is validated in host memory without a
 * synchronous read-back (which stalls webgl and webgpu).
 */
export type TokenIds = tf.Tensor2D | Int32Array;

/** Position of the first largest value of each row of a row-major `[rows, cols]` array. */
function argmaxRows(v: ArrayLike<number>, rows: number, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (v[r * cols + c] > v[r * cols + best]) best = c;
    out.push(best);
  }
  return out;
}

/**
 * Row `positions[b]` of each `x[b]` (`[B, L, W]` → new `[B, W]`), as a one-hot mask multiply and
 * sum so that its gradient needs no gather kernel.
 */
function poolAt(x: tf.Tensor, positions: number[]): tf.Tensor2D {
  const [b, l] = x.shape as number[];
  return tf.tidy(() => {
    const mask = new Float32Array(b * l);
    positions.forEach((p, i) => {
      mask[i * l + p] = 1;
    });
    return tf.sum(tf.mul(x, tf.tensor3d(mask, [b, l, 1])), 1) as tf.Tensor2D;
  });
}
