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

/**
 * The global image features of `images` (float32 NHWC `[N, H, W, 3]`, normalized as for
 * `model.encodeImage`) computed by `options.workers` worker threads, each running its own copy of
 * `model` (its state dict passed once as safetensors bytes in a SharedArrayBuffer) on its own
 * tfjs backend, batch by batch from a shared queue. Node only. Equal to `model.encodeImage(images)`
 * within float32 rounding. The workers are terminated before the promise settles, also on error.
 * Returns a new `[N, embedDim]` tensor owned by the caller; `images` stays the caller's.
 *
 * @throws Error (rejects) on bad options or images, or when a worker fails to start or encode.
 */
export async function encodeGalleryInWorkers(
  model: IRRA,
  images: tf.Tensor4D,
  options: GalleryWorkersOptions = {},
): Promise<tf.Tensor2D> {
  const workers = options.workers ?? GALLERY_WORKERS_DEFAULTS.workers;
  const batchSize = options.batchSize ?? GALLERY_WORKERS_DEFAULTS.batchSize;
  const backend = options.backend ?? GALLERY_WORKERS_DEFAULTS.backend;
  for (const [name, v] of [
    ['workers', workers],
    ['batchSize', batchSize],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`encodeGalleryInWorkers: options.${name} must be a positive integer, got ${String(v)}`);
    }
  }
  if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.dtype !== 'float32') {
    const got = images instanceof tf.Tensor ? `${images.dtype} [${images.shape}]` : typeof images;
    throw new Error(`encodeGalleryInWorkers: images must be a float32 [N, H, W, 3] tensor, got ${got}`);
  }
  model.visual.checkImages(images, 'images');
  const [n, h, w, c] = images.shape;
  const embed = model.config.embedDim;
  const out = new Float32Array(n * embed);
  if (n === 0) return tf.tensor2d(out, [0, embed]);

  const state = model.stateDict();
  let bytes: Uint8Array;
  try {
    bytes = serializeSafetensors(state);
  } finally {
    for (const t of state.values()) t.dispose();
  }
  const shared = new SharedArrayBuffer(bytes.byteLength);
  new Uint8Array(shared).set(bytes);
  const pixels = (await images.data()) as Float32Array;
  const per = h * w * c;
  const batches: number[] = [];
  for (let s = 0; s < n; s += batchSize) batches.push(s);

  const wt = await workerThreads();
  const data: GalleryWorkerData = {
    weights: shared,
    config: { ...model.config } as unknown as Record<string, unknown>,
    backend,
  };
  const pool: NodeWorker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let done = 0;
      let failed = false;
      const fail = (e: Error) => {
        if (!failed) {
          failed = true;
          reject(e);
        }
      };
      const feed = (worker: NodeWorker) => {
        if (next >= batches.length) return;
        const start = batches[next];
        const id = next++;
        const count = Math.min(batchSize, n - start);
        const slice = pixels.slice(start * per, (start + count) * per);
        const msg: GalleryWorkerRequest = { id, images: slice, shape: [count, h, w, c] };
        worker.postMessage(msg, [slice.buffer]);
      };
      const count = Math.min(workers, batches.length);
      for (let i = 0; i < count; i++) {
        const worker = startNodeWorker(wt, GALLERY_WORKER, data);
        pool.push(worker);
        worker.on('error', (e: Error) => fail(new Error(`encodeGalleryInWorkers: worker ${i} failed: ${e.message}`)));
        worker.on('exit', (code: number) => {
          if (done < batches.length) fail(new Error(`encodeGalleryInWorkers: worker ${i} exited (code ${code}) early`));
        });
        worker.on('message', (m: GalleryWorkerReply) => {
          if (m.error !== undefined) {
            fail(new Error(`encodeGalleryInWorkers: worker ${i}: ${m.error}`));
            return;
          }
          if (m.ready) {
            feed(worker);
            return;
          }
          if (m.id === undefined || !m.feats) return;
          out.set(m.feats, batches[m.id] * embed);
          done++;
          if (done === batches.length) resolve();
          else feed(worker);
        });
      }
    });
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
  return tf.tensor2d(out, [n, embed]);
}
