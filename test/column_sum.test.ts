import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { columnSum } from '../src/ops/column_sum';
import { expectNoLeak } from './helpers/compare';

/** columnSum and tf.sum(x, 0) of a seeded `[rows, cols]` tensor, as bit patterns. */
function bothBits(rows: number, cols: number, seed: number): [Uint32Array, Uint32Array, number[]] {
  return expectNoLeak(() => {
    const x = tf.randomNormal([rows, cols], 0, 3, 'float32', seed) as tf.Tensor2D;
    const a = columnSum(x);
    const b = tf.sum(x, 0);
    const bits = (t: tf.Tensor) => new Uint32Array(Float32Array.from(t.dataSync()).buffer);
    const out: [Uint32Array, Uint32Array, number[]] = [bits(a), bits(b), a.shape];
    tf.dispose([x, a, b]);
    return out;
  });
}

describe('columnSum (bias and LayerNorm gradients)', () => {
  it('property: the same bits as tf.sum(x, 0) on this backend, for any shape and values', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer(),
        (rows, cols, seed) => {
          const [a, b, shape] = bothBits(rows, cols, seed);
          expect(shape).toEqual([cols]);
          expect(a).toEqual(b);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the same bits at a ViT-B/16 training shape (1544 × 3072)', () => {
    const [a, b] = bothBits(1544, 3072, 3);
    expect(a).toEqual(b);
  });
});
