/**
 * Data pipeline throughput: JPEG decoding, Pillow-style resize, the augmented transform per
 * backend, and how much of a simulated training step's wait prefetching hides.
 * The simulated step is an idle async wait (like awaiting a backend); a synchronous step would
 * not overlap with loading, since JavaScript runs one thing at a time.
 * Run: npx tsx bench/data.ts
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import jpeg from 'jpeg-js';
import type { TrainSample } from '../src/data/annotations';
import { DataLoader, disposeBatch } from '../src/data/batch';
import { decodeImage } from '../src/data/image';
import { seededRng } from '../src/data/random';
import { buildTransforms, resizeBilinearPil } from '../src/data/transforms';

function time(fn: () => void, reps: number): number {
  fn();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - t0) / reps;
}

async function timeAsync(fn: () => Promise<void>, reps: number): Promise<number> {
  await fn();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  return (performance.now() - t0) / reps;
}

// A CUHK-PEDES-like crop: 100×260 pixels (the dataset's images are small and get enlarged).
const W = 100;
const H = 260;
const rgba = Buffer.alloc(W * H * 4);
for (let i = 0; i < W * H; i++) {
  rgba[4 * i] = (i * 7) % 256;
  rgba[4 * i + 1] = (i >> 3) % 256;
  rgba[4 * i + 2] = (i * 13) % 200;
  rgba[4 * i + 3] = 255;
}
const jpegBytes = jpeg.encode({ data: rgba, width: W, height: H }, 90).data;
const decoded = await decodeImage(jpegBytes);

const rows: string[][] = [];
rows.push(['JPEG decode 100×260', (await timeAsync(async () => void (await decodeImage(jpegBytes)), 50)).toFixed(2)]);
rows.push(['resizeBilinearPil → 384×128', time(() => void resizeBilinearPil(decoded, [384, 128]), 50).toFixed(2)]);
for (const backend of ['cpu', 'wasm']) {
  await tf.setBackend(backend);
  await tf.ready();
  const t = buildTransforms({ aug: true, rng: seededRng(0) });
  rows.push([`augmented transform (${backend})`, time(() => t(decoded).dispose(), 30).toFixed(2)]);
}

// Prefetch: 8 batches of 8 images read from disk, consumer "trains" for a fixed async wait.
await tf.setBackend('wasm');
const dir = await mkdtemp(join(tmpdir(), 'irra-bench-'));
const samples: TrainSample[] = [];
for (let i = 0; i < 32; i++) {
  const p = join(dir, `${i}.jpg`);
  await writeFile(p, jpegBytes);
  samples.push({ pid: i % 16, imageId: i, imgPath: p, caption: 'a person' });
}
const encodeText = (texts: string[], n: number) => new Int32Array(texts.length * n).fill(1);
const stepMs = 400;
const epochMs: Record<number, number> = {};
for (const prefetch of [0, 1, 2] as const) {
  const loader = new DataLoader(samples, {
    batchSize: 4,
    transform: buildTransforms({ aug: true }),
    encodeText,
    contextLength: 8,
    prefetch,
  });
  const t0 = performance.now();
  for await (const b of loader.epoch(0)) {
    await new Promise((r) => setTimeout(r, stepMs));
    disposeBatch(b);
  }
  epochMs[prefetch] = performance.now() - t0;
}
await rm(dir, { recursive: true, force: true });
const stepsOnly = 8 * stepMs;
for (const p of [0, 1, 2]) {
  rows.push([
    `epoch of 8 batches × 4 images, ${stepMs} ms async step, prefetch ${p}`,
    `${epochMs[p].toFixed(0)} (steps alone ${stepsOnly}; loading visible ${(epochMs[p] - stepsOnly).toFixed(0)})`,
  ]);
}

console.log('| measurement | ms |');
console.log('| --- | --- |');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
