import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import { encodeGalleryInWorkers, GALLERY_WORKERS_DEFAULTS, GalleryWorkerPool } from '../src/eval/workers';
import type { IRRA, IRRABatch } from '../src/model';
import { useFixtureModel } from './helpers/model_fixtures';
import { watchWorkers } from './helpers/workers';

const backend = process.env.IRRA_TEST_BACKEND ?? 'cpu';

describe('encodeGalleryInWorkers', () => {
  let model: IRRA;
  let batch: IRRABatch;
  useFixtureModel('tiny_a', (fixture) => {
    ({ model, batch } = fixture);
  });

  it('equals single-thread encoding, shuts its workers down and leaks no tensor', async () => {
    const images = tf.concat([batch.images, tf.reverse(batch.images, 2), batch.images]) as tf.Tensor4D;
    const expected = model.encodeImage(images);
    const tensorsBefore = tf.memory().numTensors;
    const run = await watchWorkers(() => encodeGalleryInWorkers(model, images, { workers: 2, batchSize: 2, backend }));
    const got = run.result as tf.Tensor2D;
    expect(tf.memory().numTensors).toBe(tensorsBefore + 1);
    expect(run.exited).toEqual([true, true]);
    expect(got.shape).toEqual(expected.shape);
    const a = got.dataSync();
    const e = expected.dataSync();
    let worst = 0;
    for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(a[i] - e[i]));
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([images, expected, got]);
  }, 60_000);

  it('uses the defaults when no options are given', async () => {
    expect(GALLERY_WORKERS_DEFAULTS).toEqual({ workers: 2, batchSize: 8, backend: 'wasm' });
    const got = await encodeGalleryInWorkers(model, batch.images, { backend });
    expect(got.shape).toEqual([batch.images.shape[0], model.config.embedDim]);
    got.dispose();
  }, 60_000);

  it('rejects bad options and images, naming the argument', async () => {
    await expect(encodeGalleryInWorkers(model, batch.images, { workers: 0 })).rejects.toThrow(
      /options.workers must be a positive integer, got 0/,
    );
    await expect(encodeGalleryInWorkers(model, batch.images, { batchSize: 1.5 })).rejects.toThrow(
      /options.batchSize must be a positive integer, got 1.5/,
    );
    const ints = tf.zeros([1, 2, 2, 3], 'int32') as tf.Tensor4D;
    await expect(encodeGalleryInWorkers(model, ints)).rejects.toThrow(
      /images must be a float32 \[N, H, W, 3\] tensor, got int32 \[1,2,2,3\]/,
    );
    ints.dispose();
  });

  it('reports a backend that cannot start, and still shuts its workers down', async () => {
    const run = await watchWorkers(() =>
      encodeGalleryInWorkers(model, batch.images, { backend: 'nonexistent', workers: 1 }),
    );
    expect(String(run.error)).toMatch(
      /encodeGalleryInWorkers: worker 0: selectBackend: none of the backends \[nonexistent\]/,
    );
    expect(run.exited).toEqual([true]);
  }, 60_000);
});

describe('GalleryWorkerPool', () => {
  let model: IRRA;
  let batch: IRRABatch;
  useFixtureModel('tiny_a', (fixture) => {
    ({ model, batch } = fixture);
  });

  it('keeps its workers across calls, equals in-process encoding, and refuses work once closed', async () => {
    const expected = model.encodeImage(batch.images);
    const want = expected.dataSync();
    const pixels = batch.images.dataSync() as Float32Array;
    const n = batch.images.shape[0];
    const run = await watchWorkers(async () => {
      const pool = await GalleryWorkerPool.start(model, { workers: 2, backend });
      const starts = vi.spyOn(Worker.prototype, 'postMessage');
      const first = await pool.encode(pixels, n, 1);
      const second = await pool.encode(pixels, n, 3);
      starts.mockRestore();
      expect(pool.size).toBe(2);
      await pool.close();
      await expect(pool.encode(pixels, n)).rejects.toThrow(/the pool is closed/);
      await expect(pool.close()).resolves.toBeUndefined();
      return [first, second];
    });
    expect(run.error).toBeUndefined();
    expect(run.exited).toEqual([true, true]);
    for (const got of run.result as Float32Array[]) {
      for (let i = 0; i < want.length; i++)
        expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(want[i])));
    }
    expected.dispose();
  }, 120_000);
});
