import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { columnSum } from '../src/ops/column_sum';

let baseline = 0;
beforeEach(() => {
  baseline = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors, 'tensors left behind by the test').toBe(baseline);
});

describe('columnSum (bias and LayerNorm gradients)', () => {
  it('property: the same bits as tf.sum(x, 0) on this backend, for any shape and values', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer(),
        (rows, cols, seed) => {
          const x = tf.randomNormal([rows, cols], 0, 3, 'float32', seed) as tf.Tensor2D;
          const a = columnSum(x);
          const b = tf.sum(x, 0);
          expect(a.shape).toEqual([cols]);
          const av = a.dataSync() as Float32Array;
          const bv = b.dataSync() as Float32Array;
          expect(new Uint32Array(av.buffer, av.byteOffset, cols)).toEqual(
            new Uint32Array(bv.buffer, bv.byteOffset, cols),
          );
          tf.dispose([x, a, b]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the same bits at a ViT-B/16 training shape (1544 × 3072)', () => {
    const x = tf.randomNormal([1544, 3072], 0, 1, 'float32', 3) as tf.Tensor2D;
    const a = columnSum(x);
    const b = tf.sum(x, 0);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([x, a, b]);
  });
});
