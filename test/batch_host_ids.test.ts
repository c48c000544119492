import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { TokenIds } from '../src/layers/text_transformer';
import { type HostOrTensor1D, type IRRABatch, totalLoss } from '../src/model';
import { disposeBatch, loadFixtureModel } from './helpers/model_fixtures';

const { model, batch } = loadFixtureModel('tiny_a');
const b = batch.pids.shape[0];
const imageIds = tf.tensor1d(
  Array.from({ length: b }, (_, i) => i % 2),
  'int32',
);
const tensorBatch: IRRABatch = { ...batch, imageIds };
/** The same batch with every id and identity in host memory. */
const hostBatch: IRRABatch<Int32Array, Int32Array> = {
  images: batch.images,
  captionIds: batch.captionIds.dataSync() as Int32Array,
  mlmIds: (batch.mlmIds as tf.Tensor2D).dataSync() as Int32Array,
  mlmLabels: (batch.mlmLabels as tf.Tensor2D).dataSync() as Int32Array,
  pids: batch.pids.dataSync() as Int32Array,
  imageIds: imageIds.dataSync() as Int32Array,
};
afterAll(() => {
  disposeBatch(batch);
  imageIds.dispose();
  model.dispose();
});

/** The bits of every named tensor, then disposes them. */
function bits(named: Record<string, tf.Tensor | undefined>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(named)) {
    if (!t) continue;
    out[k] = Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));
    t.dispose();
  }
  return out;
}

/**
 * Runs `fn`; returns what it returned and where each synchronous read of an int32 tensor came
 * from (the first stack frame in src/, as `file:function`).
 */
function int32Reads<T>(fn: () => T): { out: T; reads: string[] } {
  const original = tf.Tensor.prototype.dataSync;
  const reads: string[] = [];
  const spy = vi.spyOn(tf.Tensor.prototype, 'dataSync').mockImplementation(function (this: tf.Tensor) {
    if (this.dtype === 'int32') {
      const frame = (new Error().stack ?? '').split('\n').find((f) => f.includes('/src/')) ?? '?';
      const m = /at (\S+) .*\/src\/(\S+?):\d+/.exec(frame);
      reads.push(m ? `${m[2]}:${m[1]}` : frame.trim());
    }
    return original.call(this) as never;
  });
  try {
    return { out: fn(), reads };
  } finally {
    spy.mockRestore();
  }
}

describe('IRRA.computeLosses / forward with host ids (Int32Array)', () => {
  it('computeLosses: the same bits as with tensors, and the model reads no id back', () => {
    const fromTensors = int32Reads(() => model.computeLosses(tensorBatch));
    // The spy sees tensor ids: the model validates them (and finds the MLM rows) by reading them.
    expect(fromTensors.reads.filter((r) => r.startsWith('model/') || r.startsWith('layers/')).length).toBeGreaterThan(
      0,
    );
    const before = tf.memory().numTensors;
    const fromHost = int32Reads(() => model.computeLosses(hostBatch));
    // With host ids nothing is read back: the model hands idLoss and mlmLoss host labels too.
    expect(fromHost.reads).toEqual([]);
    const keys = Object.keys(fromTensors.out);
    expect(tf.memory().numTensors - before).toBe(keys.length);
    expect(Object.keys(fromHost.out).sort()).toEqual(keys.sort());
    expect(keys).toContain('mlm_loss');
    expect(bits({ ...fromHost.out })).toEqual(bits({ ...fromTensors.out }));
  });

  it('forward: the same bits as with tensors', () => {
    const fromTensors = model.forward(tensorBatch);
    const fromHost = int32Reads(() => model.forward(hostBatch));
    expect(fromHost.reads).toEqual([]);
    expect(bits({ ...fromHost.out })).toEqual(bits({ ...fromTensors }));
  });

  it('splitBatchLosses (data-parallel training): the same features and losses', () => {
    const split = { splitBatchLosses: true };
    const fromTensors = model.computeLosses(tensorBatch, split);
    const fromHost = model.computeLosses(hostBatch, split);
    expect(fromHost.image_feats).toBeDefined();
    expect(fromHost.sdm_loss).toBeUndefined();
    expect(bits({ ...fromHost })).toEqual(bits({ ...fromTensors }));
  });

  it('the same gradients as with tensors', () => {
    const grads = (x: IRRABatch<TokenIds, HostOrTensor1D>) => {
      const { value, grads } = tf.variableGrads(() => totalLoss(model.computeLosses(x)));
      return bits({ value, ...grads });
    };
    expect(grads(hostBatch)).toEqual(grads(tensorBatch));
  });

  it('checks host ids and identities as it checks tensors, naming the argument', () => {
    const l = model.config.contextLength;
    const cut = (x: Int32Array, rows: number, per: number) => x.slice(0, rows * per);
    const cases: [Partial<IRRABatch<Int32Array, Int32Array>>, RegExp][] = [
      [
        { captionIds: cut(hostBatch.captionIds, b - 1, l) },
        new RegExp(
          `batch.captionIds must have batch size ${b} \\(that of batch.images\\), got ${b - 1} rows of ${l} in an Int32Array`,
        ),
      ],
      [
        { captionIds: new Int32Array(l * b + 1) },
        /batch.captionIds must be int32 \[batch, 16\]: an Int32Array of rows of 16 ids, got/,
      ],
      [
        { pids: cut(hostBatch.pids, b - 1, 1) },
        new RegExp(`batch.pids must have batch size ${b} .*got ${b - 1} rows of 1`),
      ],
      [
        { pids: Int32Array.from(hostBatch.pids, () => 99) },
        /batch.pids must lie in \[0, \d+\) \(numClasses\), got 99 at 0/,
      ],
      [
        { imageIds: cut(hostBatch.imageIds as Int32Array, 1, 1) },
        new RegExp(`batch.imageIds must have batch size ${b}`),
      ],
      [{ mlmLabels: cut(hostBatch.mlmLabels as Int32Array, b - 1, l) }, /batch.mlmLabels must have batch size/],
      [
        { mlmIds: Int32Array.from(hostBatch.mlmIds as Int32Array, () => 512) },
        /batch.mlmIds must hold ids in \[0, 512\).*got 512 at row 0, position 0/,
      ],
    ];
    for (const [patch, message] of cases) {
      expect(() => model.computeLosses({ ...hostBatch, ...patch })).toThrow(message);
    }
    const notAVector = { ...hostBatch, pids: Array.from(hostBatch.pids) } as unknown as IRRABatch;
    expect(() => model.computeLosses(notAVector)).toThrow(
      /batch.pids must be int32 \[\d+\] \(a tensor or an Int32Array\), got object/,
    );
  });
});
