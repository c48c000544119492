import * as tf from '@tensorflow/tfjs-core';
import { l2NormalizeTensorRows } from '../ops/normalize';
import { type RankResult, rankAsync } from './rank';

/** What the evaluator needs of a model: the two global encoders (as `IRRA` has them). */
export interface RetrievalEncoder {
  /** Images NHWC float32 (normalized) → global image features `[B, embed]`; the caller owns the result. */
  encodeImage(images: tf.Tensor4D): tf.Tensor2D;
  /** Token ids int32 `[B, contextLength]` → global text features `[B, embed]`; the caller owns the result. */
  encodeText(ids: tf.Tensor2D): tf.Tensor2D;
}

/** One batch of text queries. The evaluator takes ownership of `captionIds` and disposes it. */
export interface CaptionBatch {
  /** Person id of each caption, length B. */
  pids: Int32Array | readonly number[];
  /** Token ids, int32 `[B, contextLength]`. */
  captionIds: tf.Tensor2D;
}

/** One batch of gallery images. The evaluator takes ownership of `images` and disposes it. */
export interface ImageBatch {
  /** Person id of each image, length B. */
  pids: Int32Array | readonly number[];
  /** Normalized images, float32 NHWC `[B, H, W, 3]`. */
  images: tf.Tensor4D;
}

/** A source of batches: an array, a generator, or an async generator (e.g. a prefetching loader). */
export type BatchSource<T> = Iterable<T> | AsyncIterable<T> | (() => Iterable<T> | AsyncIterable<T>);

/** Test data of a retrieval benchmark: text queries and the image gallery, both streamed in batches. */
export interface EvaluationData {
  captions: BatchSource<CaptionBatch>;
  gallery: BatchSource<ImageBatch>;
}

/** Defaults of {@link Evaluator}: CMC length, query rows per similarity chunk, whether i2t is computed. */
export const EVALUATOR_DEFAULTS = { maxRank: 10, similarityChunk: 1024, i2t: false } as const;

/** Options of {@link Evaluator}. */
export interface EvaluatorOptions {
  /** Length of the CMC curves (default 10, as the reference); cut at the gallery size when that is smaller. */
  maxRank?: number;
  /** Query rows of the similarity computed per matMul (default 1024); memory only, never results. */
  similarityChunk?: number;
  /** Also rank image→text (the reference's `i2t_metric`); default false. */
  i2t?: boolean;
}

/** Results of one evaluation: text→image always, image→text when requested; numbers in percent. */
export interface EvaluationResult {
  t2i: RankResult;
  i2t?: RankResult;
  /** Number of text queries and gallery images evaluated. */
  numQueries: number;
  numGallery: number;
}

async function* iterate<T>(source: BatchSource<T>): AsyncGenerator<T> {
  const it = typeof source === 'function' ? source() : source;
  for await (const x of it as AsyncIterable<T>) yield x;
}

/** Encodes every batch of `source` with `encode`, L2-normalizes and stacks the features on the backend. */
async function encodeAll<T extends { pids: Int32Array | readonly number[] }>(
  source: BatchSource<T>,
  input: (b: T) => tf.Tensor,
  encode: (x: tf.Tensor) => tf.Tensor2D,
  what: string,
): Promise<{ feats: tf.Tensor2D; pids: Int32Array }> {
  const parts: tf.Tensor2D[] = [];
  const pids: number[] = [];
  try {
    for await (const batch of iterate(source)) {
      const x = input(batch);
      try {
        if (x.shape[0] !== batch.pids.length) {
          throw new Error(`Evaluator: a ${what} batch has ${x.shape[0]} rows but ${batch.pids.length} pids`);
        }
        parts.push(tf.tidy(() => l2NormalizeTensorRows(encode(x))));
        for (const p of batch.pids) pids.push(p);
      } finally {
        x.dispose();
      }
    }
    if (parts.length === 0) throw new Error(`Evaluator: the ${what} source yielded no batches`);
    const feats = parts.length === 1 ? (tf.clone(parts[0]) as tf.Tensor2D) : (tf.concat(parts, 0) as tf.Tensor2D);
    return { feats, pids: Int32Array.from(pids) };
  } finally {
    for (const p of parts) p.dispose();
  }
}

/**
 * Evaluates text-to-image retrieval as the reference's `utils/metrics.py` `Evaluator` does:
 * encodes every caption and gallery image in batches (never holding all gallery images at once,
 * only their features), L2-normalizes the features, builds the cosine similarity
 * `[numQueries, numGallery]` in row chunks, and ranks it with {@link rankAsync} for text→image
 * (and image→text on request, reading the same matrix column-wise). At most two `[q, g]`
 * float32 matrices exist at once. No tensors are left behind.
 *
 * @example
 * ```ts
 * const evaluator = new Evaluator({ captions: captionBatches, gallery: imageBatches }, { i2t: true });
 * const result = await evaluator.evaluate(model);
 * console.log(Evaluator.formatTable(result));
 * ```
 */
export class Evaluator {
  private readonly opts: Required<EvaluatorOptions>;

  constructor(
    private readonly data: EvaluationData,
    opts: EvaluatorOptions = {},
  ) {
    this.opts = { ...EVALUATOR_DEFAULTS, ...opts };
    if (!Number.isInteger(this.opts.similarityChunk) || this.opts.similarityChunk < 1) {
      throw new Error(`Evaluator: similarityChunk must be a positive integer, got ${opts.similarityChunk}`);
    }
  }

  /** Runs the evaluation on `model`; resolves to plain numbers (percent). */
  async evaluate(model: RetrievalEncoder): Promise<EvaluationResult> {
    const text = await encodeAll(
      this.data.captions,
      (b: CaptionBatch) => b.captionIds,
      (x) => model.encodeText(x as tf.Tensor2D),
      'caption',
    );
    let image: { feats: tf.Tensor2D; pids: Int32Array } | undefined;
    let similarity: tf.Tensor2D | undefined;
    try {
      image = await encodeAll(
        this.data.gallery,
        (b: ImageBatch) => b.images,
        (x) => model.encodeImage(x as tf.Tensor4D),
        'gallery image',
      );
      const g = image.feats;
      similarity = similarityInChunks(text.feats, g, this.opts.similarityChunk);
      // The CMC is cut at the gallery size when the gallery is smaller than maxRank.
      const t2i = await rankAsync(similarity, text.pids, image.pids, {
        maxRank: Math.min(this.opts.maxRank, image.pids.length),
      });
      let i2t: RankResult | undefined;
      if (this.opts.i2t) {
        // Columns as queries: image→text ranks the same matrix, so no transposed copy is made.
        i2t = await rankAsync(similarity, image.pids, text.pids, {
          maxRank: Math.min(this.opts.maxRank, text.pids.length),
          transposed: true,
        });
      }
      return { t2i, ...(i2t ? { i2t } : {}), numQueries: text.pids.length, numGallery: image.pids.length };
    } finally {
      text.feats.dispose();
      image?.feats.dispose();
      similarity?.dispose();
    }
  }

  /** The reference's result table: `task | R1 | R5 | R10 | mAP | mINP`, two decimals. */
  static formatTable(result: EvaluationResult): string {
    const rows: [string, RankResult][] = [['t2i', result.t2i]];
    if (result.i2t) rows.push(['i2t', result.i2t]);
    const head = ['task', 'R1', 'R5', 'R10', 'mAP', 'mINP'];
    const body = rows.map(([task, r]) => [task, ...[r.R1, r.R5, r.R10, r.mAP, r.mINP].map((v) => v.toFixed(2))]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
    const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i])).join(' | ')} |`;
    return [line, fmt(head), line, ...body.map(fmt), line].join('\n');
  }
}

/** `q @ g^T` computed `chunk` query rows at a time; returns a new `[q, g]` tensor (caller owns). */
function similarityInChunks(q: tf.Tensor2D, g: tf.Tensor2D, chunk: number): tf.Tensor2D {
  return tf.tidy(() => {
    const gT = tf.transpose(g);
    const n = q.shape[0];
    if (n <= chunk) return tf.matMul(q, gT);
    const rows: tf.Tensor2D[] = [];
    for (let r = 0; r < n; r += chunk) {
      rows.push(tf.matMul(tf.slice(q, [r, 0], [Math.min(chunk, n - r), -1]), gT));
    }
    return tf.concat(rows, 0) as tf.Tensor2D;
  });
}
