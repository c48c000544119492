import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { L2_EPSILON, l2NormalizeRows, l2NormalizeTensorRows } from '../src/ops/normalize';
import { expectNoLeak } from './helpers/compare';

describe('L2 normalisation (host and backend)', () => {
  it('the backend version matches the host version within float32 rounding, zero rows stay zero', () => {
    const value = fc.float({ min: -100, max: 100, noNaN: true });
    const matrix = fc
      .integer({ min: 1, max: 7 })
      .chain((dim) => fc.array(fc.array(value, { minLength: dim, maxLength: dim }), { minLength: 1, maxLength: 5 }));
    const agree = (rows: number[][]) => {
      const dim = rows[0].length;
      const values = Float32Array.from(rows.flat());
      values.fill(0, 0, dim);
      const host = l2NormalizeRows(Float32Array.from(values), dim);
      const device = expectNoLeak(() => {
        const x = tf.tensor2d(values, [rows.length, dim]);
        const y = l2NormalizeTensorRows(x);
        const out = y.dataSync().slice();
        tf.dispose([x, y]);
        return out;
      });
      expect(Array.from(device.subarray(0, dim))).toEqual(new Array(dim).fill(0));
      for (let i = 0; i < host.length; i++) expect(Math.abs(device[i] - host[i])).toBeLessThan(1e-6);
    };
    fc.assert(fc.property(matrix, agree), { numRuns: 30 });
  });

  it('divides by max(norm, L2_EPSILON): a tiny row is scaled by 1/ε, not blown to unit length', () => {
    const x = tf.tensor2d([[1e-20, 0]]);
    const y = l2NormalizeTensorRows(x);
    expect(y.dataSync()[0]).toBeCloseTo(1e-20 / L2_EPSILON, 12);
    tf.dispose([x, y]);
  });

  it('leaves its input alone and returns a new tensor the caller owns', () => {
    const x = tf.tensor2d([[3, 4]]);
    const y = expectNoLeak(() => l2NormalizeTensorRows(x), 1);
    expect(Array.from(y.dataSync())).toEqual([0.6000000238418579, 0.800000011920929]);
    expect(x.isDisposed).toBe(false);
    tf.dispose([x, y]);
  });
});
