import * as tf from '@tensorflow/tfjs-core';
import { encodeGalleryInWorkers } from '../src/eval/workers';
import type { IRRA } from '../src/model';

/** What {@link workerThroughput} measured for one worker count. */
export interface WorkerThroughput {
  /** Images/s once the workers run (start-up excluded). */
  steady: number;
  /** Images/s of the long gallery, start-up included. */
  withStartUp: number;
  /** Seconds of start-up (spawning, loading the backend, rebuilding the model). */
  startUp: number;
  /** Seconds of the short and of the long gallery. */
  shortSeconds: number;
  longSeconds: number;
  /** Images in the short and the long gallery. */
  shortImages: number;
  longImages: number;
}

async function gallerySeconds(model: IRRA, images: number, workers: number, backend: string): Promise<number> {
  const gallery = tf.randomNormal([images, 384, 128, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const t0 = performance.now();
  (await encodeGalleryInWorkers(model, gallery, { workers, batchSize: 1, backend })).dispose();
  const s = (performance.now() - t0) / 1000;
  gallery.dispose();
  return s;
}

/**
 * Steady-state throughput of `encodeGalleryInWorkers` (ViT-B/16 384×128 images, batch 1): a short
 * gallery (one image per worker, mostly start-up) and a long one (`extra` more per worker); steady
 * images/s = extra images / extra seconds, since the start-up is the same in both. The short one
 * runs before and after the long one (mean), so that a start-up that shortens once the process is
 * warm does not bias the difference.
 */
export async function workerThroughput(
  model: IRRA,
  workers: number,
  extra: number,
  backend = 'wasm',
): Promise<WorkerThroughput> {
  const shortImages = workers;
  const longImages = workers * (1 + extra);
  const first = await gallerySeconds(model, shortImages, workers, backend);
  const longSeconds = await gallerySeconds(model, longImages, workers, backend);
  const shortSeconds = (first + (await gallerySeconds(model, shortImages, workers, backend))) / 2;
  const steady = (longImages - shortImages) / (longSeconds - shortSeconds);
  return {
    steady,
    withStartUp: longImages / longSeconds,
    startUp: shortSeconds - shortImages / steady,
    shortSeconds,
    longSeconds,
    shortImages,
    longImages,
  };
}
