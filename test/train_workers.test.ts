import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IRRA, IRRABatch } from '../src/model';
import { DataParallelGroup, splitRows } from '../src/train/data_parallel';
import { buildOptimizer } from '../src/train/optimizer';
import { disposeCheckpoint, Trainer, type TrainerCheckpoint } from '../src/train/trainer';
import {
  disposeTrainBatch,
  expectSingleProcessGradients,
  parameterValues,
  singleProcess,
  trainBatch,
  worstRelative,
} from './helpers/data_parallel';
import { loadFixtureModel } from './helpers/model_fixtures';
import { watchWorkers } from './helpers/workers';

const backend = process.env.IRRA_TEST_BACKEND ?? 'cpu';
describe('data-parallel training in worker threads', () => {
  let model: IRRA;
  let batch: IRRABatch;
  let initial: Map<string, tf.Tensor>;
  beforeAll(() => {
    ({ model, batch } = loadFixtureModel('tiny_a'));
    initial = model.stateDict();
  });
  afterAll(() => {
    model.dispose();
    for (const t of Object.values(batch)) (t as tf.Tensor | undefined)?.dispose();
    for (const t of initial.values()) t.dispose();
  });

  it('splits rows as evenly as possible, dropping empty slices', () => {
    expect(splitRows(5, 2)).toEqual([
      { start: 0, count: 3 },
      { start: 3, count: 2 },
    ]);
    expect(splitRows(1, 3)).toEqual([{ start: 0, count: 1 }]);
    expect(splitRows(4, 4).map((s) => s.count)).toEqual([1, 1, 1, 1]);
  });

  it('gives the single-process losses and gradients within 1e-5 relative (2 workers), leaking nothing', async () => {
    model.loadStateDict(initial);
    const single = singleProcess(model, batch, [0, 1, 2, 3]);
    // The float32 noise floor of one process: the same batch with its rows in another order.
    const spread = worstRelative(singleProcess(model, batch, [2, 3, 0, 1]).grads, single.grads);

    const before = tf.memory().numTensors;
    const run = await watchWorkers(async () => {
      const group = await DataParallelGroup.start(model, { workers: 2, backend });
      try {
        const b = trainBatch(batch);
        expect(Object.values(group.phaseMs)).toEqual([0, 0, 0, 0, 0, 0]);
        const t0 = performance.now();
        const first = await group.gradients(b);
        const second = await group.gradients(b);
        const wall = performance.now() - t0;
        disposeTrainBatch(b);
        // The phases add up to the two calls' wall time (less the work between the marks).
        const phases = Object.values(group.phaseMs);
        const total = phases.reduce((a, x) => a + x, 0);
        expect(phases.every((x) => x >= 0)).toBe(true);
        expect(group.phaseMs.forward + group.phaseMs.backward).toBeGreaterThan(0);
        expect(total).toBeLessThanOrEqual(wall);
        expect(total).toBeGreaterThan(0.9 * wall);
        return { first, second };
      } finally {
        await group.close();
      }
    });
    expect(run.error).toBeUndefined();
    expect(run.exited).toEqual([true, true]);
    const { first, second } = run.result as NonNullable<typeof run.result>;
    expect(tf.memory().numTensors).toBe(before + 2 * first.grads.size);
    expectSingleProcessGradients(`2 workers vs one process (${backend})`, { first, second }, single, spread, before);
  }, 120_000);

  /** Trains 2 epochs of 2 batches with Adam (host state); returns each step's loss and the final weights. */
  async function adamRun(workers: number, opts: { numEpochs?: number; resume?: TrainerCheckpoint } = {}) {
    model.loadStateDict(initial);
    const optimizer = buildOptimizer(model, { lr: 1e-3, stateStorage: 'host' });
    const losses: number[] = [];
    let last: TrainerCheckpoint | undefined;
    const batches = (epoch: number) => [
      trainBatch(batch),
      trainBatch(
        batch,
        Array.from(batch.pids.dataSync()).map((p) => (p + epoch) % model.config.numClasses),
      ),
    ];
    await new Trainer(model, {
      optimizer,
      trainData: batches,
      numEpochs: opts.numEpochs ?? 2,
      progress: 'none',
      workers,
      workerBackend: backend,
      ...(opts.resume ? { resumeFrom: opts.resume } : {}),
      onStep: (s) => losses.push(s.totalLoss),
      saveCheckpoint: (c) => {
        if (last) disposeCheckpoint(last);
        last = { ...c, weights: new Map([...c.weights].map(([k, v]) => [k, tf.clone(v)])) };
      },
    }).train();
    optimizer.dispose();
    return { losses, weights: parameterValues(model), last: last as TrainerCheckpoint };
  }

  it('two Adam steps through the Trainer match one process; --resume equals an uninterrupted run', async () => {
    const start = parameterValues(model);
    const before = tf.memory().numTensors;
    const one = await adamRun(1, { numEpochs: 1 });
    disposeCheckpoint(one.last);
    const run = await watchWorkers(() => adamRun(2, { numEpochs: 1 }));
    const two = run.result as Awaited<ReturnType<typeof adamRun>>;
    expect(run.exited).toEqual([true, true]);
    // Compare the updates (weights after − before), relative to each parameter's largest update.
    const delta = (w: Map<string, Float32Array>) =>
      new Map([...w].map(([k, v]) => [k, v.map((x, i) => x - (start.get(k) as Float32Array)[i])]));
    const updateError = worstRelative(delta(two.weights), delta(one.weights));
    console.log(`two Adam steps, 2 workers vs one process (${backend}): updates ${updateError.toExponential(2)} rel`);
    expect(updateError).toBeLessThan(1e-3);
    two.losses.forEach((l, i) => {
      expect(Math.abs(l - one.losses[i])).toBeLessThan(1e-5 * Math.abs(one.losses[i]));
    });

    const full = await adamRun(2);
    disposeCheckpoint(full.last);
    const resumed = await adamRun(2, { resume: two.last });
    disposeCheckpoint(two.last);
    disposeCheckpoint(resumed.last);
    expect([...two.losses, ...resumed.losses]).toEqual(full.losses);
    for (const [k, v] of full.weights) expect(resumed.weights.get(k)).toEqual(v);
    expect(tf.memory().numTensors).toBe(before);
  }, 300_000);

  it('a worker that throws: the error reaches the caller, every worker is terminated, nothing leaks', async () => {
    model.loadStateDict(initial);
    const optimizer = buildOptimizer(model, { lr: 1e-3, stateStorage: 'host' });
    const before = tf.memory().numTensors;
    // The second slice holds a pid outside the classifier's range: only worker 1 fails.
    const bad = Array.from(batch.pids.dataSync());
    bad[3] = model.config.numClasses + 5;
    const run = await watchWorkers(() =>
      new Trainer(model, {
        optimizer,
        trainData: () => [trainBatch(batch), trainBatch(batch, bad)],
        numEpochs: 1,
        progress: 'none',
        workers: 2,
        workerBackend: backend,
      }).train(),
    );
    expect(String(run.error)).toMatch(/DataParallel: worker 1: batch.pids must lie in \[0, \d+\)/);
    expect(run.exited).toEqual([true, true]);
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
  }, 120_000);

  it('cancellation stops between steps, resolves with cancelled: true and terminates the workers', async () => {
    model.loadStateDict(initial);
    const optimizer = buildOptimizer(model, { lr: 1e-3, stateStorage: 'host' });
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let steps = 0;
    const run = await watchWorkers(() =>
      new Trainer(model, {
        optimizer,
        trainData: function* () {
          for (let i = 0; i < 3; i++) yield trainBatch(batch);
        },
        numEpochs: 3,
        progress: 'none',
        workers: 2,
        workerBackend: backend,
        signal: controller.signal,
        onStep: () => {
          steps++;
          if (steps === 1) controller.abort();
        },
      }).train(),
    );
    expect(run.result?.cancelled).toBe(true);
    expect(steps).toBe(1);
    expect(run.exited).toEqual([true, true]);
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
  }, 120_000);

  it('rejects bad worker counts, naming the option', async () => {
    const optimizer = buildOptimizer(model, { lr: 1e-3 });
    expect(() => new Trainer(model, { optimizer, trainData: () => [], workers: 0 })).toThrow(
      "Trainer: workers must be a positive integer or 'auto', got 0",
    );
    const params = new Map([['w', tf.variable(tf.zeros([2]))]]);
    const toy = { namedParameters: () => params } as unknown as IRRA;
    expect(() => new Trainer(toy, { optimizer, trainData: () => [], workers: 2 })).toThrow(
      'Trainer: workers = 2 needs an IRRA model',
    );
    await expect(DataParallelGroup.start(model, { workers: 1.5 })).rejects.toThrow(
      'DataParallelGroup.start: options.workers must be a positive integer, got 1.5',
    );
    optimizer.dispose();
    tf.dispose([...params.values()]);
  });
});
