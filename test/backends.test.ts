import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BACKENDS_DEFAULTS, describeBackend, selectBackend } from '../src/backends';
import { sdmLoss } from '../src/losses';
import { expectClose } from './helpers/compare';
import { fixtureJson, fixtureTensor } from './helpers/fixtures';

// The package name sits in a variable so that Vite does not try to resolve it when transforming.
const TFJS_NODE = '@tensorflow/tfjs-node';
const tfjsNodeError = await import(/* @vite-ignore */ TFJS_NODE).then(
  () => null,
  (e: unknown) => (e instanceof Error ? e.message.split('\n')[0] : String(e)),
);
const hasTfjsNode = tfjsNodeError === null;
if (!hasTfjsNode) {
  console.info(
    `backends.test: '${TFJS_NODE}' cannot be imported here (${tfjsNodeError}); the test that runs the ` +
      `'tensorflow' backend is skipped. Its install step downloads libtensorflow, which this machine cannot ` +
      `reach; install it (npm i ${TFJS_NODE}) and the test runs.`,
  );
}

// The project's backend (test/setup/backend.ts) is restored after each test.
const projectBackend = tf.getBackend();
afterEach(async () => {
  expect(await tf.setBackend(projectBackend)).toBe(true);
});

describe('selectBackend', () => {
  it('selects wasm and reports one XNNPACK thread with SIMD in Node', async () => {
    expect(await selectBackend(['wasm'])).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const d = await describeBackend();
    // tfjs 4.22 hard-codes WASM_HAS_MULTITHREAD_SUPPORT to false in Node, so XNNPACK gets one thread.
    expect(d).toEqual({ name: 'wasm', threads: 1, simd: true, multithreadSupported: false });
    console.info(`backends.test: wasm in Node: ${JSON.stringify(d)}`);
  });

  it('selects cpu, and describes a non-wasm backend by name only', async () => {
    expect(await selectBackend(['cpu'])).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await describeBackend()).toEqual({ name: 'cpu' });
  });

  it('skips unknown and failing backends and says why when none works', async () => {
    expect(await selectBackend(['no-such-backend', 'cpu'])).toBe('cpu');
    tf.registerBackend('irra-broken', () => {
      throw new Error('broken on purpose');
    });
    // tfjs prints the failed initialization with console.warn; keep the output clean, and check it.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      expect(await selectBackend(['irra-broken', 'wasm'])).toBe('wasm');
      const err = await selectBackend(['irra-broken', 'no-such-backend']).then(
        () => null,
        (e: Error) => e.message,
      );
      expect(err).toMatch(/none of the backends \[irra-broken, no-such-backend\] could be used/);
      expect(err).toMatch(/irra-broken: the backend failed to initialize \(tf\.setBackend returned false/);
      expect(err).toMatch(/no-such-backend: no backend 'no-such-backend' is registered and no package is known/);
      expect(warn).toHaveBeenCalledWith('Initialization of backend irra-broken failed');
    } finally {
      warn.mockRestore();
      tf.removeBackend('irra-broken');
    }
  });

  it('rejects a preferred list that is not a non-empty array of names', async () => {
    await expect(selectBackend([])).rejects.toThrow(
      /expected preferred to be a non-empty array of backend names, got \[\]/,
    );
    await expect(selectBackend(['cpu', ''])).rejects.toThrow(/non-empty array of backend names, got \["cpu",""\]/);
    await expect(selectBackend('cpu' as unknown as string[])).rejects.toThrow(/got "cpu"/);
  });

  it.runIf(!hasTfjsNode)(
    'reports tensorflow as unavailable, naming both tfjs-node packages, when neither imports',
    async () => {
      const err = await selectBackend(['tensorflow']).then(
        () => null,
        (e: Error) => e.message,
      );
      expect(err).toMatch(
        /tensorflow: could not import '@tensorflow\/tfjs-node' \(.+\); could not import '@tensorflow\/tfjs-node-gpu'/,
      );
      expect(tf.getBackend()).toBe(projectBackend);
      expect(BACKENDS_DEFAULTS.preferred).toEqual(['tensorflow', 'wasm', 'cpu']);
      expect(await selectBackend()).toBe('wasm');
    },
  );

  it.runIf(hasTfjsNode)('selects tensorflow (tfjs-node) first and computes SDM at reference parity on it', async () => {
    expect(await selectBackend()).toBe('tensorflow');
    expect(await describeBackend()).toEqual({ name: 'tensorflow' });
    const c = fixtureJson<{ cases: Array<{ prefix: string; logit_scale: number; expected: Record<string, number> }> }>(
      'losses.json',
    ).cases[0] as { prefix: string; logit_scale: number; expected: Record<string, number> };
    const value = tf.tidy(() => {
      const img = fixtureTensor('losses.safetensors', `${c.prefix}image_feats`) as tf.Tensor2D;
      const txt = fixtureTensor('losses.safetensors', `${c.prefix}text_feats`) as tf.Tensor2D;
      const pids = fixtureTensor('losses.safetensors', `${c.prefix}pids`) as tf.Tensor1D;
      return sdmLoss(img, txt, pids, c.logit_scale).dataSync()[0] as number;
    });
    expectClose(value, c.expected.sdm as number, { kind: 'forward', label: 'tensorflow sdm', group: 'backends' });
  });
});
