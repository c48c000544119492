import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { customOp } from '../src/ops/custom_op';
import { expectNoLeak } from './helpers/compare';

/** y = x² with a hand-written gradient; reports what its gradient function saw. */
function square(log: { saved?: tf.Tensor; temp?: tf.Tensor }) {
  return customOp<tf.Tensor>(([x], save) => {
    save([x]);
    return {
      value: tf.square(x),
      gradFunc: (dy, saved) => {
        log.saved = saved[0];
        const two = tf.mul(saved[0], 2);
        log.temp = two;
        return [tf.mul(dy, two)];
      },
    };
  });
}

describe('customOp frees its backward memory as it goes', () => {
  it("disposes each op's saved tensors and gradient temporaries before the next node's gradient runs", () => {
    expectNoLeak(() => {
      const outer: { saved?: tf.Tensor; temp?: tf.Tensor } = {};
      const inner: { saved?: tf.Tensor; temp?: tf.Tensor } = {};
      const sqOuter = square(outer);
      const sqInner = square(inner);
      let outerFreedWhenInnerRan: boolean[] = [];
      const probe = customOp<tf.Tensor>(([x], save) => {
        save([]);
        return {
          value: tf.clone(x),
          gradFunc: (dy) => {
            // Runs after sqOuter's gradient (the op closer to the loss), before sqInner's.
            outerFreedWhenInnerRan = [outer.saved?.isDisposed ?? false, outer.temp?.isDisposed ?? false];
            return [tf.clone(dy)];
          },
        };
      });
      const x = tf.tensor1d([1, 2, 3]);
      // loss = sum(((x²)')²) = sum(x⁴): d/dx = 4x³
      const g = tf.grad((v: tf.Tensor) => tf.sum(sqOuter(probe(sqInner(v)))))(x);
      expect(outerFreedWhenInnerRan).toEqual([true, true]);
      expect(inner.saved?.isDisposed).toBe(true);
      expect(Array.from(g.dataSync())).toEqual([4, 32, 108]);
      tf.dispose([x, g]);
    });
  });

  it('keeps the caller-provided output gradient of tf.grads', () => {
    const sq = square({});
    const x = tf.tensor1d([1, 2]);
    const dy = tf.tensor1d([1, 10]);
    const [g] = tf.grads((v: tf.Tensor) => sq(v))([x], dy);
    expect(dy.isDisposed).toBe(false);
    expect(Array.from(g.dataSync())).toEqual([2, 40]);
    tf.dispose([x, dy, g]);
  });
});
