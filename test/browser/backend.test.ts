import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { fixtureJson } from '../helpers/fixtures';

describe('browser backend', () => {
  it('runs on the requested backend with gradients registered', async () => {
    expect(tf.getBackend()).toBe(process.env.IRRA_TEST_BACKEND);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, 2, 3]));
    expect(Array.from(await g.data())).toEqual([2, 4, 6]);
    g.dispose();
  });
  it('reads the shared fixtures', () => {
    expect(fixtureJson<{ cases: unknown[] }>('losses.json').cases.length).toBe(3);
  });
});
