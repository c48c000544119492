import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IRRAConfig } from '../src/config';
import { IRRA, type IRRABatch, type IRRAForwardOutputs, type IRRALosses } from '../src/model';
import { expectClose } from './helpers/compare';
import { fixtureJson, fixtureKeys, fixtureTensor } from './helpers/fixtures';

interface FixtureModel {
  config: { image_resolution: [number, number]; stride_size: number; transformer_heads: number };
  temperature: number;
  loss_names: string;
  losses: Record<string, number>;
  accuracies: Record<string, number>;
}
const models = fixtureJson<{ models: Record<string, FixtureModel> }>('models.json').models;

/** Loads a fixture model and its batch (images transposed from NCHW to NHWC). */
export function loadFixtureModel(name: string): { model: IRRA; batch: IRRABatch; file: string } {
  const file = `${name}.safetensors`;
  const spec = models[name];
  const params = new Map<string, tf.Tensor>();
  for (const k of fixtureKeys(file, 'param.')) params.set(k.slice('param.'.length), fixtureTensor(file, k));
  const model = IRRA.fromStateDict(params, {
    imageSize: spec.config.image_resolution,
    strideSize: spec.config.stride_size,
    transformerHeads: spec.config.transformer_heads,
    lossNames: spec.loss_names.split('+') as IRRAConfig['lossNames'],
    temperature: spec.temperature,
  });
  for (const t of params.values()) t.dispose();
  const nchw = fixtureTensor(file, 'input.images');
  const batch: IRRABatch = {
    images: tf.transpose(nchw, [0, 2, 3, 1]) as tf.Tensor4D,
    captionIds: fixtureTensor(file, 'input.caption_ids') as tf.Tensor2D,
    mlmIds: fixtureTensor(file, 'input.mlm_ids') as tf.Tensor2D,
    mlmLabels: fixtureTensor(file, 'input.mlm_labels') as tf.Tensor2D,
    pids: fixtureTensor(file, 'input.pids') as tf.Tensor1D,
  };
  nchw.dispose();
  return { model, batch, file };
}

export function disposeBatch(batch: IRRABatch): void {
  for (const t of Object.values(batch)) (t as tf.Tensor | undefined)?.dispose();
}

/** The parity-report group of a parameter: the model part it belongs to. */
function gradGroup(name: string): string {
  if (name.startsWith('base_model.visual.')) return 'visual';
  if (name.startsWith('base_model.')) return 'text';
  if (name.startsWith('classifier.')) return 'classifier';
  if (name.startsWith('mlm_head.')) return 'mlm_head';
  return 'fusion';
}

const LOSS_KEYS = ['sdm_loss', 'id_loss', 'mlm_loss', 'itc_loss', 'cmpm_loss'] as const;

for (const name of ['tiny_a', 'tiny_overlap']) {
  describe(`IRRA parity with the reference on ${name}`, () => {
    let model: IRRA;
    let batch: IRRABatch;
    let file: string;
    beforeAll(() => {
      ({ model, batch, file } = loadFixtureModel(name));
    });
    afterAll(() => {
      model.dispose();
      disposeBatch(batch);
    });

    it('matches every intermediate output', () => {
      const out = model.forward(batch);
      const keys = [
        'image_seq',
        'text_seq',
        'image_feats',
        'text_feats',
        'mlm_text_seq',
        'fused',
        'mlm_logits',
      ] as const;
      for (const k of keys) {
        const actual = out[k as keyof IRRAForwardOutputs] as tf.Tensor;
        const expected = fixtureTensor(file, `output.${k}`);
        expect(actual.shape, k).toEqual(expected.shape);
        expectClose(actual, expected, { kind: 'forward', label: `${name} ${k}`, group: 'model.forward' });
        expected.dispose();
      }
      for (const t of Object.values(out)) (t as tf.Tensor).dispose();
    });

    it('matches the five losses and three accuracies', () => {
      const out = model.computeLosses(batch);
      const spec = models[name];
      for (const k of LOSS_KEYS) {
        expectClose(out[k] as tf.Scalar, spec.losses[k], {
          kind: 'forward',
          label: `${name} ${k}`,
          group: 'model.losses',
        });
      }
      for (const k of ['img_acc', 'txt_acc', 'mlm_acc'] as const) {
        expectClose(out[k] as tf.Scalar, spec.accuracies[k], {
          kind: 'forward',
          label: `${name} ${k}`,
          group: 'model.acc',
        });
      }
      for (const t of Object.values(out)) (t as tf.Tensor).dispose();
    });

    it('matches the gradient of the summed losses for every parameter', () => {
      const params = model.namedParameters();
      const { value, grads } = tf.variableGrads(() => {
        const out: IRRALosses = model.computeLosses(batch);
        return tf.addN(LOSS_KEYS.map((k) => out[k] as tf.Scalar)) as tf.Scalar;
      }, [...params.values()]);
      const spec = models[name];
      const total = LOSS_KEYS.reduce((s, k) => s + spec.losses[k], 0);
      expectClose(value, total, { kind: 'forward', label: `${name} total loss`, group: 'model.losses' });
      const byVar = new Map([...params].map(([n, v]) => [v.name, n]));
      expect(Object.keys(grads).length).toBe(params.size);
      expect(fixtureKeys(file, 'grad.').length).toBe(params.size);
      for (const [varName, g] of Object.entries(grads)) {
        const refName = byVar.get(varName) as string;
        const actual = model.toReferenceLayout(refName, g);
        const expected = fixtureTensor(file, `grad.${refName}`);
        const group = `model.grad.${gradGroup(refName)}`;
        expectClose(actual, expected, { kind: 'grad', label: `${name} grad ${refName}`, group });
        actual.dispose();
        expected.dispose();
      }
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
    });
  });
}
