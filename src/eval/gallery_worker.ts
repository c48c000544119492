/**
 * The worker-thread side of {@link encodeGalleryInWorkers} (Node `worker_threads` only): builds
 * its own IRRA on its own tfjs backend from the safetensors bytes in `workerData`, then answers
 * each `{ id, images, shape }` message with `{ id, feats }` (the L2-unnormalized global image
 * features of `IRRA.encodeImage`, float32 `[B, embedDim]`), and `{ error }` when something fails.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { selectBackend } from '../backends';
import type { IRRAConfig } from '../config';
import { IRRA } from '../model/irra';
import { workerThreads } from '../util/node_workers';
import { readSafetensors } from '../weights/safetensors';
import type { GalleryWorkerData, GalleryWorkerReply, GalleryWorkerRequest } from './workers';

async function start(): Promise<void> {
  const wt = await workerThreads();
  const port = wt.parentPort;
  if (!port) throw new Error('gallery_worker: must run in a worker thread');
  const data = wt.workerData as GalleryWorkerData;
  const reply = (m: GalleryWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  try {
    await selectBackend([data.backend]);
    const weights = readSafetensors(new Uint8Array(data.weights));
    const model = IRRA.fromStateDict(weights, data.config as unknown as IRRAConfig);
    for (const t of weights.values()) t.dispose();
    port.on('message', (msg: GalleryWorkerRequest) => {
      try {
        const feats = tf.tidy(() => model.encodeImage(tf.tensor4d(msg.images, msg.shape)));
        const values = feats.dataSync() as Float32Array;
        feats.dispose();
        reply({ id: msg.id, feats: values }, [values.buffer as ArrayBuffer]);
      } catch (e) {
        reply({ id: msg.id, error: (e as Error).message });
      }
    });
    reply({ ready: true, backend: tf.getBackend() });
  } catch (e) {
    reply({ error: (e as Error).message });
  }
}

void start();
