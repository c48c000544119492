import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rankAsync } from '../../src/eval/rank';
import { cmpmLoss, idLoss, itcLoss, mlmLoss, sdmLoss } from '../../src/losses';
import { expectClose } from '../helpers/compare';
import { fixtureJson, fixtureKeys, fixtureRaw, fixtureTensor } from '../helpers/fixtures';
import { LOSS_FILE, type LossCase, lossCases } from '../helpers/loss_fixtures';
import { expectRankFixture, type MetricsFixture } from '../helpers/metrics';

// The parity checks that must also hold on webgpu, where `dataSync()` of a tensor living on the
// GPU returns zeros and loses the device in this Chromium (SwiftShader): every result is read with
// `await data()` and compared as plain numbers. Integer inputs that the library validates with a
// synchronous read (labels, pids, caption ids) are created fresh for every call, so their values
// are still on the CPU (docs/backends.md, "webgpu"). The file runs on webgl too.

const onWebgpu = tf.getBackend() === 'webgpu';
// tfjs-webgpu runs ops on the CPU when their inputs are small and CPU-resident
// (WEBGPU_CPU_FORWARD); switch that off so that the fixtures' small tensors really run on the GPU.
let cpuForward: boolean | undefined;
beforeAll(() => {
  if (onWebgpu) {
    cpuForward = tf.env().getBool('WEBGPU_CPU_FORWARD');
    tf.env().set('WEBGPU_CPU_FORWARD', false);
  }
});
afterAll(() => {
  if (onWebgpu && cpuForward !== undefined) tf.env().set('WEBGPU_CPU_FORWARD', cpuForward);
});

const read = async (t: tf.Tensor): Promise<Float32Array> => Float32Array.from(await t.data());
const expected = (file: string, key: string): Float32Array => Float32Array.from(fixtureRaw(file, key).data);

type Inputs = Record<string, tf.Tensor>;
const T2 = (t: tf.Tensor) => t as tf.Tensor2D;
const T1 = (t: tf.Tensor) => t as tf.Tensor1D;
/** Integer fixture inputs, made anew (CPU-resident) at every call. */
const ints = (c: LossCase, name: string): tf.Tensor1D => T1(fixtureTensor(LOSS_FILE, `${c.prefix}${name}`));

/** Each loss: the fixture inputs it differentiates and the loss of those inputs. */
const LOSSES: Record<string, { diff: string[]; fn: (c: LossCase, x: Inputs) => tf.Scalar }> = {
  sdm: {
    diff: ['image_feats', 'text_feats'],
    fn: (c, x) =>
      sdmLoss(T2(x.image_feats), T2(x.text_feats), ints(c, 'pids'), c.logit_scale, {
        factor: c.sdm_factor,
        epsilon: c.epsilon,
      }),
  },
  sdm_image_id: {
    diff: ['image_feats', 'text_feats'],
    fn: (c, x) =>
      sdmLoss(T2(x.image_feats), T2(x.text_feats), ints(c, 'pids'), c.logit_scale, {
        imageIds: ints(c, 'image_ids'),
        factor: c.sdm_factor,
        epsilon: c.epsilon,
      }),
  },
  itc: {
    diff: ['image_feats', 'text_feats'],
    fn: (c, x) => itcLoss(T2(x.image_feats), T2(x.text_feats), c.logit_scale),
  },
  cmpm: {
    diff: ['image_feats', 'text_feats'],
    fn: (c, x) => cmpmLoss(T2(x.image_feats), T2(x.text_feats), ints(c, 'pids'), { epsilon: c.epsilon }),
  },
  id: {
    diff: ['image_logits', 'text_logits'],
    fn: (c, x) => idLoss(T2(x.image_logits), T2(x.text_logits), ints(c, 'class_labels')),
  },
  mlm: { diff: ['scores'], fn: (c, x) => mlmLoss(T2(x.scores), ints(c, 'mlm_labels')) },
};
const FIXTURE_INPUT: Record<string, string> = { scores: 'mlm_scores' };

describe.each(lossCases.map((c, i) => ({ i, c })))('losses with async reads, fixture case $i', ({ c }) => {
  for (const [name, spec] of Object.entries(LOSSES)) {
    it(`${name}: value and gradients match the reference`, async () => {
      const x: Inputs = {};
      for (const g of spec.diff) x[g] = fixtureTensor(LOSS_FILE, `${c.prefix}${FIXTURE_INPUT[g] ?? g}`);
      const before = tf.memory().numTensors;
      const value = tf.tidy(() => spec.fn(c, x));
      expect(value.shape).toEqual([]);
      expectClose(await read(value), c.expected[name] as number, {
        kind: 'forward',
        label: `${c.prefix}${name}`,
        group: 'losses.value',
      });
      value.dispose();
      const grads = tf.tidy(() =>
        tf.grads((...ts: tf.Tensor[]) => {
          const xs: Inputs = {};
          spec.diff.forEach((g, k) => {
            xs[g] = ts[k] as tf.Tensor;
          });
          return spec.fn(c, xs);
        })(spec.diff.map((g) => x[g] as tf.Tensor)),
      );
      expect(fixtureKeys(LOSS_FILE, `${c.prefix}grad.${name}.`).length).toBe(spec.diff.length);
      for (const [k, g] of spec.diff.entries()) {
        const grad = grads[k] as tf.Tensor;
        expect(grad.shape).toEqual(x[g]?.shape);
        expectClose(await read(grad), expected(LOSS_FILE, `${c.prefix}grad.${name}.${g}`), {
          kind: 'grad',
          label: `${c.prefix}grad.${name}.${g}`,
          group: 'losses.grad',
        });
      }
      tf.dispose(grads);
      expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
      tf.dispose(Object.values(x));
    });
  }
});

describe('rankAsync on the metrics fixtures, similarity computed on the backend', () => {
  const cases = fixtureJson<MetricsFixture>('metrics.json').cases;
  for (const c of cases) {
    it(`${c.prefix} text→image and image→text`, async () => {
      const s = fixtureRaw('metrics.safetensors', `${c.prefix}similarity`);
      const qPids = fixtureRaw('metrics.safetensors', `${c.prefix}query_pids`).data as Int32Array;
      const gPids = fixtureRaw('metrics.safetensors', `${c.prefix}gallery_pids`).data as Int32Array;
      const before = tf.memory().numTensors;
      // Both similarities are kernel outputs (on the GPU under webgl/webgpu), not uploaded arrays.
      const sim = tf.tidy(() => tf.mul(tf.tensor2d(s.data as Float32Array, s.shape as [number, number]), 1));
      const simT = tf.tidy(() => tf.transpose(sim));
      const results = {
        t2i: await rankAsync(sim as tf.Tensor2D, qPids, gPids),
        i2t: await rankAsync(simT as tf.Tensor2D, gPids, qPids),
      };
      tf.dispose([sim, simT]);
      expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
      for (const dir of ['t2i', 'i2t'] as const) expectRankFixture(results[dir], c[dir], `${c.prefix}${dir}`);
    });
  }
});
