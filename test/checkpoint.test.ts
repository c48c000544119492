import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { type GradientCheckpointingPlan, IRRA, type IRRABatch, totalLoss } from '../src/model';
import { checkpoint } from '../src/ops/checkpoint';
import { linear } from '../src/ops/linear';
import { expectNoLeak } from './helpers/compare';
import { useFixtureModel } from './helpers/model_fixtures';

/** Loss and gradients (by parameter name) of the summed losses of `model` on `batch`. */
function lossAndGrads(model: IRRA, batch: IRRABatch): { loss: number; grads: Map<string, Float32Array> } {
  const named = [...model.namedParameters()];
  const { value, grads } = tf.variableGrads(
    () => {
      const out = model.computeLosses(batch);
      const total = totalLoss(out);
      tf.dispose(Object.values(out) as tf.Tensor[]);
      return total;
    },
    named.map(([, v]) => v),
  );
  const byVar = new Map(named.map(([n, v]) => [v.name, n]));
  const out = new Map<string, Float32Array>();
  for (const [k, g] of Object.entries(grads)) out.set(byVar.get(k) as string, g.dataSync() as Float32Array);
  const loss = value.dataSync()[0];
  value.dispose();
  tf.dispose(grads);
  return { loss, grads: out };
}

describe('checkpoint (gradient recomputation)', () => {
  it('gives the gradients of the plain function, for x and for the weights', () => {
    const x = tf.randomNormal([5, 4], 0, 1, 'float32', 3) as tf.Tensor2D;
    const w1 = tf.variable(tf.randomNormal([4, 6], 0, 1, 'float32', 4));
    const w2 = tf.variable(tf.randomNormal([6, 4], 0, 1, 'float32', 5));
    const fn = (t: tf.Tensor2D): tf.Tensor2D =>
      tf.tanh(linear(tf.relu(linear(t, w1 as tf.Tensor2D)) as tf.Tensor2D, w2 as tf.Tensor2D));
    const loss = (useCheckpoint: boolean) => (xi: tf.Tensor) =>
      tf.sum(tf.square(useCheckpoint ? checkpoint(fn, xi as tf.Tensor2D, [w1, w2]) : fn(xi as tf.Tensor2D)));
    const plain = tf.grads(loss(false))([x, w1, w2]);
    const ckpt = expectNoLeak(() => tf.grads(loss(true))([x, w1, w2]), 3);
    for (let i = 0; i < 3; i++) {
      expect(Array.from(ckpt[i].dataSync())).toEqual(Array.from(plain[i].dataSync()));
    }
    tf.dispose([x, w1, w2, ...plain, ...ckpt]);
  });

  it('leaves the outer gradient tape usable (a second checkpointed step does not fail or leak)', () => {
    const w = tf.variable(tf.randomNormal([3, 3], 0, 1, 'float32', 6));
    const x = tf.randomNormal([2, 3], 0, 1, 'float32', 7) as tf.Tensor2D;
    const step = () => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(checkpoint((t) => tf.sigmoid(linear(t, w as tf.Tensor2D)) as tf.Tensor2D, x, [w])) as tf.Scalar,
        [w],
      );
      value.dispose();
      tf.dispose(grads);
    };
    step();
    expectNoLeak(() => {
      step();
      step();
    });
    tf.dispose([w, x]);
  });
});

/** Whether the image tower, the text tower and the fusion encoder checkpoint their blocks. */
function stacksCheckpointed(m: IRRA): (boolean | undefined)[] {
  return [
    m.visual.transformer.gradientCheckpointing,
    m.text.transformer.gradientCheckpointing,
    m.crossModal?.transformer.gradientCheckpointing,
  ];
}

/** Loss and gradients with checkpointing `plan` equal those without it (and nothing leaks). */
function expectSameAsPlain(model: IRRA, batch: IRRABatch, plan: boolean | GradientCheckpointingPlan): void {
  const plain = lossAndGrads(model, batch);
  model.setGradientCheckpointing(plan);
  try {
    const ckpt = expectNoLeak(() => lossAndGrads(model, batch));
    expect(ckpt.loss).toBe(plain.loss);
    expect([...ckpt.grads.keys()].sort()).toEqual([...plain.grads.keys()].sort());
    for (const [name, g] of plain.grads) {
      const c = ckpt.grads.get(name) as Float32Array;
      let worst = 0;
      for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(c[i] - g[i]));
      expect(worst, name).toBeLessThanOrEqual(1e-6 * (1 + Math.max(...g.map(Math.abs))));
    }
  } finally {
    model.setGradientCheckpointing(false);
  }
}

describe('IRRA with gradient checkpointing (tiny_a fixture model)', () => {
  let model: IRRA;
  let batch: IRRABatch;
  useFixtureModel('tiny_a', (fixture) => {
    ({ model, batch } = fixture);
  });

  it('gives the same losses and gradients as without it, and leaks nothing', () => {
    expectSameAsPlain(model, batch, true);
  });

  it('is an IRRA.create option, and the setter checks its argument', () => {
    const m = IRRA.create(model.config, { seed: 1, gradientCheckpointing: true });
    expect(stacksCheckpointed(m)).toEqual([true, true, true]);
    expect(() => m.setGradientCheckpointing('yes' as unknown as boolean)).toThrow(
      /setGradientCheckpointing: on must be a boolean or \{ vision\?, text\?, fusion\? \} of booleans, got string/,
    );
    expect(() => m.setGradientCheckpointing({ visual: true } as never)).toThrow(/got visual: true/);
    expect(() => m.setGradientCheckpointing({ text: 1 } as never)).toThrow(/got text: 1/);
    m.setGradientCheckpointing({ vision: true });
    expect(stacksCheckpointed(m)).toEqual([true, false, false]);
    m.dispose();
    const p = IRRA.create(model.config, { seed: 1, gradientCheckpointing: { text: true, fusion: true } });
    expect(stacksCheckpointed(p)).toEqual([false, true, true]);
    p.dispose();
  });

  it('per stack ({ vision: true }): the same loss and gradients as without it', () => {
    expectSameAsPlain(model, batch, { vision: true });
  });
});
