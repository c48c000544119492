/**
 * Encoding an image gallery in several Node `worker_threads`, each with its own tfjs backend and
 * its own copy of the weights. tfjs-wasm runs one thread in Node (its multithreaded build is
 * disabled there), so this is how a second core helps with gallery encoding.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { IRRA } from '../model/irra';
import { type NodeWorker, startNodeWorker, workerThreads } from '../util/node_workers';
import { serializeSafetensors } from '../weights/safetensors';

/** Defaults of {@link encodeGalleryInWorkers}. */
export const GALLERY_WORKERS_DEFAULTS = {
  /** Number of worker threads. */
  workers: 2,
  /** Images per message to a worker. */
  batchSize: 8,
  /** Backend of each worker (loaded with `selectBackend`). */
  backend: 'wasm',
} as const;

/** Options of {@link encodeGalleryInWorkers}. */
export interface GalleryWorkersOptions {
  /** Number of worker threads (≥ 1). Default {@link GALLERY_WORKERS_DEFAULTS}.workers. */
  workers?: number;
  /** Images per batch sent to a worker (≥ 1). Default {@link GALLERY_WORKERS_DEFAULTS}.batchSize. */
  batchSize?: number;
  /** tfjs backend each worker uses. Default {@link GALLERY_WORKERS_DEFAULTS}.backend. */
  backend?: string;
}

/** `workerData` of a gallery worker (internal protocol). */
export interface GalleryWorkerData {
  /** The model's state dict as safetensors bytes (shared, read-only). */
  weights: SharedArrayBuffer;
  /** The model's config (plain object). */
  config: Record<string, unknown>;
  backend: string;
}
/** A batch of NHWC images sent to a gallery worker (internal protocol). */
export interface GalleryWorkerRequest {
  id: number;
  images: Float32Array;
  shape: [number, number, number, number];
}
/** A gallery worker's message (internal protocol). */
export interface GalleryWorkerReply {
  id?: number;
  feats?: Float32Array;
  ready?: boolean;
  backend?: string;
  error?: string;
}

const GALLERY_WORKER = { name: 'gallery_worker', source: '../eval/gallery_worker.ts' };

/** Options of {@link GalleryWorkerPool.start}. */
export interface GalleryWorkerPoolOptions {
  /** Number of worker threads (≥ 1). Default {@link GALLERY_WORKERS_DEFAULTS}.workers. */
  workers?: number;
  /** tfjs backend each worker uses. Default {@link GALLERY_WORKERS_DEFAULTS}.backend. */
  backend?: string;
}

const checkCount = (where: string, name: string, v: unknown): number => {
  if (!Number.isInteger(v) || (v as number) < 1) {
    throw new Error(`${where}: options.${name} must be a positive integer, got ${String(v)}`);
  }
  return v as number;
};

/**
 * Worker threads that each hold a copy of a model (its state dict passed once, as safetensors bytes
 * in a SharedArrayBuffer) on their own tfjs backend, kept alive across calls so that a long
 * indexing job pays the start-up (the weights' transfer and the backend's initialisation) once.
 * Node only. {@link encodeGalleryInWorkers} is a pool started, used once and closed; `PersonSearch`
 * keeps one for its `addImages` calls. Calls to {@link GalleryWorkerPool.encode} run one at a time.
 */
export class GalleryWorkerPool {
  private readonly pool: NodeWorker[];
  private readonly embed: number;
  private readonly imageShape: [number, number, number];
  private handler: ((index: number, m: GalleryWorkerReply) => void) | null = null;
  private failure: Error | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(pool: NodeWorker[], embed: number, imageShape: [number, number, number]) {
    this.pool = pool;
    this.embed = embed;
    this.imageShape = imageShape;
  }

  /**
   * Starts `options.workers` workers with a copy of `model` each, and resolves once all are ready.
   * @throws Error (rejects, with every started worker terminated) on bad options or a failed start.
   */
  static async start(model: IRRA, options: GalleryWorkerPoolOptions = {}): Promise<GalleryWorkerPool> {
    const where = 'GalleryWorkerPool.start';
    const workers = checkCount(where, 'workers', options.workers ?? GALLERY_WORKERS_DEFAULTS.workers);
    const backend = options.backend ?? GALLERY_WORKERS_DEFAULTS.backend;
    const state = model.stateDict();
    let bytes: Uint8Array;
    try {
      bytes = serializeSafetensors(state);
    } finally {
      for (const t of state.values()) t.dispose();
    }
    const shared = new SharedArrayBuffer(bytes.byteLength);
    new Uint8Array(shared).set(bytes);
    const wt = await workerThreads();
    const data: GalleryWorkerData = {
      weights: shared,
      config: { ...model.config } as unknown as Record<string, unknown>,
      backend,
    };
    const [h, w] = model.config.imageSize;
    const pool = new GalleryWorkerPool([], model.config.embedDim, [h, w, 3]);
    const ready: Array<Promise<void>> = [];
    for (let i = 0; i < workers; i++) {
      const worker = startNodeWorker(wt, GALLERY_WORKER, data);
      pool.pool.push(worker);
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.on('error', (e: Error) => {
            const err = new Error(`worker ${i} failed: ${e.message}`);
            pool.fail(err);
            reject(err);
          });
          worker.on('exit', (code: number) => {
            if (!pool.closed) {
              const err = new Error(`worker ${i} exited (code ${code}) early`);
              pool.fail(err);
              reject(err);
            }
          });
          worker.on('message', (m: GalleryWorkerReply) => {
            if (m.ready) resolve();
            else if (m.error !== undefined && !pool.handler) {
              const err = new Error(`worker ${i}: ${m.error}`);
              pool.fail(err);
              reject(err);
            } else pool.handler?.(i, m);
          });
        }),
      );
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.pool.length;
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    this.handler?.(-1, { error: e.message });
  }

  /**
   * Global image features of `count` NHWC images (row-major float32, normalised as for
   * `model.encodeImage`), sent to the workers in batches of `batchSize` from a shared queue.
   * Returns row-major `[count, embedDim]`. `pixels` stays the caller's.
   * @throws Error (rejects) when a worker fails; the pool cannot be used afterwards.
   */
  encode(
    pixels: Float32Array,
    count: number,
    batchSize: number = GALLERY_WORKERS_DEFAULTS.batchSize,
  ): Promise<Float32Array> {
    const run = this.queue.then(() => this.encodeNow(pixels, count, batchSize));
    this.queue = run.catch(() => {});
    return run;
  }

  private encodeNow(pixels: Float32Array, count: number, batchSize: number): Promise<Float32Array> {
    const where = 'GalleryWorkerPool.encode';
    if (this.closed) return Promise.reject(new Error(`${where}: the pool is closed`));
    if (this.failure) return Promise.reject(new Error(`${where}: ${this.failure.message}`));
    checkCount(where, 'batchSize', batchSize);
    const [h, w, c] = this.imageShape;
    const per = h * w * c;
    if (!Number.isSafeInteger(count) || count < 0 || pixels.length !== count * per) {
      return Promise.reject(new Error(`${where}: expected ${count} × ${h}×${w}×${c} floats, got ${pixels.length}`));
    }
    const out = new Float32Array(count * this.embed);
    if (count === 0) return Promise.resolve(out);
    const starts: number[] = [];
    for (let s = 0; s < count; s += batchSize) starts.push(s);
    return new Promise<Float32Array>((resolve, reject) => {
      let next = 0;
      let done = 0;
      const feed = (i: number) => {
        if (next >= starts.length) return;
        const id = next++;
        const start = starts[id];
        const n = Math.min(batchSize, count - start);
        const slice = pixels.slice(start * per, (start + n) * per);
        const msg: GalleryWorkerRequest = { id, images: slice, shape: [n, h, w, c] };
        this.pool[i].postMessage(msg, [slice.buffer]);
      };
      this.handler = (i, m) => {
        if (m.error !== undefined) {
          this.handler = null;
          reject(new Error(`${where}: ${i >= 0 ? `worker ${i}: ` : ''}${m.error}`));
          return;
        }
        if (m.id === undefined || !m.feats) return;
        out.set(m.feats, starts[m.id] * this.embed);
        done++;
        if (done === starts.length) {
          this.handler = null;
          resolve(out);
        } else feed(i);
      };
      for (let i = 0; i < this.pool.length; i++) feed(i);
    });
  }

  /** Terminates every worker. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = null;
    await Promise.all(this.pool.map((worker) => worker.terminate()));
  }
}

/**
 * The global image features of `images` (float32 NHWC `[N, H, W, 3]`, normalized as for
 * `model.encodeImage`) computed by `options.workers` worker threads, each running its own copy of
 * `model` on its own tfjs backend, batch by batch from a shared queue (a {@link GalleryWorkerPool}
 * started for this call). Node only. Equal to `model.encodeImage(images)` within float32 rounding.
 * The workers are terminated before the promise settles, also on error. Returns a new
 * `[N, embedDim]` tensor owned by the caller; `images` stays the caller's.
 *
 * @throws Error (rejects) on bad options or images, or when a worker fails to start or encode.
 */
export async function encodeGalleryInWorkers(
  model: IRRA,
  images: tf.Tensor4D,
  options: GalleryWorkersOptions = {},
): Promise<tf.Tensor2D> {
  const where = 'encodeGalleryInWorkers';
  const workers = checkCount(where, 'workers', options.workers ?? GALLERY_WORKERS_DEFAULTS.workers);
  const batchSize = checkCount(where, 'batchSize', options.batchSize ?? GALLERY_WORKERS_DEFAULTS.batchSize);
  if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.dtype !== 'float32') {
    const got = images instanceof tf.Tensor ? `${images.dtype} [${images.shape}]` : typeof images;
    throw new Error(`${where}: images must be a float32 [N, H, W, 3] tensor, got ${got}`);
  }
  model.visual.checkImages(images, 'images');
  const [n] = images.shape;
  const embed = model.config.embedDim;
  if (n === 0) return tf.tensor2d(new Float32Array(0), [0, embed]);
  const pixels = (await images.data()) as Float32Array;
  const batches = Math.ceil(n / batchSize);
  let pool: GalleryWorkerPool;
  try {
    pool = await GalleryWorkerPool.start(model, { workers: Math.min(workers, batches), backend: options.backend });
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  try {
    return tf.tensor2d(await pool.encode(pixels, n, batchSize), [n, embed]);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message.replace(/^GalleryWorkerPool\.encode: /, '')}`);
  } finally {
    await pool.close();
  }
}
