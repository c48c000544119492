/**
 * `IRRA.load`: one call from any checkpoint to a model. Sources are read (downloaded, from disk,
 * from a Blob), parsed into raw tensors under their stored names, mapped to the reference names,
 * and copied into the model one parameter at a time, so that no second full copy of the weights
 * is ever held in tensors.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type IRRAConfig, patchGrid } from '../config';
import { concatBytes } from '../util/bytes';
import { nodeFs } from '../util/node';
import { readCheckpointRaw } from '../weights/checkpoint';
import { openFileByteSource } from '../weights/file_source';
import { convertStateDict } from '../weights/name_maps';
import { POS_EMBED_DEFAULTS, resizePosEmbed } from '../weights/pos_embed';
import { parseSafetensors, parseSafetensorsSource, type RawTensor } from '../weights/safetensors';
import { loadWeights } from '../weights/tfjs_io';
import { readTorchArchive } from '../weights/torch';
import { inferConfig } from './infer_config';
import { IRRA } from './irra';

/**
 * What {@link IRRA.load} reads: a Node path (a checkpoint file, or a folder / `model.json` of the
 * tfjs format), a URL (`http(s):`, `file:`; a URL ending in `model.json` is the tfjs format),
 * the file's bytes, a `Blob`/`File`, or a state dict already in memory (reference names, PyTorch
 * layout, as `loadCheckpoint` returns it; its tensors stay the caller's).
 */
export type ModelSource = string | URL | Uint8Array | ArrayBuffer | Blob | Map<string, tf.Tensor>;

/** One progress report of {@link IRRA.load}. */
export interface LoadProgress {
  /** 'download' (bytes of a URL or Blob), 'parse' (the container), 'build' (parameters copied). */
  phase: 'download' | 'parse' | 'build';
  /** Bytes or parameters done so far. */
  loaded: number;
  /** Bytes or parameters in all, or null when unknown (a download without Content-Length). */
  total: number | null;
  /** A note for the user, e.g. the warning that a checkpoint holds the CLIP towers only. */
  message?: string;
}

/** Defaults of {@link IRRA.load}: the reference's `--img_size` and `--stride_size`. */
export const IRRA_LOAD_DEFAULTS = {
  /** `[height, width]` of the person crops (reference `img_size` (384, 128)). */
  imageSize: [384, 128] as readonly [number, number],
  /** Patch stride (reference `stride_size` 16). */
  strideSize: 16,
  /** Cache name used with `cache: true` in browsers. */
  cacheName: 'irra-tfjs-checkpoints',
} as const;

/** Options of {@link IRRA.load}. */
export interface IRRALoadOptions {
  /**
   * `[height, width]` of the images the model takes. Default: the configuration stored in an
   * `irra-tfjs train` checkpoint, else {@link IRRA_LOAD_DEFAULTS}.imageSize (384×128). The image
   * positional embedding is resized bilinearly when the checkpoint's grid differs (as the
   * reference does for CLIP's square grids).
   */
  imageSize?: [number, number];
  /** Patch stride. Default: a train checkpoint's, else {@link IRRA_LOAD_DEFAULTS}.strideSize (16). */
  strideSize?: number;
  /** Called with progress through download, parse and build (and with warnings, as `message`). */
  onProgress?: (progress: LoadProgress) => void;
  /** Browsers: keep downloaded checkpoints in the Cache API, keyed by URL. Default false. */
  cache?: boolean;
}

type Acquired =
  | { kind: 'raw'; tensors: Map<string, RawTensor>; metadata: Record<string, string>; close?: () => void }
  | { kind: 'tensors'; tensors: Map<string, tf.Tensor>; owned: boolean };

const describeSource = (source: unknown): string => {
  if (typeof source === 'string') return `'${source}'`;
  if (source instanceof URL) return `'${source.href}'`;
  if (source instanceof Map) return 'a state dict (Map)';
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return `${source.byteLength} bytes`;
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as Blob & { name?: string }).name;
    return name ? `file '${name}'` : `a Blob of ${source.size} bytes`;
  }
  return Object.prototype.toString.call(source);
};

/** Trainer checkpoints (`irra-tfjs train`) mark themselves in the safetensors metadata. */
const TRAINER_FORMAT = 'irra-tfjs-trainer-checkpoint';
const OPTIMIZER_PREFIX = '__optimizer__/';

class LoadError extends Error {}

function step<T>(stepName: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof LoadError) throw e;
    throw new LoadError(`${stepName}: ${(e as Error).message}`);
  }
}

async function stepAsync<T>(stepName: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof LoadError) throw e;
    throw new LoadError(`${stepName}: ${(e as Error).message}`);
  }
}

function parseBytes(bytes: Uint8Array): Acquired {
  let metadata: Record<string, string> = {};
  let tensors: Map<string, RawTensor> | undefined;
  try {
    const parsed = parseSafetensors(bytes);
    metadata = parsed.metadata;
    tensors = parsed.tensors;
  } catch {
    tensors = undefined;
  }
  if (!tensors) tensors = readCheckpointRaw(bytes).tensors;
  return { kind: 'raw', tensors, metadata };
}

/** Reads a body with progress; preallocates when the length is known so the bytes are held once. */
async function readBody(res: Response, report: (loaded: number, total: number | null) => void): Promise<Uint8Array> {
  const header = res.headers.get('content-length');
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : null;
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    report(bytes.byteLength, bytes.byteLength);
    return bytes;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let into = total !== null ? new Uint8Array(total) : null;
  let loaded = 0;
  report(0, total);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (into && loaded + value.byteLength <= into.byteLength) into.set(value, loaded);
    else {
      if (into) {
        chunks.push(into.subarray(0, loaded));
        into = null;
      }
      chunks.push(value);
    }
    loaded += value.byteLength;
    report(loaded, total);
  }
  if (into) return loaded === into.byteLength ? into : into.subarray(0, loaded);
  return concatBytes(chunks);
}

async function download(url: string, options: IRRALoadOptions): Promise<Uint8Array> {
  const report = (loaded: number, total: number | null) => options.onProgress?.({ phase: 'download', loaded, total });
  const cache =
    options.cache && typeof caches !== 'undefined' ? await caches.open(IRRA_LOAD_DEFAULTS.cacheName) : undefined;
  const cached = cache ? await cache.match(url) : undefined;
  if (cached) return readBody(cached, report);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new Error(`${(e as Error).message}${cause ? ` (${cause})` : ''}`);
  }
  if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
  if (cache) {
    await cache.put(url, res.clone());
  }
  return readBody(res, report);
}

async function acquire(source: ModelSource, options: IRRALoadOptions): Promise<Acquired> {
  if (source instanceof Map) {
    for (const [k, t] of source) {
      if (!(t instanceof tf.Tensor) || t.isDisposed) throw new Error(`the state dict's '${k}' is not a live tf.Tensor`);
    }
    return { kind: 'tensors', tensors: source, owned: false };
  }
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    return step('parse', () => parseBytes(source instanceof Uint8Array ? source : new Uint8Array(source)));
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    options.onProgress?.({ phase: 'download', loaded: 0, total: source.size });
    const bytes = new Uint8Array(await source.arrayBuffer());
    options.onProgress?.({ phase: 'download', loaded: bytes.byteLength, total: source.size });
    return step('parse', () => parseBytes(bytes));
  }
  const text = source instanceof URL ? source.href : source;
  if (typeof text !== 'string' || text.length === 0) {
    throw new Error('expected a path, a URL, bytes (Uint8Array/ArrayBuffer), a Blob/File or a Map state dict');
  }
  if (/^https?:/i.test(text)) {
    if (/model\.json(\?.*)?$/i.test(text)) {
      return { kind: 'tensors', tensors: await stepAsync('download', () => loadWeights(text)), owned: true };
    }
    const bytes = await stepAsync('download', () => download(text, options));
    return step('parse', () => parseBytes(bytes));
  }
  const path = /^file:/i.test(text) ? decodeURIComponent(new URL(text).pathname) : text;
  const fs = await nodeFs();
  const info = await stepAsync('read', () => fs.stat(path));
  if (info.isDirectory() || /(^|[\\/])model\.json$/.test(path)) {
    const dir = info.isDirectory() ? path : path.replace(/[\\/]?model\.json$/, '') || '.';
    return { kind: 'tensors', tensors: await stepAsync('read', () => loadWeights(`file://${dir}`)), owned: true };
  }
  options.onProgress?.({ phase: 'download', loaded: 0, total: info.size });
  const head = new Uint8Array(9);
  const fh = await fs.open(path, 'r');
  try {
    await fh.read(head, 0, 9, 0);
  } finally {
    await fh.close();
  }
  const isSafetensors = head[8] === 0x7b && !(head[0] === 0x50 && head[1] === 0x4b);
  if (isSafetensors || (head[0] === 0x50 && head[1] === 0x4b)) {
    // Header / directory first; each tensor is read from the file when it is copied into the model.
    const file = await stepAsync('read', () => openFileByteSource(path));
    try {
      const parsed = step('parse', () =>
        isSafetensors
          ? parseSafetensorsSource(file.source)
          : { tensors: readTorchArchive(file.source).tensors, metadata: {} },
      );
      options.onProgress?.({ phase: 'download', loaded: info.size, total: info.size });
      return { kind: 'raw', tensors: parsed.tensors, metadata: parsed.metadata, close: file.close };
    } catch (e) {
      file.close();
      throw e;
    }
  }
  const bytes = new Uint8Array(await stepAsync('read', () => fs.readFile(path)));
  options.onProgress?.({ phase: 'download', loaded: info.size, total: info.size });
  return step('parse', () => parseBytes(bytes));
}

/** A raw tensor as a tfjs tensor (its data read once: a file-backed raw tensor reads at every access). */
function rawTensor(entry: RawTensor): tf.Tensor {
  const data = entry.data;
  return tf.tensor(data, entry.shape, data instanceof Float32Array ? 'float32' : 'int32');
}

/** Geometry the model gets, and the checkpoint's own grid when it can be known. */
function geometry(
  shapes: ReadonlyMap<string, readonly number[]>,
  stored: IRRAConfig | undefined,
  options: IRRALoadOptions,
): { overrides: Partial<IRRAConfig>; grid: [number, number]; sourceGrid: [number, number] | null; rows: number } {
  const conv = shapes.get('base_model.visual.conv1.weight');
  const pos = shapes.get(POS_EMBED_DEFAULTS.visualKey);
  if (!conv || !pos) {
    throw new Error(`the checkpoint has no ${conv ? POS_EMBED_DEFAULTS.visualKey : 'base_model.visual.conv1.weight'}`);
  }
  const patch = conv[3] as number;
  const imageSize = options.imageSize ?? stored?.imageSize ?? [...IRRA_LOAD_DEFAULTS.imageSize];
  const strideSize = options.strideSize ?? stored?.strideSize ?? IRRA_LOAD_DEFAULTS.strideSize;
  if (
    !Array.isArray(imageSize) ||
    imageSize.length !== 2 ||
    !imageSize.every((d) => Number.isSafeInteger(d) && d >= patch)
  ) {
    throw new Error(
      `options.imageSize must be [height, width] of integers ≥ the patch size ${patch}, got ${JSON.stringify(imageSize)}`,
    );
  }
  if (!Number.isSafeInteger(strideSize) || strideSize < 1) {
    throw new Error(`options.strideSize must be a positive integer, got ${JSON.stringify(strideSize)}`);
  }
  const grid = patchGrid(imageSize as [number, number], patch, strideSize);
  const rows = pos[0] as number;
  let sourceGrid: [number, number] | null = null;
  if (stored) sourceGrid = patchGrid(stored.imageSize, stored.visionPatchSize, stored.strideSize);
  else {
    const side = Math.round(Math.sqrt(rows - 1));
    if (side * side === rows - 1) sourceGrid = [side, side];
  }
  if (rows !== grid[0] * grid[1] + 1 && (!sourceGrid || sourceGrid[0] * sourceGrid[1] + 1 !== rows)) {
    throw new Error(
      `the image positional embedding has ${rows} rows, which is neither 1 + the ${grid[0]}×${grid[1]} grid of imageSize [${imageSize}] with stride ${strideSize} nor 1 + a square grid to resize; pass the imageSize and strideSize the checkpoint was trained with`,
    );
  }
  const overrides: Partial<IRRAConfig> = { ...(stored ?? {}), imageSize: [imageSize[0], imageSize[1]], strideSize };
  return { overrides, grid, sourceGrid, rows };
}

/**
 * Loads any checkpoint into a new {@link IRRA} (the implementation of {@link IRRA.load}).
 *
 * - Sources: see {@link ModelSource}. Formats: everything `loadCheckpoint` reads (IRRA `best.pth`,
 *   OpenAI TorchScript `ViT-B-16.pt`, CLIP state dicts, Hugging Face `model.safetensors`,
 *   `saveSafetensors` output), an `irra-tfjs train` checkpoint (its stored config is used; the
 *   optimizer state is skipped), and the tfjs format of `saveWeights` (a folder or `model.json`).
 * - The architecture is inferred from the shapes; `imageSize` defaults to 384×128 and
 *   `strideSize` to 16 (see {@link IRRALoadOptions}); the image positional embedding is resized
 *   when the checkpoint's grid differs.
 * - A CLIP-only checkpoint gives the towers only, with `sdm` as the loss: said through
 *   `onProgress` (`message`) and the model's `warnings`.
 * - Memory: each parameter is copied into the model and freed before the next; a safetensors
 *   file on disk is read tensor by tensor.
 *
 * @returns a new model owned by the caller (`dispose()`).
 * @throws Error naming the source and the step ('read', 'download', 'parse', 'names', 'config',
 *   'build') that failed; no tensor is left behind.
 */
export async function loadIRRA(source: ModelSource, options: IRRALoadOptions = {}): Promise<IRRA> {
  const label = `IRRA.load(${describeSource(source)})`;
  let acquired: Acquired | undefined;
  try {
    acquired = await acquire(source, options);
    let stored: IRRAConfig | undefined;
    let named: Map<string, RawTensor | tf.Tensor>;
    if (acquired.kind === 'raw') {
      const raw = acquired.tensors;
      if (acquired.metadata.format === TRAINER_FORMAT) {
        for (const k of [...raw.keys()]) if (k.startsWith(OPTIMIZER_PREFIX)) raw.delete(k);
        stored = step('config', () =>
          acquired?.kind === 'raw' && acquired.metadata.config
            ? (JSON.parse(acquired.metadata.config) as IRRAConfig)
            : undefined,
        );
      }
      named = step('names', () => convertStateDict(raw, 'auto').tensors);
      // `named` holds every tensor it needs; dropping the raw map lets each one be freed once copied.
      raw.clear();
    } else {
      named = acquired.tensors;
    }
    const shapes = new Map([...named].map(([k, t]) => [k, t.shape as readonly number[]]));
    const geo = step('config', () => geometry(shapes, stored, options));
    const warnings: string[] = [];
    const hasClassifier = shapes.has('classifier.weight');
    const hasFusion = shapes.has('cross_attn.in_proj_weight');
    if (!hasClassifier && !hasFusion) {
      warnings.push(
        "the checkpoint holds the CLIP towers only (no ID classifier, no IRR fusion encoder or MLM head): the model has the towers only, with 'sdm' as its loss",
      );
    }
    const shapesForConfig = new Map(shapes);
    shapesForConfig.set(POS_EMBED_DEFAULTS.visualKey, [
      geo.grid[0] * geo.grid[1] + 1,
      shapes.get(POS_EMBED_DEFAULTS.visualKey)?.[1] ?? 0,
    ]);
    const config = step('config', () => inferConfig(shapesForConfig, geo.overrides, 'config'));
    if (geo.rows !== geo.grid[0] * geo.grid[1] + 1) {
      warnings.push(
        `the image positional embedding was resized from a ${geo.sourceGrid?.join('×')} grid to ${geo.grid.join('×')} (imageSize [${config.imageSize}], stride ${config.strideSize})`,
      );
    }
    for (const message of warnings) options.onProgress?.({ phase: 'parse', loaded: 1, total: 1, message });
    const total = named.size;
    const used = new Set<string>();
    let done = 0;
    const model = step('build', () =>
      IRRA.fromWeights(config, (name) => {
        const entry = named.get(name);
        if (!entry) return undefined;
        used.add(name);
        let t: tf.Tensor =
          entry instanceof tf.Tensor
            ? acquired?.kind === 'tensors' && !acquired.owned
              ? tf.clone(entry)
              : entry
            : rawTensor(entry);
        if (!(entry instanceof tf.Tensor)) named.delete(name);
        if (name === POS_EMBED_DEFAULTS.visualKey && geo.rows !== geo.grid[0] * geo.grid[1] + 1 && geo.sourceGrid) {
          const resized = resizePosEmbed(t as tf.Tensor2D, geo.sourceGrid, geo.grid);
          t.dispose();
          t = resized;
        }
        done++;
        options.onProgress?.({ phase: 'build', loaded: done, total });
        return t;
      }),
    );
    const unexpected = [...shapes.keys()].filter((k) => !used.has(k));
    if (unexpected.length > 0) {
      model.dispose();
      throw new LoadError(
        `build: ${unexpected.length} weight(s) are not parameters of the inferred model: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ', ...' : ''}`,
      );
    }
    model.warnings.push(...warnings);
    return model;
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    throw new Error(`${label}: ${e instanceof LoadError ? message : `read: ${message}`}`);
  } finally {
    if (acquired?.kind === 'raw') acquired.close?.();
    if (acquired?.kind === 'tensors' && acquired.owned) {
      for (const t of acquired.tensors.values()) if (!t.isDisposed) t.dispose();
    }
  }
}
