import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { describeBackend, selectBackend } from '../../src/backends';

// In a browser, backends come from the application's bundle: selectBackend chooses among the
// registered ones, and reports a package it cannot import by name (here wasm and tfjs-node).
const projectBackend = tf.getBackend();
afterEach(async () => {
  expect(await tf.setBackend(projectBackend)).toBe(true);
});

describe('selectBackend in the browser', () => {
  it('selects the registered backend after names it cannot load, and says why when none works', async () => {
    expect(await selectBackend(['tensorflow', 'wasm', projectBackend])).toBe(projectBackend);
    expect(tf.getBackend()).toBe(projectBackend);
    expect(await describeBackend()).toEqual({ name: projectBackend });
    const err = await selectBackend(['tensorflow', 'wasm']).then(
      () => null,
      (e: Error) => e.message,
    );
    expect(err).toMatch(
      /tensorflow: could not import '@tensorflow\/tfjs-node' \(.+\); could not import '@tensorflow\/tfjs-node-gpu'/,
    );
    expect(err).toMatch(/wasm: could not import '@tensorflow\/tfjs-backend-wasm'/);
  });

  it('switches between the registered backends (cpu, then back)', async () => {
    expect(await selectBackend(['cpu'])).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await selectBackend([projectBackend])).toBe(projectBackend);
  });
});
