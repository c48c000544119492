/**
 * Steady-state throughput of `encodeGalleryInWorkers` (ViT-B/16, 384×128 images, wasm), start-up
 * excluded. Each worker count runs two galleries, a short one (`workers` images: one per worker,
 * mostly start-up: spawning, loading the backend, rebuilding the model from the shared weights)
 * and a long one (`--images` more per worker); steady images/s = extra images / extra seconds,
 * since the start-up is the same in both (the short one runs before and after the long one, and
 * the mean is used). Also prints the images/s with start-up included (what
 * `npm run bench` reports as `image_encode_workers_N`) and the start-up estimate.
 *
 * Run: npx tsx bench/workers.ts [--images 8]
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { irraConfig } from '../src/config';
import { IRRA } from '../src/model';
import { numberOption } from './args';
import { workerThroughput } from './worker_rate';

const EXTRA = numberOption('images', 8);

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  const model = IRRA.create(irraConfig({ preset: 'ViT-B/16' }), { seed: 0 });
  console.log(
    '| workers | images (short, long) | s (short, long) | images/s incl. start-up | steady images/s | start-up s |',
  );
  console.log('|---|---|---|---|---|---|');
  const steady: number[] = [];
  for (const workers of [1, 2]) {
    const r = await workerThroughput(model, workers, EXTRA);
    steady.push(r.steady);
    console.log(
      `| ${workers} | ${r.shortImages}, ${r.longImages} | ${r.shortSeconds.toFixed(1)}, ${r.longSeconds.toFixed(1)} | ${r.withStartUp.toFixed(3)} | ${r.steady.toFixed(3)} | ${r.startUp.toFixed(1)} |`,
    );
  }
  console.log(
    `steady state, 2 workers / 1 worker: ${(steady[1] / steady[0]).toFixed(2)}x (load average ${(
      await import('node:os')
    )
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})`,
  );
  model.dispose();
}
main();
