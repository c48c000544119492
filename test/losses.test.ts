import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cmpmLoss, idLoss, itcLoss, mlmLoss, sdmLoss } from '../src/losses';
import { expectClose, expectNoLeak } from './helpers/compare';
import { fixtureKeys, fixtureTensor } from './helpers/fixtures';
import { LOSS_FILE, type LossCase, lossCases } from './helpers/loss_fixtures';

type Inputs = Record<string, tf.Tensor>;
const T2 = (t: tf.Tensor) => t as tf.Tensor2D;
const T1 = (t: tf.Tensor) => t as tf.Tensor1D;

/**
 * Per fixture loss: the fixture inputs it differentiates (gradient key name → fixture input
 * name) and the loss as a function of those inputs, the others taken from the case.
 */
const LOSSES: Record<string, { diff: Record<string, string>; fn: (c: LossCase, x: Inputs, all: Inputs) => tf.Scalar }> =
  {
    sdm: {
      diff: { image_feats: 'image_feats', text_feats: 'text_feats' },
      fn: (c, x, a) =>
        sdmLoss(T2(x.image_feats), T2(x.text_feats), T1(a.pids), c.logit_scale, {
          factor: c.sdm_factor,
          epsilon: c.epsilon,
        }),
    },
    sdm_image_id: {
      diff: { image_feats: 'image_feats', text_feats: 'text_feats' },
      fn: (c, x, a) =>
        sdmLoss(T2(x.image_feats), T2(x.text_feats), T1(a.pids), c.logit_scale, {
          imageIds: T1(a.image_ids),
          factor: c.sdm_factor,
          epsilon: c.epsilon,
        }),
    },
    itc: {
      diff: { image_feats: 'image_feats', text_feats: 'text_feats' },
      fn: (c, x) => itcLoss(T2(x.image_feats), T2(x.text_feats), c.logit_scale),
    },
    cmpm: {
      diff: { image_feats: 'image_feats', text_feats: 'text_feats' },
      fn: (c, x, a) => cmpmLoss(T2(x.image_feats), T2(x.text_feats), T1(a.pids), { epsilon: c.epsilon }),
    },
    id: {
      diff: { image_logits: 'image_logits', text_logits: 'text_logits' },
      fn: (_c, x, a) => idLoss(T2(x.image_logits), T2(x.text_logits), T1(a.class_labels)),
    },
    mlm: {
      diff: { scores: 'mlm_scores' },
      fn: (_c, x, a) => mlmLoss(T2(x.scores), T1(a.mlm_labels)),
    },
  };
const INPUT_NAMES = [
  'image_feats',
  'text_feats',
  'pids',
  'image_ids',
  'image_logits',
  'text_logits',
  'class_labels',
  'mlm_scores',
  'mlm_labels',
];

function loadCase(c: LossCase): Inputs {
  const out: Inputs = {};
  for (const n of INPUT_NAMES) out[n] = fixtureTensor(LOSS_FILE, `${c.prefix}${n}`);
  return out;
}

describe.each(lossCases.map((c, i) => ({ i, c })))('losses, fixture case $i', ({ c }) => {
  let all: Inputs;
  beforeAll(() => {
    all = loadCase(c);
  });
  afterAll(() => {
    for (const t of Object.values(all)) t.dispose();
  });

  it('has integer inputs as int32 and a loss list that matches the fixture', () => {
    for (const n of ['pids', 'image_ids', 'class_labels', 'mlm_labels']) expect(all[n].dtype).toBe('int32');
    expect(Object.keys(c.expected).sort()).toEqual(Object.keys(LOSSES).sort());
  });

  for (const [name, spec] of Object.entries(LOSSES)) {
    it(`${name}: value and gradients match the reference`, () => {
      const diffNames = Object.keys(spec.diff);
      const x: Inputs = {};
      for (const g of diffNames) x[g] = all[spec.diff[g]];

      const value = expectNoLeak(() => spec.fn(c, x, all), 1);
      expect(value.shape).toEqual([]);
      expectClose(value, c.expected[name], {
        kind: 'forward',
        label: `${c.prefix}${name}`,
        group: 'losses.value',
      });
      value.dispose();

      const gradKeys = fixtureKeys(LOSS_FILE, `${c.prefix}grad.${name}.`).map((k) => k.slice(k.lastIndexOf('.') + 1));
      expect(gradKeys.sort()).toEqual([...diffNames].sort());
      const grads = tf.grads((...ts: tf.Tensor[]) => {
        const xs: Inputs = {};
        diffNames.forEach((g, k) => {
          xs[g] = ts[k];
        });
        return spec.fn(c, xs, all);
      })(diffNames.map((g) => x[g]));
      diffNames.forEach((g, k) => {
        const expected = fixtureTensor(LOSS_FILE, `${c.prefix}grad.${name}.${g}`);
        expect(grads[k].shape).toEqual(expected.shape);
        expectClose(grads[k], expected, { kind: 'grad', label: `${c.prefix}grad.${name}.${g}`, group: 'losses.grad' });
        expected.dispose();
      });
      tf.dispose(grads);
    });
  }
});

describe('losses: memory', () => {
  it('each loss leaves only its returned scalar, also under tf.grads', () => {
    const c = lossCases[0];
    const all = loadCase(c);
    for (const [name, spec] of Object.entries(LOSSES)) {
      const x: Inputs = {};
      for (const g of Object.keys(spec.diff)) x[g] = all[spec.diff[g]];
      const value = expectNoLeak(() => spec.fn(c, x, all), 1);
      expect(value.dtype, name).toBe('float32');
      value.dispose();
      const diffNames = Object.keys(spec.diff);
      const grads = expectNoLeak(
        () =>
          tf.grads((...ts: tf.Tensor[]) => {
            const xs: Inputs = {};
            diffNames.forEach((g, k) => {
              xs[g] = ts[k];
            });
            return spec.fn(c, xs, all);
          })(diffNames.map((g) => x[g])),
        diffNames.length,
      );
      tf.dispose(grads);
    }
    tf.dispose(Object.values(all));
  });
});

describe('losses: bad input', () => {
  let f: Record<string, tf.Tensor>;
  beforeAll(() => {
    f = {
      img: tf.randomNormal([4, 8], 0, 1, 'float32', 1),
      txt: tf.randomNormal([4, 8], 0, 1, 'float32', 2),
      txt3: tf.randomNormal([3, 8], 0, 1, 'float32', 3),
      txtDim: tf.randomNormal([4, 6], 0, 1, 'float32', 4),
      rank1: tf.ones([8]),
      rank3: tf.ones([1, 4, 8]),
      intMatrix: tf.ones([4, 8], 'int32'),
      pids: tf.tensor1d([0, 1, 1, 2], 'int32'),
      pidsFloat: tf.tensor1d([0, 1, 1, 2], 'float32'),
      pids3: tf.tensor1d([0, 1, 1], 'int32'),
      pids2d: tf.tensor2d([[0, 1, 1, 2]], [1, 4], 'int32'),
      logits: tf.randomNormal([4, 5], 0, 1, 'float32', 5),
      logits6: tf.randomNormal([4, 6], 0, 1, 'float32', 6),
      logits3: tf.randomNormal([3, 5], 0, 1, 'float32', 7),
      classes: tf.tensor1d([0, 4, 2, 1], 'int32'),
      classesHigh: tf.tensor1d([0, 5, 2, 1], 'int32'),
      classesNeg: tf.tensor1d([0, -1, 2, 1], 'int32'),
      scores: tf.randomNormal([6, 10], 0, 1, 'float32', 8),
      mlmLabels: tf.tensor1d([0, 3, 0, 9, 0, 0], 'int32'),
      mlmHigh: tf.tensor1d([0, 3, 0, 10, 0, 0], 'int32'),
      mlmNeg: tf.tensor1d([0, 3, -2, 9, 0, 0], 'int32'),
      mlmNone: tf.zeros([6], 'int32'),
      mlmFloat: tf.tensor1d([0, 3, 0, 9, 0, 0], 'float32'),
      mlm5: tf.tensor1d([0, 3, 0, 9, 0], 'int32'),
    };
  });
  afterAll(() => tf.dispose(Object.values(f)));

  const m = (k: string) => f[k] as tf.Tensor2D;
  const v = (k: string) => f[k] as tf.Tensor1D;
  const bad: Array<[string, () => unknown, RegExp]> = [
    // sdmLoss
    ['sdm rank 1 imageFeats', () => sdmLoss(m('rank1'), m('txt'), v('pids'), 50), /sdmLoss: imageFeats must be rank 2/],
    ['sdm rank 3 textFeats', () => sdmLoss(m('img'), m('rank3'), v('pids'), 50), /sdmLoss: textFeats must be rank 2/],
    ['sdm int32 imageFeats', () => sdmLoss(m('intMatrix'), m('txt'), v('pids'), 50), /imageFeats must be float32/],
    ['sdm batch mismatch', () => sdmLoss(m('img'), m('txt3'), v('pids'), 50), /imageFeats and textFeats.*same batch/],
    ['sdm dim mismatch', () => sdmLoss(m('img'), m('txtDim'), v('pids'), 50), /imageFeats and textFeats.*feature dim/],
    ['sdm pids float', () => sdmLoss(m('img'), m('txt'), v('pidsFloat'), 50), /sdmLoss: pids must be int32/],
    ['sdm pids length', () => sdmLoss(m('img'), m('txt'), v('pids3'), 50), /sdmLoss: pids must have 4 entries/],
    ['sdm pids rank', () => sdmLoss(m('img'), m('txt'), v('pids2d'), 50), /sdmLoss: pids must be rank 1/],
    [
      'sdm imageIds length',
      () => sdmLoss(m('img'), m('txt'), v('pids'), 50, { imageIds: v('pids3') }),
      /opts\.imageIds must have 4 entries/,
    ],
    [
      'sdm imageIds float',
      () => sdmLoss(m('img'), m('txt'), v('pids'), 50, { imageIds: v('pidsFloat') }),
      /opts\.imageIds must be int32/,
    ],
    ['sdm logitScale 0', () => sdmLoss(m('img'), m('txt'), v('pids'), 0), /sdmLoss: logitScale must be .* > 0, got 0/],
    ['sdm logitScale < 0', () => sdmLoss(m('img'), m('txt'), v('pids'), -1), /logitScale must be .* > 0, got -1/],
    ['sdm logitScale NaN', () => sdmLoss(m('img'), m('txt'), v('pids'), Number.NaN), /logitScale .* got NaN/],
    ['sdm logitScale inf', () => sdmLoss(m('img'), m('txt'), v('pids'), Number.POSITIVE_INFINITY), /logitScale/],
    ['sdm factor < 0', () => sdmLoss(m('img'), m('txt'), v('pids'), 50, { factor: -0.1 }), /opts\.factor .* >= 0/],
    ['sdm epsilon 0', () => sdmLoss(m('img'), m('txt'), v('pids'), 50, { epsilon: 0 }), /opts\.epsilon .* > 0/],
    // itcLoss
    ['itc rank 1 imageFeats', () => itcLoss(m('rank1'), m('txt'), 50), /itcLoss: imageFeats must be rank 2/],
    ['itc rank 3 textFeats', () => itcLoss(m('img'), m('rank3'), 50), /itcLoss: textFeats must be rank 2/],
    ['itc batch mismatch', () => itcLoss(m('img'), m('txt3'), 50), /itcLoss: imageFeats and textFeats.*same batch/],
    ['itc dim mismatch', () => itcLoss(m('img'), m('txtDim'), 50), /itcLoss: imageFeats and textFeats.*feature dim/],
    ['itc logitScale 0', () => itcLoss(m('img'), m('txt'), 0), /itcLoss: logitScale must be .* > 0/],
    ['itc logitScale inf', () => itcLoss(m('img'), m('txt'), Number.POSITIVE_INFINITY), /itcLoss: logitScale/],
    // cmpmLoss
    ['cmpm rank 1 imageFeats', () => cmpmLoss(m('rank1'), m('txt'), v('pids')), /cmpmLoss: imageFeats must be rank 2/],
    ['cmpm rank 3 textFeats', () => cmpmLoss(m('img'), m('rank3'), v('pids')), /cmpmLoss: textFeats must be rank 2/],
    ['cmpm batch mismatch', () => cmpmLoss(m('img'), m('txt3'), v('pids')), /cmpmLoss: .*same batch/],
    ['cmpm dim mismatch', () => cmpmLoss(m('img'), m('txtDim'), v('pids')), /cmpmLoss: .*feature dim/],
    ['cmpm pids float', () => cmpmLoss(m('img'), m('txt'), v('pidsFloat')), /cmpmLoss: pids must be int32/],
    ['cmpm pids length', () => cmpmLoss(m('img'), m('txt'), v('pids3')), /cmpmLoss: pids must have 4 entries/],
    ['cmpm epsilon < 0', () => cmpmLoss(m('img'), m('txt'), v('pids'), { epsilon: -1 }), /cmpmLoss: opts\.epsilon/],
    // idLoss
    [
      'id rank 1 imageLogits',
      () => idLoss(m('rank1'), m('logits'), v('classes')),
      /idLoss: imageLogits must be rank 2/,
    ],
    ['id rank 3 textLogits', () => idLoss(m('logits'), m('rank3'), v('classes')), /idLoss: textLogits must be rank 2/],
    ['id batch mismatch', () => idLoss(m('logits'), m('logits3'), v('classes')), /imageLogits and textLogits.*batch/],
    ['id classes mismatch', () => idLoss(m('logits'), m('logits6'), v('classes')), /number of classes/],
    ['id labels float', () => idLoss(m('logits'), m('logits'), v('pidsFloat')), /idLoss: labels must be int32/],
    ['id labels length', () => idLoss(m('logits'), m('logits'), v('pids3')), /idLoss: labels must have 4 entries/],
    ['id label = classes', () => idLoss(m('logits'), m('logits'), v('classesHigh')), /labels\[1\] = 5 is out of range/],
    ['id label < 0', () => idLoss(m('logits'), m('logits'), v('classesNeg')), /idLoss: labels\[1\] = -1 is out of/],
    // mlmLoss
    ['mlm rank 1 scores', () => mlmLoss(m('rank1'), v('mlmLabels')), /mlmLoss: scores must be rank 2/],
    ['mlm rank 3 scores', () => mlmLoss(m('rank3'), v('mlmLabels')), /mlmLoss: scores must be rank 2/],
    ['mlm labels float', () => mlmLoss(m('scores'), v('mlmFloat')), /mlmLoss: labels must be int32/],
    ['mlm labels length', () => mlmLoss(m('scores'), v('mlm5')), /mlmLoss: labels must have 6 entries/],
    ['mlm label = vocab', () => mlmLoss(m('scores'), v('mlmHigh')), /mlmLoss: labels\[3\] = 10 is out of range/],
    ['mlm label < 0', () => mlmLoss(m('scores'), v('mlmNeg')), /mlmLoss: labels\[2\] = -2 is out of range/],
    ['mlm nothing labelled', () => mlmLoss(m('scores'), v('mlmNone')), /mlmLoss: labels has no labelled position/],
    // host labels (Int32Array): the same checks, made without a tensor
    [
      'id host labels length',
      () => idLoss(m('logits'), m('logits'), Int32Array.of(0, 1, 2)),
      /idLoss: labels must have 4/,
    ],
    [
      'id host label = classes',
      () => idLoss(m('logits'), m('logits'), Int32Array.of(0, 5, 1, 2)),
      /labels\[1\] = 5 is out/,
    ],
    [
      'id host label < 0',
      () => idLoss(m('logits'), m('logits'), Int32Array.of(0, 1, -3, 2)),
      /labels\[2\] = -3 is out/,
    ],
    [
      'id labels a plain array',
      () => idLoss(m('logits'), m('logits'), [0, 1, 2, 3] as unknown as Int32Array),
      /idLoss: labels must be an int32 tensor or an Int32Array, got an array/,
    ],
    ['mlm host label = vocab', () => mlmLoss(m('scores'), Int32Array.of(0, 3, 0, 10, 0, 0)), /labels\[3\] = 10 is out/],
    ['mlm host nothing labelled', () => mlmLoss(m('scores'), new Int32Array(6)), /mlmLoss: labels has no labelled/],
    [
      'mlm labels a Float32Array',
      () => mlmLoss(m('scores'), new Float32Array(6) as unknown as Int32Array),
      /mlmLoss: labels must be an int32 tensor or an Int32Array, got Float32Array/,
    ],
  ];

  it.each(bad)('%s throws naming the argument', (_name, thunk, pattern) => {
    const before = tf.memory().numTensors;
    expect(thunk).toThrow(pattern);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('idLoss and mlmLoss give the same bits and gradients from Int32Array labels as from tensors', () => {
    const host = (k: string) => v(k).dataSync() as Int32Array;
    const cases: [(labels: tf.Tensor1D | Int32Array) => (x: tf.Tensor) => tf.Scalar, string, string][] = [
      [(labels) => (x) => idLoss(x as tf.Tensor2D, m('logits'), labels), 'logits', 'classes'],
      [(labels) => (x) => mlmLoss(x as tf.Tensor2D, labels), 'scores', 'mlmLabels'],
    ];
    for (const [loss, input, labels] of cases) {
      const before = tf.memory().numTensors;
      const fromTensor = tf.valueAndGrad(loss(v(labels)))(m(input));
      const fromHost = tf.valueAndGrad(loss(host(labels)))(m(input));
      expect(Array.from(fromHost.value.dataSync())).toEqual(Array.from(fromTensor.value.dataSync()));
      expect(Array.from(fromHost.grad.dataSync())).toEqual(Array.from(fromTensor.grad.dataSync()));
      tf.dispose([fromTensor.value, fromTensor.grad, fromHost.value, fromHost.grad]);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('the same inputs, made valid, do not throw (the checks are not vacuous)', () => {
    for (const t of [
      sdmLoss(m('img'), m('txt'), v('pids'), 50, { imageIds: v('pids'), factor: 0, epsilon: 1e-8 }),
      itcLoss(m('img'), m('txt'), 50),
      cmpmLoss(m('img'), m('txt'), v('pids')),
      idLoss(m('logits'), m('logits'), v('classes')),
      mlmLoss(m('scores'), v('mlmLabels')),
    ]) {
      expect(Number.isFinite(t.dataSync()[0])).toBe(true);
      t.dispose();
    }
  });
});
