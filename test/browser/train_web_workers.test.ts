// Data-parallel training in Web Workers (issue 15 §3): the group of test/train_workers.test.ts,
// with each worker a module Web Worker (train_worker_entry.ts) instead of a Node worker thread.
import '@tensorflow/tfjs-backend-wasm';
import './wasm_paths';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildOptimizer, DataParallelGroup, serveTrainWorker, Trainer } from '../../src/index';
import type { IRRA, IRRABatch } from '../../src/model';
import {
  disposeTrainBatch,
  expectSingleProcessGradients,
  parameterValues,
  singleProcess,
  trainBatch,
  worstRelative,
} from '../helpers/data_parallel';
import { loadFixtureModel } from '../helpers/model_fixtures';

const createWorker = () => new Worker(new URL('./train_worker_entry.ts', import.meta.url), { type: 'module' });

/** Runs `fn`, returning how many workers it terminated. */
async function countTerminated<T>(fn: () => Promise<T>): Promise<{ result?: T; error?: unknown; terminated: number }> {
  const spy = vi.spyOn(Worker.prototype, 'terminate');
  try {
    return { result: await fn(), terminated: spy.mock.calls.length };
  } catch (error) {
    return { error, terminated: spy.mock.calls.length };
  } finally {
    spy.mockRestore();
  }
}

describe('data-parallel training in Web Workers', () => {
  let model: IRRA;
  let batch: IRRABatch;
  let initial: Map<string, tf.Tensor>;
  let pageBackend: string;
  beforeAll(async () => {
    pageBackend = tf.getBackend();
    expect(globalThis.crossOriginIsolated).toBe(true);
    await tf.setBackend('cpu');
    ({ model, batch } = loadFixtureModel('tiny_a'));
    initial = model.stateDict();
  });
  afterAll(async () => {
    model.dispose();
    for (const t of Object.values(batch)) (t as tf.Tensor | undefined)?.dispose();
    for (const t of initial.values()) t.dispose();
    await tf.setBackend(pageBackend);
  });

  for (const backend of ['cpu', 'wasm']) {
    it(`2 Web Workers on ${backend} give the single-process losses and gradients within 1e-5 relative, leaking nothing`, async () => {
      await tf.setBackend(backend);
      model.loadStateDict(initial);
      const single = singleProcess(model, batch, [0, 1, 2, 3]);
      const spread = worstRelative(singleProcess(model, batch, [2, 3, 0, 1]).grads, single.grads);
      const before = tf.memory().numTensors;
      const run = await countTerminated(async () => {
        const group = await DataParallelGroup.start(model, { workers: 2, backend, createWorker });
        try {
          const b = trainBatch(batch);
          const first = await group.gradients(b);
          const second = await group.gradients(b);
          disposeTrainBatch(b);
          return { first, second };
        } finally {
          await group.close();
        }
      });
      expect(run.error).toBeUndefined();
      expect(run.terminated).toBe(2);
      expectSingleProcessGradients(
        `[web workers] 2 workers vs one process (${backend})`,
        run.result as NonNullable<typeof run.result>,
        single,
        spread,
        before,
      );
      await tf.setBackend('cpu');
    }, 120_000);
  }

  /** Trains one epoch of 2 batches with Adam (host state); returns each step's loss and the final weights. */
  async function adamRun(workers: number, signal?: AbortSignal, onStep?: () => void) {
    model.loadStateDict(initial);
    const optimizer = buildOptimizer(model, { lr: 1e-3, stateStorage: 'host' });
    const losses: number[] = [];
    const result = await new Trainer(model, {
      optimizer,
      trainData: (epoch) => [
        trainBatch(batch),
        trainBatch(
          batch,
          Array.from(batch.pids.dataSync()).map((p) => (p + epoch) % model.config.numClasses),
        ),
      ],
      numEpochs: 1,
      progress: 'none',
      workers,
      workerBackend: 'cpu',
      createWorker,
      ...(signal ? { signal } : {}),
      onStep: (s) => {
        losses.push(s.totalLoss);
        onStep?.();
      },
    }).train();
    optimizer.dispose();
    return { losses, weights: parameterValues(model), result };
  }

  it('two Adam steps through the Trainer with 2 Web Workers match one process', async () => {
    const start = parameterValues(model);
    const before = tf.memory().numTensors;
    const one = await adamRun(1);
    const run = await countTerminated(() => adamRun(2));
    expect(run.error).toBeUndefined();
    expect(run.terminated).toBe(2);
    const two = run.result as NonNullable<typeof run.result>;
    const delta = (w: Map<string, Float32Array>) =>
      new Map([...w].map(([k, v]) => [k, v.map((x, i) => x - (start.get(k) as Float32Array)[i])]));
    const updateError = worstRelative(delta(two.weights), delta(one.weights));
    console.log(
      `[web workers] two Adam steps, 2 workers vs one process (cpu): updates ${updateError.toExponential(2)} rel`,
    );
    expect(updateError).toBeLessThan(1e-3);
    expect(two.losses).toHaveLength(2);
    two.losses.forEach((l, i) => {
      expect(Math.abs(l - one.losses[i])).toBeLessThan(1e-5 * Math.abs(one.losses[i]));
    });
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('cancellation stops between steps and terminates the Web Workers', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const run = await countTerminated(() => adamRun(2, controller.signal, () => controller.abort()));
    const done = run.result as NonNullable<typeof run.result>;
    expect(done.result.cancelled).toBe(true);
    expect(done.losses).toHaveLength(1);
    expect(run.terminated).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('a worker that throws: its error reaches the caller and every Web Worker is terminated', async () => {
    model.loadStateDict(initial);
    const before = tf.memory().numTensors;
    const bad = Array.from(batch.pids.dataSync());
    bad[3] = model.config.numClasses + 5;
    const run = await countTerminated(async () => {
      const group = await DataParallelGroup.start(model, { workers: 2, backend: 'cpu', createWorker });
      const b = trainBatch(batch, bad);
      try {
        return await group.gradients(b);
      } finally {
        disposeTrainBatch(b);
        await group.close();
      }
    });
    expect(String(run.error)).toMatch(/DataParallel: worker 1: batch.pids must lie in \[0, \d+\)/);
    expect(run.terminated).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('a worker script that does not load, or a backend the worker lacks, rejects start() with a clear error', async () => {
    const missing = () => new Worker(new URL('./no_such_worker.ts', import.meta.url), { type: 'module' });
    const noScript = await countTerminated(() => DataParallelGroup.start(model, { workers: 2, createWorker: missing }));
    expect(String(noScript.error)).toMatch(/DataParallel: worker \d failed: /);
    expect(noScript.terminated).toBe(2);
    // The worker script imports cpu and wasm only.
    const noBackend = await countTerminated(() =>
      DataParallelGroup.start(model, { workers: 2, backend: 'webgpu', createWorker }),
    );
    expect(String(noBackend.error)).toMatch(/DataParallel: worker \d: selectBackend: none of the backends \[webgpu\]/);
    expect(noBackend.terminated).toBe(2);
  }, 120_000);

  it('names what is missing: createWorker outside Node, SharedArrayBuffer, a dedicated worker', async () => {
    await expect(DataParallelGroup.start(model, { workers: 2 })).rejects.toThrow(
      'DataParallelGroup.start: outside Node, pass options.createWorker',
    );
    await expect(
      DataParallelGroup.start(model, { workers: 2, createWorker: 'worker.js' as unknown as () => Worker }),
    ).rejects.toThrow(
      'DataParallelGroup.start: options.createWorker must be a function returning a Web Worker, got string',
    );
    vi.stubGlobal('SharedArrayBuffer', undefined);
    try {
      await expect(DataParallelGroup.start(model, { workers: 2, createWorker })).rejects.toThrow(
        'DataParallelGroup.start: SharedArrayBuffer is unavailable here; in a browser, serve the page cross-origin isolated',
      );
    } finally {
      vi.unstubAllGlobals();
    }
    expect(() => serveTrainWorker()).toThrow('serveTrainWorker: call it inside a dedicated Web Worker');
  });
});
