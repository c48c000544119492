/**
 * Optimizer steps of one training setup (a model, Adam with its state in JavaScript memory, a
 * synthetic batch, and a DataParallelGroup unless it trains in this thread), timed in turn with
 * other setups: bench/train_workers.ts (Node worker threads) and
 * bench/browser_train_workers.browser.ts (Web Workers in Chromium).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { IRRAConfig } from '../src/config';
import type { TrainBatch } from '../src/data/batch';
import { IRRA, type IRRABatch } from '../src/model';
import { buildOptimizer } from '../src/train';
import { DataParallelGroup, type TrainWebWorker } from '../src/train/data_parallel';
import { Trainer } from '../src/train/trainer';
import { imageTokens, matMulGflops, trainForwardFlops } from './roofline';
import type { CompleteBenchRow } from './rows';
import { median } from './stats';
import { DEMO_SIZE_CONFIG, trainBatch } from './train_batch';

/** The bench batch as the trainer takes it (new tensors, owned by the caller). */
function asTrainBatch(b: IRRABatch): TrainBatch {
  return {
    pids: Int32Array.from(b.pids.dataSync()),
    imageIds: Int32Array.from((b.imageIds as tf.Tensor1D).dataSync()),
    images: tf.clone(b.images),
    captionIds: tf.clone(b.captionIds),
    mlmIds: tf.clone(b.mlmIds as tf.Tensor2D),
    mlmLabels: tf.clone(b.mlmLabels as tf.Tensor2D),
  };
}

/** One training setup (model, Adam, batch, and a worker group unless in this thread) whose `step()` times one optimizer step. */
interface StepSetup {
  /** Seconds of one optimizer step. */
  step(): Promise<number>;
  /** Milliseconds per phase summed since the last `reset()`: the group's phases and `adam` (null in this thread). */
  phases(): Record<string, number> | null;
  reset(): void;
  close(): Promise<void>;
}

/** How the setups' workers start: Node worker threads (the default) or `createWorker` Web Workers. */
export interface WorkerStart {
  createWorker?: () => TrainWebWorker;
}

/** A {@link StepSetup} with `workers` workers on wasm (0 = this thread). */
async function stepSetup(
  config: IRRAConfig,
  batchSize: number,
  workers: number,
  start: WorkerStart,
): Promise<StepSetup> {
  const model = IRRA.create(config, { seed: 0 });
  const optimizer = buildOptimizer(model, { lr: 1e-5, stateStorage: 'host' });
  const batch = trainBatch(config, batchSize);
  const group = workers > 0 ? await DataParallelGroup.start(model, { workers, backend: 'wasm', ...start }) : null;
  const trainer = new Trainer(model, { optimizer, trainData: () => [], workers: 1 });
  let adamMs = 0;
  return {
    async step() {
      const tb = asTrainBatch(batch);
      const t0 = performance.now();
      if (group) {
        const { grads } = await group.gradients(tb);
        const tAdam = performance.now();
        optimizer.applyGradients(grads, { disposeGradients: true });
        adamMs += performance.now() - tAdam;
        tf.dispose([tb.images, tb.captionIds, tb.mlmIds as tf.Tensor, tb.mlmLabels as tf.Tensor]);
      } else trainer.step(tb);
      return (performance.now() - t0) / 1000;
    },
    phases() {
      return group ? { ...group.phaseMs, adam: adamMs } : null;
    },
    reset() {
      adamMs = 0;
      if (group) for (const k of Object.keys(group.phaseMs) as (keyof typeof group.phaseMs)[]) group.phaseMs[k] = 0;
    },
    async close() {
      await group?.close();
      optimizer.dispose();
      tf.dispose(Object.values(batch) as tf.Tensor[]);
      model.dispose();
    },
  };
}

/**
 * Seconds per optimizer step of each setup (`workers` entries: 0 = this thread), the setups' steps
 * interleaved (one step of each in turn, after one warm-up step each) so that drifts of the
 * machine's speed reach every setup alike. Returns each setup's step times, and the mean
 * milliseconds per step of each phase of the worker setups (DataParallelGroup.phaseMs and Adam;
 * null in this thread).
 */
export async function interleavedStepSeconds(
  config: IRRAConfig,
  batchSize: number,
  workers: readonly number[],
  steps: number,
  start: WorkerStart = {},
): Promise<{ times: number[][]; phases: (Record<string, number> | null)[] }> {
  const setups: StepSetup[] = [];
  try {
    for (const w of workers) setups.push(await stepSetup(config, batchSize, w, start));
    for (const s of setups) {
      await s.step();
      s.reset();
    }
    const times: number[][] = workers.map(() => []);
    for (let i = 0; i < steps; i++) {
      for (const [k, s] of setups.entries()) times[k].push(await s.step());
    }
    const phases = setups.map((s) => {
      const p = s.phases();
      return p && Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v / steps]));
    });
    return { times, phases };
  } finally {
    for (const s of setups) await s.close();
  }
}

/** The demo-size step's setups, by name: in this thread, over 1 and over 2 workers. */
export const DEMO_STEP_SETUPS = [
  ['inline', 0],
  ['workers_1', 1],
  ['workers_2', 2],
] as const;

/** A demo-size step row's name and note, given its setup. */
export type DemoStepLabel = (
  name: (typeof DEMO_STEP_SETUPS)[number][0],
  workers: number,
) => { workload: string; note: string };

/**
 * The demo-size step (DEMO_SIZE_CONFIG, batch 32) of each of {@link DEMO_STEP_SETUPS}, `steps` timed
 * steps each, interleaved: one bench row per setup (the median step time against one thread's
 * matMul roofline of the model's MLP shape, measured first), with each setup's step times and phases.
 */
export async function demoSizeStepRows(
  steps: number,
  label: DemoStepLabel,
  start: WorkerStart = {},
): Promise<{ rows: CompleteBenchRow[]; times: number[][]; phases: (Record<string, number> | null)[] }> {
  const config = DEMO_SIZE_CONFIG;
  const roof = matMulGflops(imageTokens(config) * 32, config.visionWidth, 20);
  const fwd = trainForwardFlops(config, 32) * 32;
  const { times, phases } = await interleavedStepSeconds(
    config,
    32,
    DEMO_STEP_SETUPS.map(([, w]) => w),
    steps,
    start,
  );
  const rows = DEMO_STEP_SETUPS.map(([name, workers], k) => {
    const s = median(times[k]);
    return {
      backend: 'wasm',
      ...label(name, workers),
      value: s,
      unit: 's/step',
      rooflineRatio: fwd / (roof * 1e9) / s,
      batch: 32,
      matmulGflops: roof,
    };
  });
  return { rows, times, phases };
}
