import * as tf from '@tensorflow/tfjs-core';
import { disposeBatch, type TrainBatch } from '../data/batch';
import type { EvaluationResult, Evaluator, RetrievalEncoder } from '../eval/evaluator';
import { IRRA, type IRRALosses, totalLoss } from '../model/irra';
import { nodeCoreCount } from '../util/node_workers';
import { DataParallelGroup, type TrainWebWorker } from './data_parallel';
import type { LRSchedulerWithWarmup } from './lr_scheduler';
import type { IrraOptimizer, OptimizerState } from './optimizer';

/** A batch as `IRRA.computeLosses` takes it: every field a tensor (ids and pids int32). */
export interface LossBatch {
  images: tf.Tensor4D;
  captionIds: tf.Tensor2D;
  pids: tf.Tensor1D;
  imageIds?: tf.Tensor1D;
  mlmIds?: tf.Tensor2D;
  mlmLabels?: tf.Tensor2D;
}

/** What the trainer needs of a model (IRRA has all of it). */
export interface TrainableModel extends RetrievalEncoder {
  /**
   * Every configured loss (`*_loss`) and accuracy (`*_acc`) as new scalars (an object of
   * `tf.Scalar` fields, such as `IRRALosses`); the trainer sums the `*_loss` entries.
   */
  computeLosses(batch: LossBatch): object;
  /** Reference name → variable as stored. */
  namedParameters(): Map<string, tf.Variable>;
  /** Reference name → new tensor in the reference layout (caller owns). */
  stateDict(): Map<string, tf.Tensor>;
  /** Loads reference-layout tensors (does not take ownership). */
  loadStateDict(map: Map<string, tf.Tensor>): void;
}

/** Everything needed to resume training exactly: weights, optimizer state, epoch, best result. */
export interface TrainerCheckpoint {
  /** The last completed epoch (1-based, as the reference counts). */
  epoch: number;
  /** Best t2i R1 so far (percent), -1 before any evaluation. */
  bestR1: number;
  /** The epoch that reached `bestR1` (0 before any evaluation). */
  bestEpoch: number;
  /** Model weights in the reference layout (the checkpoint owns these tensors; {@link disposeCheckpoint} frees them). */
  weights: Map<string, tf.Tensor>;
  /** Optimizer state as plain data. */
  optimizer: OptimizerState;
}

/** Frees the tensors of a checkpoint. */
export function disposeCheckpoint(ckpt: TrainerCheckpoint): void {
  for (const t of ckpt.weights.values()) t.dispose();
}

/** Loss and accuracy values of one step, as plain numbers. */
export interface StepLog {
  epoch: number;
  /** 0-based step within the epoch. */
  step: number;
  /** Steps of each epoch ({@link TrainerOptions.stepsPerEpoch}); undefined when not given. */
  stepsPerEpoch?: number;
  /** Steps taken since training began (across resumes). */
  globalStep: number;
  /** Sum of the `*_loss` entries. */
  totalLoss: number;
  /** Every entry `computeLosses` returned. */
  values: Record<string, number>;
  /** The lr of each optimizer group during this step. */
  lrs: number[];
  batchSize: number;
}

/** Per-epoch summary: mean of each value over the epoch's samples (the reference's AverageMeters). */
export interface EpochLog {
  epoch: number;
  steps: number;
  means: Record<string, number>;
  /** The lr of each optimizer group during the epoch. */
  lrs?: number[];
  seconds: number;
  evaluation?: EvaluationResult;
}

/**
 * Defaults of {@link TrainerOptions}: the reference's `num_epoch`, `eval_period`, `log_period`;
 * `workers: 'auto'` = one worker thread per core in Node (`os.availableParallelism()`) for an
 * `IRRA` model, and 1 (no workers) in browsers or for any other model.
 */
export const TRAINER_DEFAULTS = { numEpochs: 60, evalPeriod: 1, logPeriod: 100, workers: 'auto' } as const;

/** Options of {@link Trainer}. */
export interface TrainerOptions {
  optimizer: IrraOptimizer;
  /** Drives the optimizer's group lrs per epoch (`lrAt(epoch - 1)`); without it the lrs stay as they are. */
  scheduler?: LRSchedulerWithWarmup;
  /**
   * The batches of one epoch (1-based), e.g. `(e) => loader.epoch(e - 1)` of a `DataLoader`. A
   * function of the epoch, so that a resumed run sees the same batches as an uninterrupted one.
   * The trainer disposes each batch after its step.
   */
  trainData: (epoch: number) => Iterable<TrainBatch> | AsyncIterable<TrainBatch>;
  /** Evaluates every `evalPeriod` epochs; the best t2i R1 is checkpointed as 'best'. */
  evaluator?: Evaluator;
  numEpochs?: number;
  evalPeriod?: number;
  /** Log a line every `logPeriod` steps (when no progress bar is shown). */
  logPeriod?: number;
  /**
   * Steps of each epoch, e.g. a `DataLoader`'s `numBatches`: the total of the progress output
   * and its ETA, and {@link StepLog.stepsPerEpoch}. Without it progress shows the step alone.
   */
  stepsPerEpoch?: number;
  /** Called with a checkpoint (which it must not keep beyond the call) after each epoch ('last') and on a new best ('best'). */
  saveCheckpoint?: (ckpt: TrainerCheckpoint, tag: 'best' | 'last') => void | Promise<void>;
  /** Resume from this checkpoint: loads weights and optimizer state, continues after its epoch. */
  resumeFrom?: TrainerCheckpoint;
  onStep?: (log: StepLog) => void;
  /** Called after each epoch (awaited when it returns a promise). */
  onEpoch?: (log: EpochLog) => void | Promise<void>;
  /** Stops cleanly between steps when aborted; `train()` then resolves with `cancelled: true`. */
  signal?: AbortSignal;
  /** Progress output: 'auto' (a bar on a TTY, log lines otherwise), 'bar', 'lines' or 'none'. Default 'auto'. */
  progress?: 'auto' | 'bar' | 'lines' | 'none';
  /** Where progress goes (default process.stdout when present, else console.log lines). */
  output?: { write(s: string): unknown; isTTY?: boolean };
  /**
   * Data-parallel training in Node worker threads, or in browser Web Workers with `createWorker`
   * ({@link DataParallelGroup}): each of N workers runs a replica of the model on its slice of
   * every batch; the batch-level losses (SDM, ITC, CMPM) stay exactly those of the whole batch.
   * 1 = train in this thread. Needs an `IRRA` model. Default `'auto'` ({@link TRAINER_DEFAULTS}):
   * one per core in Node, 1 in browsers (ask, e.g. `navigator.hardwareConcurrency`).
   */
  workers?: number | 'auto';
  /** tfjs backend of the workers; default the active backend (in browsers pass e.g. `'wasm'`). */
  workerBackend?: string;
  /** Browsers: starts one training Web Worker (`createWorker` of `DataParallelGroup.start`). */
  createWorker?: () => TrainWebWorker;
}

/** What {@link Trainer.train} resolves to. */
export interface TrainResult {
  epochsRun: number;
  lastEpoch: number;
  bestR1: number;
  bestEpoch: number;
  cancelled: boolean;
  history: EpochLog[];
}

/**
 * The reference's training loop (`processor/processor.py do_train`): for each epoch, set the lrs
 * from the schedule, run every batch (forward, the sum of the `*_loss` entries, backward and the
 * optimizer step in one tidy scope), average the values, evaluate every `evalPeriod` epochs and
 * checkpoint the best t2i R1. Resumable from a {@link TrainerCheckpoint}, cancellable through an
 * AbortSignal. Batch tensors are disposed after their step; nothing else is left behind.
 */
export class Trainer {
  private readonly opts: TrainerOptions & {
    numEpochs: number;
    evalPeriod: number;
    logPeriod: number;
    workers: number | 'auto';
  };
  private globalStep = 0;

  constructor(
    private readonly model: TrainableModel,
    opts: TrainerOptions,
  ) {
    this.opts = { ...TRAINER_DEFAULTS, ...opts };
    for (const k of ['numEpochs', 'evalPeriod', 'logPeriod'] as const) {
      const v = this.opts[k];
      if (!Number.isInteger(v) || v < 1) throw new Error(`Trainer: ${k} must be a positive integer, got ${v}`);
    }
    const spe = this.opts.stepsPerEpoch;
    if (spe !== undefined && (!Number.isInteger(spe) || spe < 1)) {
      throw new Error(`Trainer: stepsPerEpoch must be a positive integer when given, got ${spe}`);
    }
    const w = this.opts.workers;
    if (w !== 'auto' && (!Number.isInteger(w) || w < 1)) {
      throw new Error(`Trainer: workers must be a positive integer or 'auto', got ${String(w)}`);
    }
    if (w !== 'auto' && w > 1 && !(model instanceof IRRA)) {
      throw new Error(
        `Trainer: workers = ${w} needs an IRRA model (its replicas run in the workers), got another model`,
      );
    }
    if (typeof opts.trainData !== 'function') {
      throw new Error(
        'Trainer: trainData must be a function (epoch) => batches, so that resumed runs replay the same data',
      );
    }
  }

  /** The number of worker threads `train()` uses. */
  async workerCount(): Promise<number> {
    const w = this.opts.workers;
    if (w !== 'auto') return w;
    return this.model instanceof IRRA ? nodeCoreCount() : 1;
  }

  /** One optimizer step on `batch` with the gradients of a worker group; returns its values. Disposes the batch. */
  private async parallelStep(
    group: DataParallelGroup,
    batch: TrainBatch,
  ): Promise<{ totalLoss: number; values: Record<string, number> }> {
    try {
      const { values, grads } = await group.gradients(batch);
      this.opts.optimizer.applyGradients(grads, { disposeGradients: true });
      this.globalStep++;
      return { totalLoss: sumOfLosses(values), values };
    } finally {
      disposeBatch(batch);
    }
  }

  /** One optimizer step on `batch` in this thread; returns its values. Disposes the batch. */
  step(batch: TrainBatch): { totalLoss: number; values: Record<string, number> } {
    let keys: string[] = [];
    let packed: tf.Tensor | undefined;
    const pids = tf.tensor1d(batch.pids, 'int32');
    const imageIds = tf.tensor1d(batch.imageIds, 'int32');
    const lossBatch: LossBatch = {
      images: batch.images,
      captionIds: batch.captionIds,
      pids,
      imageIds,
      ...(batch.mlmIds && batch.mlmLabels ? { mlmIds: batch.mlmIds, mlmLabels: batch.mlmLabels } : {}),
    };
    try {
      this.opts.optimizer.minimize(() => {
        const out = this.model.computeLosses(lossBatch) as Record<string, tf.Scalar | undefined>;
        keys = Object.keys(out).filter((k) => out[k] instanceof tf.Tensor);
        packed = tf.keep(tf.stack(keys.map((k) => tf.cast(out[k] as tf.Scalar, 'float32'))));
        return totalLoss(out as IRRALosses);
      });
      const data = (packed as unknown as tf.Tensor).dataSync();
      const values: Record<string, number> = {};
      keys.forEach((k, i) => {
        values[k] = data[i];
      });
      this.globalStep++;
      return { totalLoss: sumOfLosses(values), values };
    } finally {
      (packed as tf.Tensor | undefined)?.dispose();
      pids.dispose();
      imageIds.dispose();
      disposeBatch(batch);
    }
  }

  /** A checkpoint of the current state (the caller owns it: {@link disposeCheckpoint}). */
  checkpoint(epoch: number, bestR1: number, bestEpoch: number): TrainerCheckpoint {
    return { epoch, bestR1, bestEpoch, weights: this.model.stateDict(), optimizer: this.opts.optimizer.getState() };
  }

  /** Runs the remaining epochs; see the class documentation. */
  async train(): Promise<TrainResult> {
    const o = this.opts;
    let startEpoch = 1;
    let bestR1 = -1;
    let bestEpoch = 0;
    if (o.resumeFrom) {
      this.model.loadStateDict(o.resumeFrom.weights);
      o.optimizer.setState(o.resumeFrom.optimizer);
      startEpoch = o.resumeFrom.epoch + 1;
      bestR1 = o.resumeFrom.bestR1;
      bestEpoch = o.resumeFrom.bestEpoch;
      this.globalStep = o.resumeFrom.optimizer.step;
    }
    const progress = makeProgress(o.progress ?? 'auto', o.output, o.logPeriod);
    const history: EpochLog[] = [];
    let cancelled = false;
    let lastEpoch = startEpoch - 1;
    const workers = await this.workerCount();
    const group =
      workers > 1
        ? await DataParallelGroup.start(this.model as IRRA, {
            workers,
            ...(o.workerBackend ? { backend: o.workerBackend } : {}),
            ...(o.createWorker ? { createWorker: o.createWorker } : {}),
          })
        : null;
    try {
      for (let epoch = startEpoch; epoch <= o.numEpochs && !cancelled; epoch++) {
        if (o.scheduler) o.optimizer.setLrs(o.scheduler.lrAt(epoch - 1));
        const lrs = o.optimizer.groups.map((g) => g.lr);
        const t0 = performance.now();
        const sums: Record<string, number> = {};
        let samples = 0;
        let steps = 0;
        for await (const batch of o.trainData(epoch) as AsyncIterable<TrainBatch>) {
          if (o.signal?.aborted) {
            disposeBatch(batch);
            cancelled = true;
            break;
          }
          const batchSize = batch.images.shape[0];
          const { totalLoss, values } = group ? await this.parallelStep(group, batch) : this.step(batch);
          for (const [k, v] of Object.entries(values)) sums[k] = (sums[k] ?? 0) + v * batchSize;
          samples += batchSize;
          const log: StepLog = {
            epoch,
            step: steps,
            ...(o.stepsPerEpoch ? { stepsPerEpoch: o.stepsPerEpoch } : {}),
            globalStep: this.globalStep,
            totalLoss,
            values,
            lrs,
            batchSize,
          };
          steps++;
          progress.step(log, o.numEpochs);
          o.onStep?.(log);
        }
        if (cancelled) break;
        const means: Record<string, number> = {};
        for (const [k, v] of Object.entries(sums)) means[k] = v / Math.max(samples, 1);
        const epochLog: EpochLog = { epoch, steps, means, lrs, seconds: (performance.now() - t0) / 1000 };
        if (o.evaluator && epoch % o.evalPeriod === 0) {
          epochLog.evaluation = await o.evaluator.evaluate(this.model);
          const r1 = epochLog.evaluation.t2i.R1;
          if (r1 > bestR1) {
            bestR1 = r1;
            bestEpoch = epoch;
            await this.save(epoch, bestR1, bestEpoch, 'best');
          }
        }
        lastEpoch = epoch;
        await this.save(epoch, bestR1, bestEpoch, 'last');
        progress.epoch(epochLog);
        history.push(epochLog);
        await o.onEpoch?.(epochLog);
      }
    } finally {
      await group?.close();
    }
    progress.done();
    return { epochsRun: history.length, lastEpoch, bestR1, bestEpoch, cancelled, history };
  }

  private async save(epoch: number, bestR1: number, bestEpoch: number, tag: 'best' | 'last'): Promise<void> {
    if (!this.opts.saveCheckpoint) return;
    const ckpt = this.checkpoint(epoch, bestR1, bestEpoch);
    try {
      await this.opts.saveCheckpoint(ckpt, tag);
    } finally {
      disposeCheckpoint(ckpt);
    }
  }
}

/** The sum of the `*_loss` values of a step, as numbers (the objective {@link totalLoss} computes on tensors). */
function sumOfLosses(values: Record<string, number>): number {
  let sum = 0;
  for (const [k, v] of Object.entries(values)) if (k.endsWith('_loss')) sum += v;
  return sum;
}

interface Progress {
  step(log: StepLog, numEpochs: number): void;
  epoch(log: EpochLog): void;
  done(): void;
}

function fmtValues(values: Record<string, number>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(', ');
}

/** Seconds as `1m05s` / `7s`. */
function fmtSeconds(seconds: number): string {
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * The line that ends an epoch in the progress output: its time, the mean of each value and, when
 * it was evaluated, t2i R1 and mAP. Shared with the CLI's progress bar.
 */
export function formatEpochLine(log: EpochLog): string {
  const ev = log.evaluation
    ? ` | t2i R1 ${log.evaluation.t2i.R1.toFixed(2)} mAP ${log.evaluation.t2i.mAP.toFixed(2)}`
    : '';
  return `epoch ${log.epoch} done in ${log.seconds.toFixed(1)} s | ${fmtValues(log.means)}${ev}`;
}

/** A one-line progress bar on TTYs, plain log lines elsewhere. */
function makeProgress(
  mode: 'auto' | 'bar' | 'lines' | 'none',
  output: TrainerOptions['output'],
  logPeriod: number,
): Progress {
  const out =
    output ??
    (typeof process !== 'undefined' && process.stdout
      ? process.stdout
      : { write: (s: string) => console.log(s.replace(/\n$/, '')), isTTY: false });
  const kind = mode === 'auto' ? (out.isTTY ? 'bar' : 'lines') : mode;
  if (kind === 'none') return { step() {}, epoch() {}, done() {} };
  let started = performance.now();
  return {
    step(log, numEpochs) {
      if (log.step === 0) started = performance.now();
      const rate = (log.step + 1) / ((performance.now() - started) / 1000);
      const total = log.stepsPerEpoch;
      const of = total ? `/${total}` : '';
      const eta = total ? `, ETA ${fmtSeconds(Math.max(total - log.step - 1, 0) / rate)}` : '';
      const text = `epoch ${log.epoch}/${numEpochs} step ${log.step + 1}${of} (${rate.toFixed(2)} it/s${eta}) loss ${log.totalLoss.toFixed(4)}`;
      if (kind === 'bar') out.write(`\r${text}   `);
      else if ((log.step + 1) % logPeriod === 0) out.write(`${text} | ${fmtValues(log.values)}\n`);
    },
    epoch(log) {
      out.write(`${kind === 'bar' ? '\r' : ''}${formatEpochLine(log)}\n`);
    },
    done() {},
  };
}
