import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { TrainBatch } from '../src/data/batch';
import { Evaluator } from '../src/eval/evaluator';
import { itcLoss } from '../src/losses';
import { LRSchedulerWithWarmup } from '../src/train/lr_scheduler';
import { buildOptimizer } from '../src/train/optimizer';
import {
  disposeCheckpoint,
  type LossBatch,
  type StepLog,
  type TrainableModel,
  Trainer,
  type TrainerCheckpoint,
} from '../src/train/trainer';

const D = 6; // image "pixels" per sample (images are [B, 1, 1, D])
const L = 4; // "token ids" per caption, used as features
const E = 5; // embedding size

/** A two-tower linear model: enough to exercise the loop with a real loss and real gradients. */
class ToyModel implements TrainableModel {
  readonly params = new Map<string, tf.Variable>();
  constructor(seed: number) {
    this.params.set('visual.proj', tf.variable(tf.randomNormal([D, E], 0, 0.3, 'float32', seed)));
    this.params.set('text.proj', tf.variable(tf.randomNormal([L, E], 0, 0.3, 'float32', seed + 1)));
    this.params.set('text.bias', tf.variable(tf.zeros([E])));
  }
  encodeImage(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], D]), this.params.get('visual.proj') as tf.Variable));
  }
  encodeText(ids: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() =>
      tf.add(
        tf.matMul(tf.cast(ids, 'float32'), this.params.get('text.proj') as tf.Variable),
        this.params.get('text.bias') as tf.Variable,
      ),
    );
  }
  computeLosses(b: LossBatch): Record<string, tf.Scalar> {
    const i = this.encodeImage(b.images);
    const t = this.encodeText(b.captionIds);
    return { itc_loss: itcLoss(i, t, 10), norm_acc: tf.mean(tf.abs(i)) as tf.Scalar };
  }
  namedParameters() {
    return this.params;
  }
  stateDict() {
    return new Map([...this.params].map(([k, v]) => [k, tf.clone(v) as tf.Tensor]));
  }
  loadStateDict(m: Map<string, tf.Tensor>) {
    for (const [k, v] of m) this.params.get(k)?.assign(v);
  }
  dispose() {
    for (const v of this.params.values()) v.dispose();
  }
}

/** 8 identities; image and caption of pid p are noisy copies of fixed prototypes. */
function samples(seed: number, n: number) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: n }, (_, k) => {
    const pid = k % 8;
    const img = Array.from({ length: D }, (_, j) => Math.sin(pid * 1.7 + j) + 0.1 * (rnd() - 0.5));
    const ids = Array.from({ length: L }, (_, j) => 1 + ((pid * 3 + j * 5) % 7));
    return { pid, img, ids };
  });
}

const train = samples(1, 32);
function* epochBatches(epoch: number): Generator<TrainBatch> {
  // A deterministic per-epoch order, as a seeded sampler gives; batches are made lazily, as a loader does.
  const order = train.map((_, i) => i).sort((a, b) => ((a * 7 + epoch * 13) % 32) - ((b * 7 + epoch * 13) % 32));
  for (let i = 0; i < order.length; i += 8) {
    const rows = order.slice(i, i + 8).map((k) => train[k]);
    yield {
      images: tf.tensor4d(
        rows.flatMap((r) => r.img),
        [rows.length, 1, 1, D],
      ),
      captionIds: tf.tensor2d(
        rows.map((r) => r.ids),
        [rows.length, L],
        'int32',
      ),
      pids: Int32Array.from(rows.map((r) => r.pid)),
      imageIds: Int32Array.from(rows.map((_, j) => i + j)),
      mlmIds: null,
      mlmLabels: null,
    };
  }
}

function evaluator() {
  const test = samples(99, 16);
  return new Evaluator({
    captions: () => [
      {
        pids: test.map((r) => r.pid),
        captionIds: tf.tensor2d(
          test.map((r) => r.ids),
          [16, L],
          'int32',
        ),
      },
    ],
    gallery: () => [
      {
        pids: test.map((r) => r.pid),
        images: tf.tensor4d(
          test.flatMap((r) => r.img),
          [16, 1, 1, D],
        ),
      },
    ],
  });
}

function setup(seed = 3) {
  const model = new ToyModel(seed);
  const optimizer = buildOptimizer(model, { lr: 0.01, weightDecay: 0 });
  const scheduler = new LRSchedulerWithWarmup({
    baseLrs: optimizer.groups.map((g) => g.baseLr),
    warmupEpochs: 1,
    totalEpochs: 6,
  });
  return { model, optimizer, scheduler };
}

describe('Trainer', () => {
  it('lowers the loss, evaluates, keeps the best checkpoint and leaks nothing over 20 steps', async () => {
    const { model, optimizer, scheduler } = setup();
    const before = tf.memory().numTensors;
    const steps: StepLog[] = [];
    const saved: Record<string, number> = {};
    const result = await new Trainer(model, {
      optimizer,
      scheduler,
      trainData: epochBatches,
      evaluator: evaluator(),
      numEpochs: 5,
      progress: 'none',
      onStep: (s) => steps.push(s),
      saveCheckpoint: (ckpt, tag) => {
        saved[tag] = ckpt.epoch;
        expect(ckpt.weights.size).toBe(3);
      },
    }).train();
    expect(steps.length).toBe(20);
    expect(tf.memory().numTensors).toBe(before + optimizer.variables.size * 2);
    const first = steps.slice(0, 4).reduce((a, s) => a + s.totalLoss, 0);
    const last = steps.slice(-4).reduce((a, s) => a + s.totalLoss, 0);
    expect(last).toBeLessThan(first * 0.8);
    expect(result.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(result.bestR1).toBeGreaterThan(0);
    expect(saved.best).toBe(result.bestEpoch);
    expect(saved.last).toBe(5);
    // The schedule drove the lrs: warmup epoch 1 runs at warmupFactor × base.
    expect(steps[0].lrs[0]).toBeCloseTo(0.001, 10);
    expect(steps[8].lrs[0]).toBeGreaterThan(steps[0].lrs[0]);
    optimizer.dispose();
    model.dispose();
  });

  it('resumes from a checkpoint with exactly the numbers of an uninterrupted run', async () => {
    const full = setup();
    const fullSteps: number[] = [];
    await new Trainer(full.model, {
      ...full,
      trainData: epochBatches,
      numEpochs: 4,
      progress: 'none',
      onStep: (s) => fullSteps.push(s.totalLoss),
    }).train();

    const first = setup();
    let ckpt: TrainerCheckpoint | undefined;
    const resumedSteps: number[] = [];
    await new Trainer(first.model, {
      ...first,
      trainData: epochBatches,
      numEpochs: 2,
      progress: 'none',
      onStep: (s) => resumedSteps.push(s.totalLoss),
      saveCheckpoint: (c, tag) => {
        if (tag !== 'last') return;
        if (ckpt) disposeCheckpoint(ckpt);
        ckpt = { ...c, weights: new Map([...c.weights].map(([k, v]) => [k, tf.clone(v)])) };
      },
    }).train();
    // A fresh model and optimizer (different initial weights) resumed from the epoch-2 checkpoint.
    const second = setup(11);
    await new Trainer(second.model, {
      ...second,
      trainData: epochBatches,
      numEpochs: 4,
      progress: 'none',
      resumeFrom: ckpt,
      onStep: (s) => resumedSteps.push(s.totalLoss),
    }).train();
    expect(resumedSteps).toEqual(fullSteps);
    for (const [k, v] of full.model.params) {
      expect(Array.from(second.model.params.get(k)?.dataSync() ?? [])).toEqual(Array.from(v.dataSync()));
    }
    disposeCheckpoint(ckpt as TrainerCheckpoint);
    for (const s of [full, first, second]) {
      s.optimizer.dispose();
      s.model.dispose();
    }
  });

  it('stops between steps when cancelled and disposes the batches it did not run', async () => {
    const { model, optimizer } = setup();
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    let n = 0;
    const result = await new Trainer(model, {
      optimizer,
      trainData: epochBatches,
      numEpochs: 3,
      progress: 'none',
      signal: controller.signal,
      onStep: () => {
        if (++n === 2) controller.abort();
      },
    }).train();
    expect(result.cancelled).toBe(true);
    expect(n).toBe(2);
    expect(tf.memory().numTensors).toBe(before + optimizer.variables.size * 2);
    optimizer.dispose();
    model.dispose();
  });

  it('writes plain log lines when not on a TTY', async () => {
    const { model, optimizer } = setup();
    let text = '';
    await new Trainer(model, {
      optimizer,
      trainData: epochBatches,
      numEpochs: 1,
      logPeriod: 2,
      output: { write: (s: string) => (text += s), isTTY: false },
    }).train();
    expect(text).toMatch(/epoch 1\/1 step 2 .*loss \d+\.\d{4} \| itc_loss/);
    expect(text).toMatch(/epoch 1 done in .* s \| itc_loss/);
    optimizer.dispose();
    model.dispose();
  });

  it('shows step / total and an ETA when given stepsPerEpoch, and passes it to onStep', async () => {
    const { model, optimizer } = setup();
    let text = '';
    const totals: (number | undefined)[] = [];
    await new Trainer(model, {
      optimizer,
      trainData: epochBatches,
      numEpochs: 1,
      logPeriod: 1,
      stepsPerEpoch: 4,
      onStep: (log) => totals.push(log.stepsPerEpoch),
      output: { write: (s: string) => (text += s), isTTY: false },
    }).train();
    expect(text).toMatch(/epoch 1\/1 step 1\/4 \([\d.]+ it\/s, ETA \d+s\) loss \d+\.\d{4}/);
    expect(text).toMatch(/epoch 1\/1 step 4\/4 \([\d.]+ it\/s, ETA 0s\) loss \d+\.\d{4}/);
    expect(totals).toEqual([4, 4, 4, 4]);
    expect(() => new Trainer(model, { optimizer, trainData: epochBatches, stepsPerEpoch: 0 })).toThrow(
      /Trainer: stepsPerEpoch must be a positive integer when given, got 0/,
    );
    optimizer.dispose();
    model.dispose();
  });

  it('rejects bad options', () => {
    const { model, optimizer } = setup();
    expect(() => new Trainer(model, { optimizer, trainData: epochBatches, numEpochs: 0 })).toThrow(/numEpochs/);
    expect(() => new Trainer(model, { optimizer, trainData: [] as never })).toThrow(/trainData must be a function/);
    optimizer.dispose();
    model.dispose();
  });
});
