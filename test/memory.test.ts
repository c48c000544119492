import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { linear } from '../src/ops/linear';
import { buildOptimizer } from '../src/train';
import { expectNoLeak } from './helpers/compare';

describe('applyGradients({ disposeGradients })', () => {
  it('updates exactly as without it and disposes each gradient', () => {
    const run = (dispose: boolean) => {
      const initial = [
        tf.tensor2d([
          [1, -2],
          [3, 0.5],
        ]),
        tf.tensor1d([0.1, -0.1]),
      ];
      const params = new Map<string, tf.Variable>([
        ['a.weight', tf.variable(initial[0])],
        ['a.bias', tf.variable(initial[1])],
      ]);
      tf.dispose(initial);
      const opt = buildOptimizer(params, { optimizer: 'Adam', lr: 0.1, weightDecay: 0.01 });
      const grads = new Map<string, tf.Tensor>([
        [
          'a.weight',
          tf.tensor2d([
            [0.5, -1],
            [2, 0],
          ]),
        ],
        ['a.bias', tf.tensor1d([1, -3])],
      ]);
      opt.applyGradients(grads, { disposeGradients: dispose });
      const disposed = [...grads.values()].map((g) => g.isDisposed);
      const values = [...params.values()].map((v) => Array.from(v.dataSync()));
      tf.dispose([...grads.values()]);
      opt.dispose();
      tf.dispose([...params.values()]);
      return { disposed, values };
    };
    const kept = expectNoLeak(() => run(false));
    const freed = expectNoLeak(() => run(true));
    expect(kept.disposed).toEqual([false, false]);
    expect(freed.disposed).toEqual([true, true]);
    expect(freed.values).toEqual(kept.values);
  });
});

describe('linear with a Variable kernel under a gradient tape', () => {
  it('gives the same value and gradients as outside a tape, leaking nothing', () => {
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 1) as tf.Tensor2D;
    const w = tf.variable(tf.randomNormal([4, 5], 0, 1, 'float32', 2)) as unknown as tf.Tensor2D;
    const b = tf.variable(tf.randomNormal([5], 0, 1, 'float32', 3)) as unknown as tf.Tensor1D;
    const plain = linear(x, w, b);
    const { value, grads } = expectNoLeak(
      () => tf.variableGrads(() => tf.sum(tf.square(linear(x, w, b))) as tf.Scalar),
      3,
    );
    const viaTape = tf.tidy(() => tf.sum(tf.square(plain)));
    expect(value.dataSync()[0]).toBe(viaTape.dataSync()[0]);
    const expectedW = tf.tidy(() => tf.matMul(tf.transpose(x), tf.mul(plain, 2)));
    const gw = grads[(w as unknown as tf.Variable).name];
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(gw, expectedW))).dataSync()[0]);
    expect(diff).toBeLessThan(1e-5);
    tf.dispose([x, w, b, plain, value, viaTape, expectedW, ...Object.values(grads)]);
  });
});
