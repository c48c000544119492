import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IRRA, IRRABatch, IRRALosses } from '../../src/model';
import { expectClose } from '../helpers/compare';
import { fixtureRaw } from '../helpers/fixtures';
import { disposeBatch, loadFixtureModel } from '../helpers/model_fixtures';

// Token ids as the tokenizer's Int32Array (validated in host memory, no read-back) against the same
// ids as a fresh int32 tensor (read back with dataSync()), on webgl and webgpu: the same features
// and losses, to 1e-6, and the reference's. Every result is read with `await data()` (webgpu).

const NAME = 'tiny_a';
const FILE = `${NAME}.safetensors`;
const LOSS_KEYS = ['sdm_loss', 'id_loss', 'mlm_loss', 'itc_loss', 'cmpm_loss'] as const;

const read = async (t: tf.Tensor): Promise<Float32Array> => Float32Array.from(await t.data());
const host = (key: string): Int32Array => Int32Array.from(fixtureRaw(FILE, `input.${key}`).data as Int32Array);
const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};

describe(`IRRA on ${NAME}: Int32Array token ids vs tensor token ids`, () => {
  let model: IRRA;
  let images: tf.Tensor4D;
  beforeAll(() => {
    const loaded = loadFixtureModel(NAME);
    model = loaded.model;
    images = loaded.batch.images;
    loaded.batch.images = undefined as unknown as tf.Tensor4D;
    disposeBatch(loaded.batch);
  });
  afterAll(() => {
    images.dispose();
    model.dispose();
  });

  /** A fixture input as a fresh int32 tensor (its values still on the CPU). */
  const tensor = <T extends tf.Tensor>(key: string): T =>
    tf.tensor(host(key), fixtureRaw(FILE, `input.${key}`).shape, 'int32') as T;

  it('encodeText: the same features from both, twice from the same Int32Array, and the reference', async () => {
    const before = tf.memory().numTensors;
    const ids = host('caption_ids');
    const captionIds = tensor<tf.Tensor2D>('caption_ids');
    const fromTensor = model.encodeText(captionIds);
    const fromHost = model.encodeText(ids);
    // A second call with the same host ids (a tensor reused after an upload reads zeros on webgpu).
    const again = model.encodeText(ids);
    const [t, h, h2] = await Promise.all([read(fromTensor), read(fromHost), read(again)]);
    expect(maxAbsDiff(t, h), 'tensor vs Int32Array').toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(h, h2), 'Int32Array, first vs second call').toBe(0);
    expectClose(h, Float32Array.from(fixtureRaw(FILE, 'output.text_feats').data), {
      kind: 'forward',
      label: `${NAME} text_feats from Int32Array ids`,
      group: 'model.forward',
    });
    tf.dispose([captionIds, fromTensor, fromHost, again]);
    expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
  });

  it('computeLosses: the same five losses from an all-tensor batch and an all-host batch', async () => {
    const before = tf.memory().numTensors;
    const tensors: IRRABatch = {
      images,
      captionIds: tensor<tf.Tensor2D>('caption_ids'),
      mlmIds: tensor<tf.Tensor2D>('mlm_ids'),
      mlmLabels: tensor<tf.Tensor2D>('mlm_labels'),
      pids: tensor<tf.Tensor1D>('pids'),
    };
    const hostBatch: IRRABatch<Int32Array, Int32Array> = {
      images,
      captionIds: host('caption_ids'),
      mlmIds: host('mlm_ids'),
      mlmLabels: host('mlm_labels'),
      pids: host('pids'),
    };
    const fromTensor: IRRALosses = model.computeLosses(tensors);
    const fromHost: IRRALosses = model.computeLosses(hostBatch);
    for (const k of LOSS_KEYS) {
      const t = await read(fromTensor[k] as tf.Scalar);
      const h = await read(fromHost[k] as tf.Scalar);
      expect(Math.abs((t[0] as number) - (h[0] as number)), k).toBeLessThanOrEqual(
        1e-6 * Math.max(1, Math.abs(t[0] as number)),
      );
    }
    tf.dispose([...(Object.values(fromTensor) as tf.Tensor[]), ...(Object.values(fromHost) as tf.Tensor[])]);
    tf.dispose([tensors.captionIds, tensors.mlmIds as tf.Tensor, tensors.mlmLabels as tf.Tensor, tensors.pids]);
    expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
  });
});
