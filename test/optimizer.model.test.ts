import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IRRA, IRRABatch, IRRALosses } from '../src/model';
import { buildOptimizer, type IrraOptimizer, type OptimizerName } from '../src/train/index';
import { expectClose, expectNoLeak } from './helpers/compare';
import { fixtureJson, fixtureKeys, fixtureRaw } from './helpers/fixtures';
import { disposeBatch, loadFixtureModel } from './helpers/model_fixtures';
import { type FixtureOptimizerOptions, optimizerOptionsOf } from './helpers/optimizer_fixtures';

/**
 * The reference's optimizer driven through the model: two torch Adam steps (same batch) on the
 * gradient of the sum of the five losses, against `step1.*` / `step2.*` of the tiny fixtures.
 *
 * The bound is 1e-2 relative (issue 6), wider than the 1e-3 of the fixed-gradient optimizer test,
 * because, in the words of the fixture README: "Through a model (`models.json` `step1/2`) expect
 * ~1e-3: Adam with eps 1e-3 turns an absolute gradient difference d into an update difference of
 * about lr·d/eps, so float32 gradient noise is amplified." On the first step the update is
 * `-lr·g/(|g| + eps)`, whose slope at small `|g|` is `lr/eps`, 1000× the lr.
 *
 * Measured (cpu and wasm): 3e-3 on tiny_a, 8e-3 to 1e-2 on tiny_overlap, always on the
 * projections `visual.proj` / `text_projection`, whose gradients (scale ~2, 2000× eps) differ from
 * the reference's by ~1e-5 of their scale while the optimizer's arithmetic on a given gradient
 * matches torch's Adam to ~1e-5. That gradient noise is float32 conditioning, not a port error:
 * moving half of the parameters by one float32 ulp changes this port's own step-1 update of
 * `visual.proj` by 5e-3 of its scale.
 */
const UPDATE_TOL = { rel: 1e-2, abs: 1e-7 };

interface ModelOptimizerSpec {
  num_classes: number;
  temperature: number;
  loss_names: string;
  losses: Record<(typeof LOSS_KEYS)[number], number>;
  optimizer: FixtureOptimizerOptions & { type: OptimizerName; eps: number };
  param_groups: Record<string, { lr: number; weight_decay: number }>;
}
const LOSS_KEYS = ['sdm_loss', 'id_loss', 'mlm_loss', 'itc_loss', 'cmpm_loss'] as const;

const specs = fixtureJson<{ models: Record<string, ModelOptimizerSpec> }>('models.json').models;

/** Every parameter of the model in the reference layout, as float64 copies. */
function referenceValues(model: IRRA): Map<string, Float64Array> {
  const sd = model.stateDict();
  const out = new Map([...sd].map(([n, t]) => [n, Float64Array.from(t.dataSync())]));
  tf.dispose([...sd.values()]);
  return out;
}

/** A fixture tensor (`prefix.name`) as float64. */
const fixtureValues = (file: string, key: string): Float64Array => Float64Array.from(fixtureRaw(file, key).data);

const diff = (a: Float64Array, b: Float64Array): Float64Array => a.map((v, i) => v - b[i]);

for (const name of ['tiny_a', 'tiny_overlap']) {
  describe(`Adam through the model on ${name} (models.json step1/step2)`, () => {
    const spec = specs[name];
    let model: IRRA;
    let batch: IRRABatch;
    let file: string;
    let opt: IrraOptimizer;
    beforeAll(() => {
      ({ model, batch, file } = loadFixtureModel(name));
      opt = buildOptimizer(model, optimizerOptionsOf(spec.optimizer.type, spec.optimizer));
    });
    afterAll(() => {
      opt.dispose();
      model.dispose();
      disposeBatch(batch);
    });

    it('is built with the fixture config', () => {
      expect(model.config.numClasses).toBe(spec.num_classes);
      expect(model.config.temperature).toBe(spec.temperature);
      expect(model.config.lossNames.join('+')).toBe(spec.loss_names);
      expect(opt.optimizer).toBe(spec.optimizer.type);
    });

    it('gives every parameter the lr and weight decay of models.json param_groups', () => {
      const seen = new Map<string, { lr: number; weightDecay: number }>();
      for (const g of opt.groups) {
        expect(g.lr).toBe(g.baseLr);
        for (const n of g.names) seen.set(n, { lr: g.baseLr, weightDecay: g.weightDecay });
      }
      expect([...seen.keys()].sort()).toEqual(Object.keys(spec.param_groups).sort());
      expect([...seen.keys()].sort()).toEqual([...model.namedParameters().keys()].sort());
      for (const [n, g] of Object.entries(spec.param_groups)) {
        expect({ name: n, ...seen.get(n) }).toEqual({ name: n, lr: g.lr, weightDecay: g.weight_decay });
      }
    });

    it('takes two steps whose updates match step1 - param and step2 - step1', () => {
      const params = model.namedParameters();
      const names = [...params.keys()];
      expect(fixtureKeys(file, 'step1.').length).toBe(names.length);
      expect(fixtureKeys(file, 'step2.').length).toBe(names.length);
      const totalLoss = (): tf.Scalar =>
        tf.tidy(() => {
          const out: IRRALosses = model.computeLosses(batch);
          return tf.addN(LOSS_KEYS.map((k) => out[k] as tf.Scalar)) as tf.Scalar;
        });

      const p0 = referenceValues(model);
      // The parameters loaded from the fixture are exactly the fixture's (float32 round trip).
      for (const n of names) {
        const expected = fixtureValues(file, `param.${n}`);
        const loaded = p0.get(n) as Float64Array;
        expect(loaded.length, n).toBe(expected.length);
        expect(
          loaded.findIndex((v, i) => v !== expected[i]),
          `${n}: first element that differs from param.${n}`,
        ).toBe(-1);
      }

      // Step 1 creates Adam's two slots (exp_avg, exp_avg_sq) per parameter; nothing else stays.
      const loss1 = expectNoLeak(() => opt.minimize(totalLoss), 2 * names.length);
      const total = LOSS_KEYS.reduce((sum, k) => sum + spec.losses[k], 0);
      expectClose(loss1, total, { kind: 'forward', label: `${name} loss before step 1`, group: 'model step loss' });
      const p1 = referenceValues(model);
      // Step 2 reuses the slots: nothing new stays.
      expectNoLeak(() => opt.minimize(totalLoss), 0);
      const p2 = referenceValues(model);
      expect(opt.step).toBe(2);

      const worst = { rel: 0, label: '' };
      for (const [k, before, after, prevRef] of [
        [1, p0, p1, 'param'],
        [2, p1, p2, 'step1'],
      ] as const) {
        for (const n of names) {
          const actual = diff(after.get(n) as Float64Array, before.get(n) as Float64Array);
          const expected = diff(fixtureValues(file, `step${k}.${n}`), fixtureValues(file, `${prevRef}.${n}`));
          const label = `${name} step${k} ${n}`;
          const { maxAbs, scale } = expectClose(actual, expected, {
            tol: UPDATE_TOL,
            label,
            group: 'model step updates',
          });
          const rel = maxAbs / (scale || 1);
          if (rel > worst.rel) Object.assign(worst, { rel, label });
        }
      }
      console.log(
        `[optimizer through the model ${tf.getBackend()}] ${name}: largest update error ${worst.rel.toExponential(2)} × max|update| (${worst.label})`,
      );
    });
  });
}
