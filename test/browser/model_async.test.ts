import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IRRA, IRRALosses } from '../../src/model';
import { expectClose } from '../helpers/compare';
import { fixtureKeys, fixtureRaw } from '../helpers/fixtures';
import { disposeBatch, fixtureModels, loadFixtureModel } from '../helpers/model_fixtures';

// IRRA on tiny_a with every result read by `await data()`, for webgpu (where `dataSync()` of a
// GPU-resident tensor returns zeros and loses the device in this Chromium). The model validates
// caption ids and pids with synchronous reads, which work while those tensors are still on the CPU:
// each call gets a freshly loaded batch (docs/backends.md, "webgpu"). tfjs-webgpu's default flags
// are kept, as a user would have them.

const NAME = 'tiny_a';
const FILE = `${NAME}.safetensors`;
const OUTPUTS = ['image_seq', 'text_seq', 'image_feats', 'text_feats', 'mlm_text_seq', 'fused', 'mlm_logits'] as const;
const LOSS_KEYS = ['sdm_loss', 'id_loss', 'mlm_loss', 'itc_loss', 'cmpm_loss'] as const;

const read = async (t: tf.Tensor): Promise<Float32Array> => Float32Array.from(await t.data());
const expected = (key: string): Float32Array => Float32Array.from(fixtureRaw(FILE, key).data);

describe(`IRRA on ${NAME}, results read asynchronously`, () => {
  let model: IRRA;
  beforeAll(() => {
    const loaded = loadFixtureModel(NAME);
    model = loaded.model;
    disposeBatch(loaded.batch);
  });
  afterAll(() => model.dispose());

  /** A fresh batch of the fixture (its integer tensors still on the CPU). */
  const freshBatch = () => {
    const { model: extra, batch } = loadFixtureModel(NAME);
    extra.dispose();
    return batch;
  };

  it('forward: every intermediate output matches the reference', async () => {
    const batch = freshBatch();
    const out = model.forward(batch);
    for (const k of OUTPUTS) {
      const actual = out[k] as tf.Tensor;
      expect(actual.shape, k).toEqual(fixtureRaw(FILE, `output.${k}`).shape);
      expectClose(await read(actual), expected(`output.${k}`), {
        kind: 'forward',
        label: `${NAME} ${k}`,
        group: 'model.forward',
      });
    }
    tf.dispose(Object.values(out) as tf.Tensor[]);
    disposeBatch(batch);
  });

  it('the five losses, the accuracies, and the gradient of their sum match the reference', async () => {
    const batch = freshBatch();
    const spec = fixtureModels[NAME];
    if (!spec) throw new Error(`models.json has no ${NAME}`);
    const params = model.namedParameters();
    let parts: Record<string, tf.Scalar> = {};
    const { value, grads } = tf.variableGrads(() => {
      const out: IRRALosses = model.computeLosses(batch);
      parts = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, tf.keep(t as tf.Scalar)]));
      return tf.addN(LOSS_KEYS.map((k) => out[k] as tf.Scalar)) as tf.Scalar;
    }, [...params.values()]);
    for (const k of LOSS_KEYS) {
      expectClose(await read(parts[k] as tf.Scalar), spec.losses[k] as number, {
        kind: 'forward',
        label: `${NAME} ${k}`,
        group: 'model.losses',
      });
    }
    for (const k of ['img_acc', 'txt_acc', 'mlm_acc'] as const) {
      expectClose(await read(parts[k] as tf.Scalar), spec.accuracies[k] as number, {
        kind: 'forward',
        label: `${NAME} ${k}`,
        group: 'model.acc',
      });
    }
    const total = LOSS_KEYS.reduce((s, k) => s + (spec.losses[k] as number), 0);
    expectClose(await read(value), total, { kind: 'forward', label: `${NAME} total loss`, group: 'model.losses' });
    expect(fixtureKeys(FILE, 'grad.').length).toBe(params.size);
    const byVar = new Map([...params].map(([n, v]) => [v.name, n]));
    for (const [varName, g] of Object.entries(grads)) {
      const refName = byVar.get(varName) as string;
      const actual = model.toReferenceLayout(refName, g);
      expectClose(await read(actual), expected(`grad.${refName}`), {
        kind: 'grad',
        label: `${NAME} grad ${refName}`,
        group: 'model.grad',
      });
      actual.dispose();
    }
    tf.dispose([value, ...Object.values(grads), ...Object.values(parts)]);
    disposeBatch(batch);
  });
});
