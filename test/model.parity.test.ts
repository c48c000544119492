import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { IRRA, IRRABatch, IRRAForwardOutputs, IRRALosses } from '../src/model';
import { expectClose } from './helpers/compare';
import { fixtureKeys, fixtureTensor } from './helpers/fixtures';
import { fixtureModels as models, useFixtureModel } from './helpers/model_fixtures';

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
    useFixtureModel(name, (fixture) => {
      ({ model, batch, file } = fixture);
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
