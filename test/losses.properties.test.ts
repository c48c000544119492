import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cmpmLoss, idLoss, itcLoss, mlmLoss, sdmLoss } from '../src/losses';
import { fixtureTensor } from './helpers/fixtures';

const RUNS = { numRuns: 30, seed: 20230601 };
const LOGIT_SCALE = 50;

/**
 * A random batch: features of both modalities (rows kept away from zero norm, where every
 * normalized loss is undefined), identity and image ids, 5-class logits and labels, MLM scores over
 * a 7-token vocabulary with at least one labelled position, and the permutations to apply.
 */
interface Batch {
  img: number[][];
  txt: number[][];
  pids: number[];
  imageIds: number[];
  imgLogits: number[][];
  txtLogits: number[][];
  scores: number[][];
  mlmLabels: number[];
  classLabels: number[];
  perm: number[];
  mlmPerm: number[];
}

const value = fc.double({ min: -2, max: 2, noNaN: true });
const row = (d: number) =>
  fc.array(value, { minLength: d, maxLength: d }).filter((r) => Math.hypot(...r) > 0.1 * Math.sqrt(d));
const rows = (n: number, d: number) => fc.array(row(d), { minLength: n, maxLength: n });
const ints = (n: number, max: number) => fc.array(fc.integer({ min: 0, max }), { minLength: n, maxLength: n });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const batchArb: fc.Arbitrary<Batch> = fc
  .record({ b: fc.integer({ min: 2, max: 6 }), d: fc.integer({ min: 2, max: 8 }) })
  .chain(({ b, d }) =>
    fc.record({
      img: rows(b, d),
      txt: rows(b, d),
      pids: ints(b, 3),
      imageIds: ints(b, 4),
      imgLogits: rows(b, 5),
      txtLogits: rows(b, 5),
      classLabels: ints(b, 4),
      scores: rows(b + 1, 7),
      mlmLabels: ints(b + 1, 6).filter((l) => l.some((v) => v !== 0)),
      perm: fc.shuffledSubarray(range(b), { minLength: b, maxLength: b }),
      mlmPerm: fc.shuffledSubarray(range(b + 1), { minLength: b + 1, maxLength: b + 1 }),
    }),
  );

/** The five losses (SDM twice: with and without image ids) on a batch, as JS numbers. */
function losses(x: Batch, opts: { imgScale?: number; txtScale?: number; swap?: boolean } = {}): Record<string, number> {
  return tf.tidy(() => {
    const img = tf.mul(tf.tensor2d(x.img), opts.imgScale ?? 1) as tf.Tensor2D;
    const txt = tf.mul(tf.tensor2d(x.txt), opts.txtScale ?? 1) as tf.Tensor2D;
    const [a, b] = opts.swap ? [txt, img] : [img, txt];
    const pids = tf.tensor1d(x.pids, 'int32');
    const imageIds = tf.tensor1d(x.imageIds, 'int32');
    const labels = tf.tensor1d(x.classLabels, 'int32');
    const out = {
      sdm: sdmLoss(a, b, pids, LOGIT_SCALE),
      sdmImageId: sdmLoss(a, b, pids, LOGIT_SCALE, { imageIds }),
      itc: itcLoss(a, b, LOGIT_SCALE),
      cmpm: cmpmLoss(a, b, pids),
      id: idLoss(tf.tensor2d(x.imgLogits), tf.tensor2d(x.txtLogits), labels),
      mlm: mlmLoss(tf.tensor2d(x.scores), tf.tensor1d(x.mlmLabels, 'int32')),
    };
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.dataSync()[0]]));
  });
}

function permuted(x: Batch): Batch {
  const p = <T>(a: T[], perm: number[]) => perm.map((i) => a[i]);
  return {
    ...x,
    img: p(x.img, x.perm),
    txt: p(x.txt, x.perm),
    pids: p(x.pids, x.perm),
    imageIds: p(x.imageIds, x.perm),
    classLabels: p(x.classLabels, x.perm),
    imgLogits: p(x.imgLogits, x.perm),
    txtLogits: p(x.txtLogits, x.perm),
    scores: p(x.scores, x.mlmPerm),
    mlmLabels: p(x.mlmLabels, x.mlmPerm),
  };
}

const close = (a: number, b: number, rel = 1e-4) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

describe('losses: properties', () => {
  it('every loss is invariant to a consistent permutation of the batch', () => {
    fc.assert(
      fc.property(batchArb, (x) => {
        const before = losses(x);
        const after = losses(permuted(x));
        for (const k of Object.keys(before)) {
          expect(Number.isFinite(before[k]), k).toBe(true);
          expect(close(after[k], before[k]), `${k}: ${after[k]} vs ${before[k]}`).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('SDM and ITC are unchanged when either modality is scaled by a positive constant', () => {
    fc.assert(
      fc.property(batchArb, fc.double({ min: 0.01, max: 100, noNaN: true }), fc.boolean(), (x, c, imageSide) => {
        const base = losses(x);
        const scaled = losses(x, imageSide ? { imgScale: c } : { txtScale: c });
        for (const k of ['sdm', 'sdmImageId', 'itc']) {
          expect(close(scaled[k], base[k]), `${k}: ${scaled[k]} vs ${base[k]} (scale ${c})`).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('CMPM changes when a modality is scaled: it projects unnormalized features', () => {
    const img = fixtureTensor('losses.safetensors', 'case0.image_feats') as tf.Tensor2D;
    const txt = fixtureTensor('losses.safetensors', 'case0.text_feats') as tf.Tensor2D;
    const pids = fixtureTensor('losses.safetensors', 'case0.pids') as tf.Tensor1D;
    const at = (ci: number, ct: number) =>
      tf.tidy(() => cmpmLoss(tf.mul(img, ci) as tf.Tensor2D, tf.mul(txt, ct) as tf.Tensor2D, pids).dataSync()[0]);
    const base = at(1, 1);
    expect(Math.abs(at(2, 1) - base)).toBeGreaterThan(0.1);
    expect(Math.abs(at(1, 0.5) - base)).toBeGreaterThan(0.1);
    // The same scalings leave SDM where it was (the contrast this test is about).
    const sdmAt = (ci: number) =>
      tf.tidy(() => sdmLoss(tf.mul(img, ci) as tf.Tensor2D, txt, pids, LOGIT_SCALE).dataSync()[0]);
    expect(close(sdmAt(2), sdmAt(1))).toBe(true);
    tf.dispose([img, txt, pids]);
  });

  it('ITC is symmetric in swapping the two modalities', () => {
    fc.assert(
      fc.property(batchArb, (x) => {
        const a = losses(x).itc;
        const b = losses(x, { swap: true }).itc;
        expect(close(a, b), `${a} vs ${b}`).toBe(true);
      }),
      RUNS,
    );
  });

  it('SDM is non-negative up to epsilon effects', () => {
    fc.assert(
      fc.property(batchArb, (x) => {
        expect(losses(x).sdm).toBeGreaterThanOrEqual(-1e-5);
      }),
      RUNS,
    );
  });

  it('gradients are finite for random inputs', () => {
    fc.assert(
      fc.property(batchArb, (x) => {
        const before = tf.memory().numTensors;
        tf.tidy(() => {
          const img = tf.tensor2d(x.img);
          const txt = tf.tensor2d(x.txt);
          const pids = tf.tensor1d(x.pids, 'int32');
          const imageIds = tf.tensor1d(x.imageIds, 'int32');
          const labels = tf.tensor1d(x.classLabels, 'int32');
          const mlmLabels = tf.tensor1d(x.mlmLabels, 'int32');
          const pairs: Array<[string, tf.Tensor[], (...t: tf.Tensor[]) => tf.Scalar]> = [
            ['sdm', [img, txt], (a, b) => sdmLoss(a as tf.Tensor2D, b as tf.Tensor2D, pids, LOGIT_SCALE, { imageIds })],
            ['itc', [img, txt], (a, b) => itcLoss(a as tf.Tensor2D, b as tf.Tensor2D, LOGIT_SCALE)],
            ['cmpm', [img, txt], (a, b) => cmpmLoss(a as tf.Tensor2D, b as tf.Tensor2D, pids)],
            [
              'id',
              [tf.tensor2d(x.imgLogits), tf.tensor2d(x.txtLogits)],
              (a, b) => idLoss(a as tf.Tensor2D, b as tf.Tensor2D, labels),
            ],
            ['mlm', [tf.tensor2d(x.scores)], (s) => mlmLoss(s as tf.Tensor2D, mlmLabels)],
          ];
          for (const [name, inputs, f] of pairs) {
            const grads = tf.grads(f)(inputs);
            grads.forEach((g, k) => {
              expect(g.shape, `${name} grad ${k}`).toEqual(inputs[k].shape);
              expect(Array.from(g.dataSync()).every(Number.isFinite), `${name} grad ${k}`).toBe(true);
            });
          }
        });
        expect(tf.memory().numTensors).toBe(before);
      }),
      RUNS,
    );
  });
});
