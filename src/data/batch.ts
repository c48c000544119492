/**
 * Batching and loading: turns training pairs into the tensors `computeLosses` takes (the
 * reference's `ImageTextMLMDataset.__getitem__` + `collate`), and an async {@link DataLoader}
 * that prepares the next batches while the current one is being used.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { EvalSplit, TrainSample } from './annotations';
import { type DecodedImage, readImageFile } from './image';
import { forkRng, type Rng, seededRng } from './random';
import { type BatchSampler, RandomIdentitySampler, RandomSampler } from './samplers';
import type { ImageTransform } from './transforms';

/** Defaults of the batch builder and loader (the reference's where it has one). */
export const LOADER_DEFAULTS = {
  /** Token context length (reference `--text_length`). */
  contextLength: 77,
  /** Pairs per batch (reference `--batch_size`). */
  batchSize: 64,
  /** Sampler (reference `--sampler`). */
  sampler: 'random' as 'random' | 'identity',
  /** Pairs per identity for the identity sampler (reference `--num_instance`). */
  numInstances: 4,
  /** Batches prepared ahead of the one being consumed. */
  prefetch: 1 as 0 | 1 | 2,
  /** Seed of the epoch order and of every random transform and mask. */
  seed: 0,
  /**
   * What the retrieval losses see when MLM masking is on (see {@link CaptionMasking}). The
   * library keeps captions clean; `irra-tfjs train` defaults to `'reference'`.
   */
  captionMasking: 'clean' as CaptionMasking,
};

/**
 * Which caption ids a batch with MLM masking carries in `captionIds`:
 * - `'reference'`: the masked ids, `captionIds` = `mlmIds` row for row. The reference's
 *   `ImageTextMLMDataset.__getitem__` masks `caption_tokens.cpu().numpy()` in place, a numpy view
 *   of `caption_ids`, so its SDM/ITC/ID losses are trained on masked captions; this reproduces it.
 * - `'clean'`: the tokenized captions, untouched (masking only feeds `mlmIds`).
 *
 * Without a mask function both give the tokenized captions.
 */
export type CaptionMasking = 'reference' | 'clean';

const CAPTION_MASKINGS: readonly CaptionMasking[] = ['reference', 'clean'];

/**
 * Turns captions into zero-padded token ids, `[texts.length × contextLength]` row-major int32.
 * Accepted forms: a function, an object with `encodeBatch(texts, contextLength)`, or a
 * tokenizer with `tokenizeToArray(texts, { contextLength, truncate })` such as `ClipTokenizer`
 * (called with `truncate: true`, as the reference's datasets do).
 */
export type CaptionEncoder =
  | ((texts: string[], contextLength: number) => Int32Array)
  | { encodeBatch(texts: string[], contextLength: number): Int32Array }
  | { tokenizeToArray(texts: string[], options: { contextLength: number; truncate: boolean }): Int32Array };

/**
 * Builds the masked-language-model inputs of a batch from its caption ids (row-major
 * `[batchSize × contextLength]`), drawing randomness from `info.rng`; returns arrays of the same
 * length (e.g. a wrapper around the tokenizer's `buildMlmInputs`).
 */
export type MaskFn = (
  captionIds: Int32Array,
  info: { rng: Rng; batchSize: number; contextLength: number },
) => { mlmIds: Int32Array; mlmLabels: Int32Array };

/**
 * Adapts a per-caption masking function (such as the tokenizer's `buildMlmInputs`) to a
 * {@link MaskFn}: rows are masked in order, each drawing from the batch's random stream.
 *
 * @example
 * const mask = rowwiseMask((row, rng) => buildMlmInputs(row, { rng }));
 */
export function rowwiseMask(
  maskRow: (row: Int32Array, rng: Rng) => { mlmIds: Int32Array; mlmLabels: Int32Array },
): MaskFn {
  return (ids, { rng, batchSize, contextLength }) => {
    const mlmIds = new Int32Array(batchSize * contextLength);
    const mlmLabels = new Int32Array(batchSize * contextLength);
    for (let b = 0; b < batchSize; b++) {
      const row = ids.subarray(b * contextLength, (b + 1) * contextLength);
      const out = maskRow(row.slice(), rng);
      if (out.mlmIds.length !== contextLength || out.mlmLabels.length !== contextLength) {
        throw new Error(
          `rowwiseMask: maskRow must return mlmIds and mlmLabels of length ${contextLength}, ` +
            `got ${out.mlmIds.length} and ${out.mlmLabels.length} for row ${b}`,
        );
      }
      mlmIds.set(out.mlmIds, b * contextLength);
      mlmLabels.set(out.mlmLabels, b * contextLength);
    }
    return { mlmIds, mlmLabels };
  };
}

/** Loads the pixels of a training pair; a returned tensor is disposed by the batch builder. */
export type ImageLoader = (sample: TrainSample) => Promise<DecodedImage | tf.Tensor3D>;

/** Options of {@link buildBatch}. */
export interface BatchOptions {
  /** Pixel transform (see `buildTransforms`). */
  transform: ImageTransform;
  /** Caption tokenizer. */
  encodeText: CaptionEncoder;
  /** MLM masking; without it `mlmIds`/`mlmLabels` are null. */
  mask?: MaskFn;
  /** Token context length; default 77. */
  contextLength?: number;
  /** Image loader; default reads `sample.imgPath` from disk (Node). */
  loadImage?: ImageLoader;
  /** Random source of the transforms and the mask. Required when the transform or mask is random. */
  rng?: Rng;
  /** What `captionIds` holds when `mask` is given ({@link CaptionMasking}); default `'clean'`. */
  captionMasking?: CaptionMasking;
}

/**
 * One training batch. `images`, `captionIds`, `mlmIds`, `mlmLabels` are new tensors owned by
 * the caller: release them with {@link disposeBatch}.
 */
export interface TrainBatch {
  /** Identity labels, `[B]`. */
  pids: Int32Array;
  /** Image ids (annotation index), `[B]` (SDM's optional soft labels). */
  imageIds: Int32Array;
  /** Normalized images, `[B, H, W, 3]` float32. */
  images: tf.Tensor4D;
  /** Token ids, `[B, contextLength]` int32, zero-padded. */
  captionIds: tf.Tensor2D;
  /** Masked token ids, `[B, contextLength]` int32, or null without a mask function. */
  mlmIds: tf.Tensor2D | null;
  /** MLM targets (0 = ignored), `[B, contextLength]` int32, or null without a mask function. */
  mlmLabels: tf.Tensor2D | null;
}

/** Disposes the tensors of a {@link TrainBatch}. */
export function disposeBatch(batch: TrainBatch): void {
  batch.images.dispose();
  batch.captionIds.dispose();
  batch.mlmIds?.dispose();
  batch.mlmLabels?.dispose();
}

/**
 * Encodes captions with any {@link CaptionEncoder} and checks the result's length.
 *
 * @returns `[texts.length × contextLength]` int32, row-major.
 */
export function encodeCaptions(encoder: CaptionEncoder, texts: string[], contextLength: number): Int32Array {
  let ids: Int32Array;
  if (typeof encoder === 'function') ids = encoder(texts, contextLength);
  else if ('encodeBatch' in encoder) ids = encoder.encodeBatch(texts, contextLength);
  else if ('tokenizeToArray' in encoder) ids = encoder.tokenizeToArray(texts, { contextLength, truncate: true });
  else throw new Error('encodeCaptions: encoder must be a function or have encodeBatch or tokenizeToArray');
  if (!(ids instanceof Int32Array) || ids.length !== texts.length * contextLength) {
    throw new Error(
      `encodeCaptions: the encoder must return an Int32Array of ${texts.length}×${contextLength} = ` +
        `${texts.length * contextLength} ids, got ${ids instanceof Int32Array ? `${ids.length} ids` : typeof ids}`,
    );
  }
  return ids;
}

const defaultLoader: ImageLoader = (sample) => readImageFile(sample.imgPath);

function checkCaptionMasking(where: string, value: CaptionMasking | undefined): CaptionMasking {
  const v = value ?? LOADER_DEFAULTS.captionMasking;
  if (!CAPTION_MASKINGS.includes(v)) {
    throw new Error(`${where}: captionMasking must be 'reference' or 'clean', got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Builds one training batch: loads the images (concurrently), then — synchronously and in
 * sample order, so the result depends only on `rng` — transforms them, tokenizes the captions
 * and masks them.
 *
 * @param samples the batch's training pairs (non-empty).
 * @returns a {@link TrainBatch}; the caller owns its tensors.
 * @throws Error for an empty batch, a failed image load (naming the path), a transform that
 *   does not return `[H, W, 3]` of one size, or an encoder/mask result of the wrong length.
 * @example
 * const batch = await buildBatch(ds.train.slice(0, 8), { transform, encodeText: tokenizer, rng: seededRng(0) });
 * disposeBatch(batch);
 */
export async function buildBatch(samples: readonly TrainSample[], options: BatchOptions): Promise<TrainBatch> {
  if (samples.length === 0) throw new Error('buildBatch: samples must be non-empty, got 0');
  const contextLength = options.contextLength ?? LOADER_DEFAULTS.contextLength;
  if (!Number.isInteger(contextLength) || contextLength < 2) {
    throw new Error(`buildBatch: contextLength must be an integer ≥ 2, got ${contextLength}`);
  }
  const captionMasking = checkCaptionMasking('buildBatch', options.captionMasking);
  const load = options.loadImage ?? defaultLoader;
  const pixels = await Promise.all(samples.map((s) => load(s)));
  const rng = options.rng;
  const B = samples.length;
  let images: tf.Tensor4D;
  try {
    images = tf.tidy(() => {
      const out = pixels.map((p) => options.transform(p, rng));
      const shape = out[0].shape;
      out.forEach((t, i) => {
        if (t.rank !== 3 || t.shape[2] !== 3 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
          throw new Error(
            `buildBatch: transform must return [H, W, 3] of one size, got [${t.shape}] for sample ${i} and [${shape}] for sample 0`,
          );
        }
      });
      return tf.stack(out) as tf.Tensor4D;
    });
  } finally {
    for (const p of pixels) if (p instanceof tf.Tensor) p.dispose();
  }
  try {
    const ids = encodeCaptions(
      options.encodeText,
      samples.map((s) => s.caption),
      contextLength,
    );
    let masked: { mlmIds: Int32Array; mlmLabels: Int32Array } | null = null;
    if (options.mask) {
      if (!rng) throw new Error('buildBatch: options.rng is required with options.mask, got none');
      masked = options.mask(ids.slice(), { rng, batchSize: B, contextLength });
      const n = B * contextLength;
      if (masked.mlmIds?.length !== n || masked.mlmLabels?.length !== n) {
        throw new Error(
          `buildBatch: mask must return mlmIds and mlmLabels of ${B}×${contextLength} = ${n} ids, ` +
            `got ${masked.mlmIds?.length} and ${masked.mlmLabels?.length}`,
        );
      }
    }
    const captions = masked && captionMasking === 'reference' ? Int32Array.from(masked.mlmIds) : ids;
    return {
      pids: Int32Array.from(samples, (s) => s.pid),
      imageIds: Int32Array.from(samples, (s) => s.imageId),
      images,
      captionIds: tf.tensor2d(captions, [B, contextLength], 'int32'),
      mlmIds: masked ? tf.tensor2d(Int32Array.from(masked.mlmIds), [B, contextLength], 'int32') : null,
      mlmLabels: masked ? tf.tensor2d(Int32Array.from(masked.mlmLabels), [B, contextLength], 'int32') : null,
    };
  } catch (e) {
    images.dispose();
    throw e;
  }
}

/**
 * Yields `build(0) … build(count - 1)` in order, starting up to `ahead` builds before the one
 * being awaited. Results built but never yielded (the consumer stopped, or a build failed) are
 * passed to `dispose`.
 */
async function* prefetched<T>(
  count: number,
  build: (i: number) => Promise<T>,
  dispose: (value: T) => void,
  ahead: 0 | 1 | 2,
): AsyncGenerator<T, void, undefined> {
  const pending: Promise<T>[] = [];
  let launched = 0;
  try {
    for (let i = 0; i < count; i++) {
      while (launched < count && launched <= i + ahead) {
        const p = build(launched++);
        p.catch(() => undefined);
        pending.push(p);
      }
      yield await pending.shift()!;
    }
  } finally {
    for (const p of pending.splice(0)) {
      const leftover = await p.catch(() => null);
      if (leftover !== null) dispose(leftover);
    }
  }
}

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions extends Omit<BatchOptions, 'rng'> {
  /** Pairs per batch; default 64. */
  batchSize?: number;
  /** 'random' (shuffle), 'identity' (N ids × K instances) or a custom {@link BatchSampler}; default 'random'. */
  sampler?: 'random' | 'identity' | BatchSampler;
  /** K of the identity sampler; default 4. */
  numInstances?: number;
  /** Seed of the epoch orders, transforms and masks; default 0. */
  seed?: number;
  /** Batches built ahead of the consumer (0 = none); default 1. */
  prefetch?: 0 | 1 | 2;
}

/**
 * Async iterator of training batches over a list of pairs, one epoch per {@link epoch} call.
 *
 * Reproducible: epoch `e`'s order and every random transform and mask come from `seed` and `e`
 * alone (each batch gets its own random stream, drawn before any batch is built), so the batches
 * are the same with or without prefetching and when training resumes at epoch `e`.
 *
 * Prefetching: with `prefetch: p` the loader starts building the next `p` batches (reading and
 * decoding files, transforming) before handing out the current one, so the file reads and the
 * work between the consumer's `await`s overlap the training step. JavaScript runs one thing at a
 * time: the overlap is with I/O and with the consumer's awaits (e.g. `await loss.data()`), not
 * with a synchronous computation.
 *
 * Ownership: each yielded batch belongs to the consumer ({@link disposeBatch}); batches built
 * ahead and never handed out (the consumer stopped early) are disposed by the loader.
 *
 * @example
 * const loader = new DataLoader(ds.train, { batchSize: 64, sampler: 'identity', transform, encodeText: tokenizer, mask });
 * for await (const batch of loader.epoch(0)) { trainStep(batch); disposeBatch(batch); }
 */
export class DataLoader {
  /** The sampler in use. */
  readonly sampler: BatchSampler;
  private readonly seed: number;
  private readonly prefetch: 0 | 1 | 2;

  constructor(
    readonly samples: readonly TrainSample[],
    private readonly options: DataLoaderOptions,
  ) {
    if (samples.length === 0) throw new Error('DataLoader: samples must be non-empty, got 0');
    const batchSize = options.batchSize ?? LOADER_DEFAULTS.batchSize;
    const kind = options.sampler ?? LOADER_DEFAULTS.sampler;
    if (kind === 'random') this.sampler = new RandomSampler(samples.length, batchSize);
    else if (kind === 'identity') {
      this.sampler = new RandomIdentitySampler(
        samples.map((s) => s.pid),
        batchSize,
        options.numInstances ?? LOADER_DEFAULTS.numInstances,
      );
    } else if (typeof kind === 'object' && typeof kind.batches === 'function') this.sampler = kind;
    else throw new Error(`DataLoader: sampler must be 'random', 'identity' or a BatchSampler, got ${String(kind)}`);
    this.seed = options.seed ?? LOADER_DEFAULTS.seed;
    if (!Number.isFinite(this.seed)) throw new Error(`DataLoader: seed must be a finite number, got ${this.seed}`);
    const prefetch = options.prefetch ?? LOADER_DEFAULTS.prefetch;
    if (prefetch !== 0 && prefetch !== 1 && prefetch !== 2) {
      throw new Error(`DataLoader: prefetch must be 0, 1 or 2, got ${String(prefetch)}`);
    }
    this.prefetch = prefetch;
    checkCaptionMasking('DataLoader', options.captionMasking);
  }

  /** Batches per epoch (the sampler's count; the reference's `len(train_loader)`). */
  get numBatches(): number {
    return this.sampler.numBatches;
  }

  /** The random stream of epoch `e`, a function of (seed, e) only. */
  private epochRng(e: number): Rng {
    return seededRng((Math.trunc(this.seed) ^ Math.imul(e + 1, 0x9e3779b1)) >>> 0);
  }

  /** The index batches epoch `e` will yield (for inspection; no images are loaded). */
  plan(e = 0): number[][] {
    return this.sampler.batches(this.epochRng(e));
  }

  /**
   * Iterates over epoch `e` (default 0).
   *
   * @returns an async iterator of {@link TrainBatch}es (caller owns each one).
   */
  async *epoch(e = 0): AsyncGenerator<TrainBatch, void, undefined> {
    if (!Number.isInteger(e) || e < 0) throw new Error(`DataLoader.epoch: e must be a non-negative integer, got ${e}`);
    const rng = this.epochRng(e);
    const plan = this.sampler.batches(rng);
    const rngs = plan.map(() => forkRng(rng));
    yield* prefetched(
      plan.length,
      (i) =>
        buildBatch(
          plan[i].map((j) => this.samples[j]),
          { ...this.options, rng: rngs[i] },
        ),
      disposeBatch,
      this.prefetch,
    );
  }

  /** Iterates over epoch 0. */
  [Symbol.asyncIterator](): AsyncGenerator<TrainBatch, void, undefined> {
    return this.epoch(0);
  }
}

/** Options of {@link evaluationBatches}. */
export interface EvalBatchOptions {
  /** Images or captions per batch; default 64 (reference `--test_batch_size` is 512: use what memory allows). */
  batchSize?: number;
  /** Eval transform, e.g. `buildTransforms({ isTrain: false })`. */
  transform: ImageTransform;
  /** Caption tokenizer. */
  encodeText: CaptionEncoder;
  /** Token context length; default 77. */
  contextLength?: number;
  /**
   * Image loader; called with `{ pid, imageId: index in the split, imgPath, caption: '' }`;
   * default reads `imgPath` from disk (Node).
   */
  loadImage?: ImageLoader;
  /** Gallery batches built ahead; default 1. */
  prefetch?: 0 | 1 | 2;
}

/**
 * Streams a test/val split for evaluation (the reference's `ImageDataset` + `TextDataset`
 * loaders, in file order): `captions()` yields `{ pids, captionIds }` and `gallery()` yields
 * `{ pids, images }` — the shapes the Evaluator's `EvaluationData` takes, so only one gallery
 * batch (plus prefetch) is in memory at a time.
 *
 * Ownership: each yielded batch's tensor belongs to the consumer (the Evaluator disposes it);
 * prefetched batches that are never consumed are disposed here.
 *
 * @example
 * const data = evaluationBatches(ds.test, { transform: buildTransforms({ isTrain: false }), encodeText: tokenizer });
 * const result = await evaluator.evaluate(model, data);
 */
export function evaluationBatches(
  split: EvalSplit,
  options: EvalBatchOptions,
): {
  captions: () => AsyncGenerator<{ pids: Int32Array; captionIds: tf.Tensor2D }, void, undefined>;
  gallery: () => AsyncGenerator<{ pids: Int32Array; images: tf.Tensor4D }, void, undefined>;
} {
  const batchSize = options.batchSize ?? LOADER_DEFAULTS.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`evaluationBatches: batchSize must be a positive integer, got ${batchSize}`);
  }
  if (split.imagePids.length !== split.imgPaths.length || split.captionPids.length !== split.captions.length) {
    throw new Error(
      `evaluationBatches: split lists must pair up, got ${split.imagePids.length} imagePids for ${split.imgPaths.length} ` +
        `imgPaths and ${split.captionPids.length} captionPids for ${split.captions.length} captions`,
    );
  }
  const contextLength = options.contextLength ?? LOADER_DEFAULTS.contextLength;
  const load = options.loadImage ?? defaultLoader;
  const prefetch = options.prefetch ?? LOADER_DEFAULTS.prefetch;
  const ranges = (n: number) =>
    Array.from({ length: Math.ceil(n / batchSize) }, (_, i) => [i * batchSize, Math.min(n, (i + 1) * batchSize)]);
  async function* captions() {
    for (const [a, b] of ranges(split.captions.length)) {
      const ids = encodeCaptions(options.encodeText, split.captions.slice(a, b), contextLength);
      yield {
        pids: Int32Array.from(split.captionPids.slice(a, b)),
        captionIds: tf.tensor2d(ids, [b - a, contextLength], 'int32'),
      };
    }
  }
  function gallery() {
    const parts = ranges(split.imgPaths.length);
    return prefetched(
      parts.length,
      async (i) => {
        const [a, b] = parts[i];
        const pixels = await Promise.all(
          split.imgPaths
            .slice(a, b)
            .map((imgPath, k) => load({ pid: split.imagePids[a + k], imageId: a + k, imgPath, caption: '' })),
        );
        try {
          const images = tf.tidy(() => tf.stack(pixels.map((p) => options.transform(p))) as tf.Tensor4D);
          return { pids: Int32Array.from(split.imagePids.slice(a, b)), images };
        } finally {
          for (const p of pixels) if (p instanceof tf.Tensor) p.dispose();
        }
      },
      (batch) => batch.images.dispose(),
      prefetch,
    );
  }
  return { captions, gallery };
}
