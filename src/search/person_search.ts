/**
 * `PersonSearch`: type a description, get the matching people from your own gallery, with your own
 * checkpoint. Image sources → preprocessing (the reference's test transform) → an engine (tfjs,
 * or onnxruntime) → L2-normalised features in a store (memory, or LanceDB) → top-k by cosine.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type CaptionEncoder, encodeCaptions } from '../data/batch';
import type { GalleryWorkerPool } from '../eval/workers';
import { crossAttentionMap } from '../model/cross_attention_map';
import type { IRRA } from '../model/irra';
import { l2NormalizeRows } from '../ops/normalize';
import { ClipTokenizer } from '../tokenizer/clip_tokenizer';
import { nodeFs, nodePath } from '../util/node';
import { float32ToHalfBits } from '../weights/dtypes';
import { parseSafetensors, type RawSafetensorsEntry, serializeRawSafetensors } from '../weights/safetensors';
import { createTfjsEngine } from './engines/tfjs';
import {
  clipPreprocessing,
  defaultImageId,
  describeImageSource,
  type ImageDecoder,
  type ImageSource,
  type Preprocessing,
  preprocessInto,
  readImageSource,
} from './image_source';
import { memoryStore } from './stores/memory';
import type { EncoderEngine, GalleryStore, RowMetadata, SearchHit } from './types';

/** Defaults of {@link PersonSearch}. */
export const PERSON_SEARCH_DEFAULTS = {
  /** Images encoded per engine call. */
  batchSize: 8,
  /** Images decoded ahead of the encoder (bounded, so a huge gallery never sits in memory). */
  decodeConcurrency: 4,
  /** Hits per query. */
  k: 10,
  /** Images handed to the worker threads per round, when `workers > 1`. */
  workerChunk: 64,
  /** Value of the `format` entry of an index file's metadata. */
  indexFormat: 'irra-tfjs-index',
  /** Version of the index file layout. */
  indexVersion: '1',
} as const;

/** Options of {@link PersonSearch.create}. */
export interface PersonSearchOptions {
  /** The model (it stays the caller's: {@link PersonSearch.dispose} does not dispose it). */
  model: IRRA;
  /**
   * Turns queries into ids: a `ClipTokenizer` (default: `ClipTokenizer.load()`, the vocabulary
   * shipped in the package), anything with `tokenizeToArray`, or a function texts → ids.
   */
  tokenizer?: CaptionEncoder;
  /**
   * Who encodes: 'tfjs' (default: the model on the active backend), 'onnxruntime' (the model
   * exported to ONNX and run by onnxruntime-node / onnxruntime-web, optional peers), or an engine.
   */
  engine?: 'tfjs' | 'onnxruntime' | EncoderEngine;
  /** Where features live (default `memoryStore()`); the search owns it and closes it on dispose. */
  store?: GalleryStore;
  /** Images per engine call (default {@link PERSON_SEARCH_DEFAULTS}.batchSize). */
  batchSize?: number;
  /** Decoder for encoded bytes: 'auto' (default: built-in JPEG/PNG, sharp for WebP), 'builtin', 'sharp'. */
  decoder?: ImageDecoder;
}

/** Progress of {@link PersonSearch.addImages}. */
export interface AddImagesProgress {
  /** Images handled so far (added or skipped). */
  done: number;
  /** Images in the call. */
  total: number;
  /** Images skipped as invalid so far. */
  skipped: number;
  /** Images per second since the call started. */
  imagesPerSecond: number;
  /** Estimated seconds left, or null before the first batch. */
  etaSeconds: number | null;
}

/** Options of {@link PersonSearch.addImages}. */
export interface AddImagesOptions {
  /** One id per source (default: the source itself for paths and URLs, a File's name). */
  ids?: readonly string[];
  /** Metadata stored with each row (the store decides what it keeps). */
  metadata?: ReadonlyArray<RowMetadata | undefined>;
  /**
   * Node, tfjs engine: encode in this many worker threads, each with its own copy of the model on
   * its own wasm backend (started on first use and kept until `dispose`). Default 1 (in-process).
   */
  workers?: number;
  /** Called after every batch. */
  onProgress?: (progress: AddImagesProgress) => void;
  /** List undecodable images in the report and index the rest, instead of failing (default false). */
  skipInvalid?: boolean;
  /** Ids already in the store are left out instead of being an error (resumable indexing). */
  skipExisting?: boolean;
}

/** What {@link PersonSearch.addImages} did. */
export interface AddImagesReport {
  /** Images added. */
  added: number;
  /** Images left out because they could not be read (only with `skipInvalid`). */
  invalid: Array<{ id: string; error: string }>;
  /** Ids left out because the store already held them (only with `skipExisting`). */
  existing: string[];
  /** Wall seconds of the call. */
  seconds: number;
}

/** Options of {@link PersonSearch.search}. */
export interface SearchOptions {
  /** Hits per query (≥ 1, default 10); more than the gallery holds returns the whole gallery. */
  k?: number;
  /** Approximate stores: partitions probed. */
  nprobes?: number;
  /** Approximate stores: candidates re-ranked exactly, as a multiple of k. */
  refineFactor?: number;
}

/** A query: a sentence, several (a batch), or token ids (int32 rows of `contextLength`). */
export type SearchQuery = string | readonly string[] | Int32Array | readonly (readonly number[])[];

/** What {@link PersonSearch.explain} returns: where the caption looks in the image. */
export interface Explanation {
  /** Cross-attention mass per patch, row-major `[grid[0], grid[1]]` (see `crossAttentionMap`). */
  map: Float32Array;
  /** The model's patch grid `[rows, columns]`. */
  grid: [number, number];
  /** The model's image size `[height, width]` the grid covers. */
  imageSize: [number, number];
}

/** Options of {@link PersonSearch.save} and {@link PersonSearch.serialize}. */
export interface SaveIndexOptions {
  /** Store features as float16 (half the size; scores change by ~1e-3) instead of float32. */
  float16?: boolean;
  /**
   * Extra string entries for the file's safetensors metadata (e.g. where the images live), read
   * back with `parseSafetensors(bytes).metadata`. The index's own keys (format, version,
   * fingerprint, preprocessing, count, dim) cannot be overridden.
   */
  metadata?: Readonly<Record<string, string>>;
}

/** Options of {@link PersonSearch.load}: those of `create`, the store excepted (the file fills it). */
export type LoadIndexOptions = PersonSearchOptions;

function checkPositiveInteger(where: string, name: string, v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) {
    throw new Error(`${where}: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/**
 * A fingerprint of the model's weights and preprocessing (FNV-1a 64-bit over the config, every
 * parameter's name and shape, its sum and a strided sample of its values, and the
 * preprocessing). Two models with different weights get different fingerprints with
 * overwhelming likelihood; the same model always gets the same one.
 */
export async function modelFingerprint(model: IRRA, pre: Preprocessing): Promise<string> {
  let h1 = 0x811c9dc5;
  let h2 = 0xcbf29ce4;
  const mix = (bytes: Uint8Array) => {
    for (let i = 0; i < bytes.length; i++) {
      h1 = Math.imul(h1 ^ bytes[i], 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ bytes[i], 0x0100019d) >>> 0;
    }
  };
  const enc = new TextEncoder();
  mix(enc.encode(JSON.stringify({ config: model.config, pre })));
  for (const [name, v] of model.namedParameters()) {
    mix(enc.encode(`${name}:${v.shape.join('x')}`));
    const values = (await v.data()) as Float32Array;
    const step = Math.max(1, Math.floor(values.length / 64));
    const sample = new Float32Array(Math.ceil(values.length / step) + 1);
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i];
    for (let i = 0, j = 0; i < values.length; i += step, j++) sample[j] = values[i];
    sample[sample.length - 1] = sum;
    mix(new Uint8Array(sample.buffer));
  }
  return `${h1.toString(16).padStart(8, '0')}${h2.toString(16).padStart(8, '0')}`;
}

/**
 * Person search from a sentence over your own gallery, with your own checkpoint.
 *
 * @example
 * ```ts
 * const model = await IRRA.load('best.pth');
 * const search = await PersonSearch.create({ model });
 * await search.addImages(['gallery/0001.jpg', 'gallery/0002.jpg']);
 * const hits = await search.search('a woman in a red coat with a black bag', { k: 10 });
 * // → [{ id: 'gallery/0002.jpg', score: 0.41, rank: 1 }, …]
 * search.dispose(); model.dispose();
 * ```
 */
export class PersonSearch {
  /** The model (the caller's). */
  readonly model: IRRA;
  /** The encoding engine. */
  readonly engine: EncoderEngine;
  /** The store of features. */
  readonly store: GalleryStore;
  /** The preprocessing applied to every image (the reference's test transform). */
  readonly preprocessing: Preprocessing;
  /** Fingerprint of the model's weights and preprocessing (see {@link modelFingerprint}). */
  readonly fingerprint: string;
  private readonly tokenizer: CaptionEncoder;
  private readonly batchSize: number;
  private readonly decoder: ImageDecoder;
  private readonly sources = new Map<string, ImageSource>();
  /** Worker threads of `addImages({ workers })`, started on first use and kept until dispose. */
  private workerPool: GalleryWorkerPool | null = null;
  private count: number;
  private disposed = false;

  private constructor(
    options: PersonSearchOptions,
    engine: EncoderEngine,
    tokenizer: CaptionEncoder,
    store: GalleryStore,
    fingerprint: string,
    count: number,
  ) {
    this.model = options.model;
    this.engine = engine;
    this.tokenizer = tokenizer;
    this.store = store;
    this.preprocessing = clipPreprocessing(options.model.config.imageSize);
    this.fingerprint = fingerprint;
    this.batchSize = options.batchSize ?? PERSON_SEARCH_DEFAULTS.batchSize;
    this.decoder = options.decoder ?? 'auto';
    this.count = count;
  }

  /**
   * A search over `options.store` (default: a new in-memory store) with `options.model`.
   * @throws Error on a missing model, bad options, or an engine that cannot start (e.g.
   * onnxruntime not installed: the error says what to install).
   */
  static async create(options: PersonSearchOptions): Promise<PersonSearch> {
    const where = 'PersonSearch.create';
    if (!options || typeof options !== 'object' || !options.model || typeof options.model.encodeImage !== 'function') {
      throw new Error(`${where}: options.model must be an IRRA model (e.g. await IRRA.load('best.pth'))`);
    }
    if (options.batchSize !== undefined) checkPositiveInteger(where, 'options.batchSize', options.batchSize);
    if (options.decoder !== undefined && !['auto', 'builtin', 'sharp'].includes(options.decoder)) {
      throw new Error(
        `${where}: options.decoder must be 'auto', 'builtin' or 'sharp', got ${JSON.stringify(options.decoder)}`,
      );
    }
    const tokenizer = options.tokenizer ?? (await ClipTokenizer.load());
    const engine = await resolveEngine(options.model, options.engine ?? 'tfjs');
    const store = options.store ?? memoryStore();
    const pre = clipPreprocessing(options.model.config.imageSize);
    try {
      const dim = await store.dim();
      if (dim !== null && dim !== options.model.config.embedDim) {
        throw new Error(
          `${where}: the store holds ${dim}-d features but the model's are ${options.model.config.embedDim}-d`,
        );
      }
      const fingerprint = await modelFingerprint(options.model, pre);
      return new PersonSearch(options, engine, tokenizer, store, fingerprint, await store.count());
    } catch (e) {
      if (typeof options.engine !== 'object') await engine.dispose();
      throw e;
    }
  }

  /** Number of images in the gallery. */
  get size(): number {
    return this.count;
  }

  private assertLive(where: string): void {
    if (this.disposed) throw new Error(`PersonSearch.${where}: this search has been disposed`);
  }

  /**
   * Decodes, preprocesses, encodes and stores images, in batches, with bounded memory.
   *
   * @param sources one source or many (see {@link ImageSource}).
   * @returns what was added and what was left out.
   * @throws Error naming the image when one cannot be decoded (unless `skipInvalid`), on duplicate
   * ids (in the call, or already stored unless `skipExisting`), or on bad options; nothing of the
   * failing batch is stored.
   */
  async addImages(
    sources: ImageSource | readonly ImageSource[],
    options: AddImagesOptions = {},
  ): Promise<AddImagesReport> {
    const where = 'PersonSearch.addImages';
    this.assertLive('addImages');
    const list = (Array.isArray(sources) ? sources : [sources]) as ImageSource[];
    const started = performance.now();
    const ids = options.ids ? [...options.ids] : list.map((s, i) => defaultImageId(s, i));
    if (ids.length !== list.length)
      throw new Error(`${where}: options.ids has ${ids.length} ids for ${list.length} images`);
    if (options.metadata && options.metadata.length !== list.length) {
      throw new Error(`${where}: options.metadata has ${options.metadata.length} entries for ${list.length} images`);
    }
    const workers = options.workers === undefined ? 1 : checkPositiveInteger(where, 'options.workers', options.workers);
    if (workers > 1 && (this.engine.kind !== 'tfjs' || !isNode())) {
      throw new Error(`${where}: options.workers > 1 needs the tfjs engine in Node (engine '${this.engine.kind}')`);
    }
    const seen = new Set<string>();
    for (const id of ids) {
      if (typeof id !== 'string' || id.length === 0)
        throw new Error(`${where}: ids must be non-empty strings, got ${JSON.stringify(id)}`);
      if (seen.has(id)) throw new Error(`${where}: duplicate id '${id}' in this call`);
      seen.add(id);
    }
    const stored = ids.length > 0 ? await this.store.has(ids) : [];
    const existing = ids.filter((_, i) => stored[i]);
    if (existing.length > 0 && !options.skipExisting) {
      throw new Error(
        `${where}: ${existing.length} id(s) are already in the gallery: ${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', ...' : ''} (remove them first, or pass skipExisting)`,
      );
    }
    const todo = list.map((_, i) => i).filter((i) => !stored[i]);
    const [h, w] = this.preprocessing.imageSize;
    const per = h * w * 3;
    const batch = workers > 1 ? Math.max(this.batchSize, PERSON_SEARCH_DEFAULTS.workerChunk) : this.batchSize;
    const report: AddImagesReport = { added: 0, invalid: [], existing, seconds: 0 };
    let done = 0;
    const total = list.length;
    done += existing.length;
    // Decoding of the next batch overlaps with encoding of this one.
    const readBatch = async (indices: number[]) => {
      const pixels = new Float32Array(indices.length * per);
      const kept: number[] = [];
      const results = await mapLimit(indices, PERSON_SEARCH_DEFAULTS.decodeConcurrency, async (i) => {
        try {
          return { ok: true as const, read: await readImageSource(list[i], this.preprocessing, this.decoder) };
        } catch (e) {
          return { ok: false as const, error: (e as Error).message };
        }
      });
      results.forEach((r, j) => {
        const i = indices[j];
        if (!r.ok) {
          const message = `${where}: cannot read image ${describeImageSource(list[i])} (id '${ids[i]}'): ${r.error}`;
          if (!options.skipInvalid) throw new Error(message);
          report.invalid.push({ id: ids[i], error: r.error });
          return;
        }
        const slot = kept.length * per;
        if (r.read.kind === 'preprocessed') pixels.set(r.read.pixels, slot);
        else preprocessInto(r.read.image, this.preprocessing, pixels, slot);
        kept.push(i);
      });
      return { indices: kept, pixels: pixels.subarray(0, kept.length * per), tried: indices.length };
    };
    const batches: number[][] = [];
    for (let s = 0; s < todo.length; s += batch) batches.push(todo.slice(s, s + batch));
    let next = batches.length > 0 ? readBatch(batches[0]) : null;
    for (let b = 0; b < batches.length; b++) {
      const current = await (next as ReturnType<typeof readBatch>);
      next = b + 1 < batches.length ? readBatch(batches[b + 1]) : null;
      // A rejected prefetch must not go unhandled while this batch encodes.
      next?.catch(() => {});
      if (current.indices.length > 0) {
        const feats =
          workers > 1
            ? await this.encodeInWorkers(current.pixels, current.indices.length, workers)
            : await this.engine.encodeImages(current.pixels, current.indices.length);
        l2NormalizeRows(feats, this.engine.embedDim);
        await this.store.add(
          current.indices.map((i) => ids[i]),
          feats,
          options.metadata ? current.indices.map((i) => options.metadata?.[i]) : undefined,
        );
        for (const i of current.indices) {
          const s = list[i];
          if (!(s instanceof tf.Tensor)) this.sources.set(ids[i], s);
        }
        report.added += current.indices.length;
        this.count += current.indices.length;
      }
      done += current.tried;
      const seconds = (performance.now() - started) / 1000;
      const rate = (done - existing.length) / Math.max(seconds, 1e-9);
      options.onProgress?.({
        done,
        total,
        skipped: report.invalid.length,
        imagesPerSecond: rate,
        etaSeconds: rate > 0 ? (total - done) / rate : null,
      });
    }
    report.seconds = (performance.now() - started) / 1000;
    return report;
  }

  private async encodeInWorkers(pixels: Float32Array, count: number, workers: number): Promise<Float32Array> {
    if (this.workerPool && this.workerPool.size !== workers) {
      await this.workerPool.close();
      this.workerPool = null;
    }
    if (!this.workerPool) {
      const { GalleryWorkerPool } = await import('../eval/workers');
      this.workerPool = await GalleryWorkerPool.start(this.model, { workers });
    }
    return this.workerPool.encode(pixels, count, this.batchSize);
  }

  /** Query ids `[n, contextLength]` from any {@link SearchQuery}; checks emptiness and shape. */
  private queryIds(query: SearchQuery, where: string): { ids: Int32Array; count: number } {
    const l = this.model.config.contextLength;
    if (typeof query === 'string' || (Array.isArray(query) && (query.length === 0 || typeof query[0] === 'string'))) {
      const texts = typeof query === 'string' ? [query] : (query as string[]);
      if (texts.length === 0) throw new Error(`${where}: the query list is empty`);
      texts.forEach((t, i) => {
        if (typeof t !== 'string' || t.trim().length === 0) {
          throw new Error(`${where}: query ${i} is empty; describe the person, e.g. 'a woman in a red coat'`);
        }
      });
      return { ids: encodeCaptions(this.tokenizer, texts, l), count: texts.length };
    }
    let ids: Int32Array;
    if (query instanceof Int32Array) ids = query;
    else if (Array.isArray(query) && query.every((r) => Array.isArray(r))) {
      ids = new Int32Array(query.length * l);
      (query as number[][]).forEach((row, i) => {
        if (row.length !== l)
          throw new Error(`${where}: token row ${i} has ${row.length} ids, expected ${l} (contextLength)`);
        ids.set(row, i * l);
      });
    } else {
      throw new Error(`${where}: query must be a string, an array of strings, or token ids (Int32Array or number[][])`);
    }
    if (ids.length === 0 || ids.length % l !== 0) {
      throw new Error(`${where}: token ids must be rows of ${l} (contextLength), got ${ids.length} ids`);
    }
    const count = ids.length / l;
    for (let r = 0; r < count; r++) {
      let any = false;
      for (let j = 0; j < l && !any; j++) any = ids[r * l + j] !== 0;
      if (!any) throw new Error(`${where}: token row ${r} is empty (all ids are 0)`);
    }
    return { ids, count };
  }

  /**
   * The `k` gallery images closest to each query by cosine similarity of L2-normalised features.
   * A string gives one list of hits; an array of strings or token rows gives one list per query.
   * Long captions are truncated as the reference's `tokenize(truncate=True)`.
   *
   * @throws Error on an empty query, an empty gallery, or `k < 1`.
   */
  search(query: string, options?: SearchOptions): Promise<SearchHit[]>;
  search(
    query: readonly string[] | Int32Array | readonly (readonly number[])[],
    options?: SearchOptions,
  ): Promise<SearchHit[][]>;
  async search(query: SearchQuery, options: SearchOptions = {}): Promise<SearchHit[] | SearchHit[][]> {
    const where = 'PersonSearch.search';
    this.assertLive('search');
    const k = options.k === undefined ? PERSON_SEARCH_DEFAULTS.k : checkPositiveInteger(where, 'options.k', options.k);
    const { ids, count } = this.queryIds(query, where);
    if (this.count === 0) throw new Error(`${where}: the gallery is empty; add images first (addImages)`);
    const feats = await this.engine.encodeTexts(ids, count);
    l2NormalizeRows(feats, this.engine.embedDim);
    const hits = await this.store.search(feats, count, {
      k: Math.min(k, this.count),
      ...(options.nprobes !== undefined ? { nprobes: options.nprobes } : {}),
      ...(options.refineFactor !== undefined ? { refineFactor: options.refineFactor } : {}),
    });
    return typeof query === 'string' ? hits[0] : hits;
  }

  /**
   * Where a caption looks in a gallery image: the fusion encoder's cross-attention
   * (`crossAttentionMap`) on the patch grid. `image` is an id added in this session (its source
   * is read again) or any {@link ImageSource}.
   *
   * @throws Error when the model has no fusion encoder (a CLIP-only checkpoint), the query is
   * empty, or the id is unknown.
   */
  async explain(query: string, image: string | ImageSource): Promise<Explanation> {
    const where = 'PersonSearch.explain';
    this.assertLive('explain');
    if (!this.model.crossModal) {
      throw new Error(
        `${where}: the model has no IRR fusion encoder (a CLIP-only checkpoint); load an IRRA checkpoint to explain`,
      );
    }
    const { ids } = this.queryIds(query, where);
    const source =
      typeof image === 'string' && this.sources.has(image) ? (this.sources.get(image) as ImageSource) : image;
    let read: Awaited<ReturnType<typeof readImageSource>>;
    try {
      read = await readImageSource(source, this.preprocessing, this.decoder);
    } catch (e) {
      throw new Error(
        `${where}: cannot read image ${describeImageSource(source)}${typeof image === 'string' && !this.sources.has(image) ? ' (not an id added in this session; pass the image itself)' : ''}: ${(e as Error).message}`,
      );
    }
    const [h, w] = this.preprocessing.imageSize;
    const pixels = new Float32Array(h * w * 3);
    if (read.kind === 'preprocessed') pixels.set(read.pixels);
    else preprocessInto(read.image, this.preprocessing, pixels, 0);
    const l = this.model.config.contextLength;
    const map = tf.tidy(() =>
      crossAttentionMap(this.model, tf.tensor4d(pixels, [1, h, w, 3]), tf.tensor2d(ids, [1, l], 'int32')),
    );
    try {
      const grid: [number, number] = [map.shape[1], map.shape[2]];
      return { map: (await map.data()) as Float32Array, grid, imageSize: [h, w] };
    } finally {
      map.dispose();
    }
  }

  /** Removes images by id (unknown ids are ignored); returns how many were removed. */
  async remove(ids: string | readonly string[]): Promise<number> {
    this.assertLive('remove');
    const list = typeof ids === 'string' ? [ids] : [...ids];
    const removed = await this.store.remove(list);
    for (const id of list) this.sources.delete(id);
    this.count -= removed;
    return removed;
  }

  /**
   * The index as safetensors bytes: `features` (float32, or float16 on request) `[n, dim]`, `ids`
   * (UTF-8 JSON array as U8), and metadata with the format, the model fingerprint and the
   * preprocessing. {@link PersonSearch.load} reads it back.
   */
  async serialize(options: SaveIndexOptions = {}): Promise<Uint8Array> {
    this.assertLive('serialize');
    const dim = this.engine.embedDim;
    const ids: string[] = [];
    const blocks: Float32Array[] = [];
    const metadata: Array<RowMetadata | null> = [];
    let anyMetadata = false;
    for await (const rows of this.store.rows()) {
      ids.push(...rows.ids);
      blocks.push(rows.features);
      for (let i = 0; i < rows.ids.length; i++) {
        const m = rows.metadata?.[i];
        metadata.push(m ?? null);
        if (m) anyMetadata = true;
      }
    }
    const n = ids.length;
    const half = options.float16 === true;
    const bytes = new Uint8Array(n * dim * (half ? 2 : 4));
    if (half) {
      const h = new Uint16Array(bytes.buffer);
      let o = 0;
      for (const b of blocks) for (let i = 0; i < b.length; i++) h[o++] = float32ToHalfBits(b[i]);
    } else {
      let o = 0;
      for (const b of blocks) {
        bytes.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), o);
        o += b.byteLength;
      }
    }
    const enc = new TextEncoder();
    const idBytes = enc.encode(JSON.stringify(ids));
    const entries = new Map<string, RawSafetensorsEntry>([
      ['features', { dtype: half ? 'F16' : 'F32', shape: [n, dim], bytes }],
      ['ids', { dtype: 'U8', shape: [idBytes.byteLength], bytes: idBytes }],
    ]);
    if (anyMetadata) {
      const m = enc.encode(JSON.stringify(metadata));
      entries.set('metadata', { dtype: 'U8', shape: [m.byteLength], bytes: m });
    }
    const own: Record<string, string> = {
      format: PERSON_SEARCH_DEFAULTS.indexFormat,
      version: PERSON_SEARCH_DEFAULTS.indexVersion,
      fingerprint: this.fingerprint,
      preprocessing: JSON.stringify(this.preprocessing),
      count: String(n),
      dim: String(dim),
    };
    for (const [key, value] of Object.entries(options.metadata ?? {})) {
      if (key in own)
        throw new Error(`PersonSearch.serialize: options.metadata cannot set the index's own key '${key}'`);
      if (typeof value !== 'string') {
        throw new Error(`PersonSearch.serialize: options.metadata['${key}'] must be a string, got ${typeof value}`);
      }
    }
    return serializeRawSafetensors(entries, { ...options.metadata, ...own });
  }

  /**
   * Node: writes the index to `path` ({@link PersonSearch.serialize}'s bytes) through a temporary
   * file in the same folder and a rename, so an interrupted save never leaves a file that loads
   * wrongly.
   */
  async save(path: string, options: SaveIndexOptions = {}): Promise<void> {
    if (typeof path !== 'string' || path.length === 0)
      throw new Error(`PersonSearch.save: path must be a non-empty string, got ${JSON.stringify(path)}`);
    const bytes = await this.serialize(options);
    const fs = await nodeFs();
    const p = await nodePath();
    const tmp = p.join(p.dirname(path), `.${p.basename(path)}.${process.pid}.${Date.now()}.tmp`);
    try {
      await fs.writeFile(tmp, bytes);
      await fs.rename(tmp, path);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw new Error(`PersonSearch.save: cannot write '${path}' (${(e as Error).message})`);
    }
  }

  /**
   * A search over an index written by {@link PersonSearch.save} / `serialize` (a Node path, bytes
   * or a Blob), with `options.model` — which must be the model the index was built with.
   * @throws Error when the file is not an index, or its fingerprint is another model's.
   */
  static async load(
    source: string | Uint8Array | ArrayBuffer | Blob,
    options: LoadIndexOptions,
  ): Promise<PersonSearch> {
    const where = 'PersonSearch.load';
    let bytes: Uint8Array;
    const label = typeof source === 'string' ? `'${source}'` : 'the index bytes';
    if (typeof source === 'string') {
      const fs = await nodeFs();
      try {
        bytes = new Uint8Array(await fs.readFile(source));
      } catch (e) {
        throw new Error(`${where}: cannot read ${label} (${(e as Error).message})`);
      }
    } else if (source instanceof Uint8Array) bytes = source;
    else if (source instanceof ArrayBuffer) bytes = new Uint8Array(source);
    else if (typeof Blob !== 'undefined' && source instanceof Blob) bytes = new Uint8Array(await source.arrayBuffer());
    else throw new Error(`${where}: source must be a path, bytes or a Blob`);
    let parsed: ReturnType<typeof parseSafetensors>;
    try {
      parsed = parseSafetensors(bytes);
    } catch (e) {
      throw new Error(`${where}: ${label} is not an index file (${(e as Error).message})`);
    }
    const meta = parsed.metadata;
    if (meta.format !== PERSON_SEARCH_DEFAULTS.indexFormat) {
      throw new Error(`${where}: ${label} is not an irra-tfjs index (format ${JSON.stringify(meta.format)})`);
    }
    if (meta.version !== PERSON_SEARCH_DEFAULTS.indexVersion) {
      throw new Error(
        `${where}: ${label} has index version ${JSON.stringify(meta.version)}, expected ${PERSON_SEARCH_DEFAULTS.indexVersion}`,
      );
    }
    const search = await PersonSearch.create(options);
    try {
      if (meta.fingerprint !== search.fingerprint) {
        throw new Error(
          `${where}: ${label} was built with another model or preprocessing (fingerprint ${meta.fingerprint}, this model's is ${search.fingerprint}); index the gallery again with this model`,
        );
      }
      const feats = parsed.tensors.get('features');
      const idBytes = parsed.tensors.get('ids');
      if (!feats || !idBytes) throw new Error(`${where}: ${label} lacks its features or ids`);
      const dec = new TextDecoder();
      const ids = JSON.parse(dec.decode(Uint8Array.from(idBytes.data))) as string[];
      const metaRows = parsed.tensors.get('metadata');
      const metadata = metaRows
        ? (JSON.parse(dec.decode(Uint8Array.from(metaRows.data))) as Array<RowMetadata | null>).map(
            (m) => m ?? undefined,
          )
        : undefined;
      const [n, dim] = feats.shape;
      if (ids.length !== n || dim !== search.engine.embedDim) {
        throw new Error(
          `${where}: ${label} holds ${ids.length} ids for ${n} rows of ${dim}-d features (model: ${search.engine.embedDim}-d)`,
        );
      }
      if (n > 0) {
        if ((await search.store.count()) > 0) throw new Error(`${where}: options.store must be empty`);
        await search.store.add(ids, feats.data as Float32Array, metadata);
        search.count = n;
      }
      return search;
    } catch (e) {
      await search.dispose();
      throw e;
    }
  }

  /**
   * Closes the store and the engine (the model stays the caller's); resolves when both are closed.
   * Safe to call twice.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.sources.clear();
    await Promise.all([this.store.close(), this.engine.dispose(), this.workerPool?.close()]);
    this.workerPool = null;
  }

  /** `await using search = await PersonSearch.create(...)` disposes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /** `using search = …` starts disposing at the end of the scope (use `await using` to wait for it). */
  [Symbol.dispose](): void {
    void this.dispose();
  }
}

/** Runs `f` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  });
  await Promise.all(runners);
  return out;
}

async function resolveEngine(model: IRRA, engine: 'tfjs' | 'onnxruntime' | EncoderEngine): Promise<EncoderEngine> {
  if (engine === 'tfjs') return createTfjsEngine(model);
  if (engine === 'onnxruntime') {
    const { createOnnxEngine } = await import('./engines/onnxruntime');
    return createOnnxEngine(model);
  }
  if (
    engine &&
    typeof engine === 'object' &&
    typeof engine.encodeImages === 'function' &&
    typeof engine.encodeTexts === 'function'
  ) {
    return engine;
  }
  throw new Error(
    `PersonSearch.create: options.engine must be 'tfjs', 'onnxruntime' or an EncoderEngine, got ${JSON.stringify(engine)}`,
  );
}
