import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { disposeBatch, loadFixtureModel } from './helpers/model_fixtures';

const { model, batch } = loadFixtureModel('tiny_a');
afterAll(() => {
  disposeBatch(batch);
  model.dispose();
});

describe('token ids from host memory', () => {
  it('encodeText / encodeTextTokens take the Int32Array the tokenizer returns: same bits, ids never read back', () => {
    const host = batch.captionIds.dataSync() as Int32Array;
    const fromTensor = model.encodeText(batch.captionIds);
    const tokensFromTensor = model.encodeTextTokens(batch.captionIds);
    const reads = vi.spyOn(tf.Tensor.prototype, 'dataSync');
    const before = tf.memory().numTensors;
    const fromHost = model.encodeText(host);
    const tokensFromHost = model.encodeTextTokens(host);
    // cpu/wasm attention reads its float activations back by design; no int32 ids are read.
    expect(reads.mock.contexts.filter((t) => (t as tf.Tensor).dtype === 'int32')).toEqual([]);
    // The spy sees them when they are there: tensor ids are validated by reading them.
    reads.mockClear();
    tf.dispose(model.encodeText(batch.captionIds));
    expect(reads.mock.contexts.filter((t) => (t as tf.Tensor).dtype === 'int32').length).toBeGreaterThan(0);
    reads.mockRestore();
    expect(tf.memory().numTensors - before).toBe(2);
    expect(fromHost.shape).toEqual(fromTensor.shape);
    expect(Array.from(fromHost.dataSync())).toEqual(Array.from(fromTensor.dataSync()));
    expect(Array.from(tokensFromHost.dataSync())).toEqual(Array.from(tokensFromTensor.dataSync()));
    tf.dispose([fromHost, fromTensor, tokensFromHost, tokensFromTensor]);
  });

  it('checks host ids as it checks tensors', () => {
    const l = model.config.contextLength;
    expect(() => model.encodeText(new Int32Array(l + 1))).toThrow(/an Int32Array of rows of 16 ids, got 17 ids/);
    expect(() => model.encodeText(new Int32Array(0))).toThrow(/got 0 ids/);
    const row = new Int32Array(l);
    row.set([510, 3, 4]);
    expect(() => model.encodeText(row)).toThrow(/row 0 has no end-of-text id 511/);
    row[3] = 512;
    expect(() => model.encodeText(row)).toThrow(/ids in \[0, 512\).*got 512 at row 0, position 3/);
  });
});
