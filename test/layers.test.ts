import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CrossModalEncoder,
  MlmHead,
  MultiHeadAttention,
  QuickGELU,
  quickGelu,
  ResidualAttentionBlock,
  TextTransformer,
  Transformer,
  VisionTransformer,
} from '../src/layers';
import { attentionCore, causalMask } from '../src/ops/attention';
import { embeddingLookup } from '../src/ops/embedding';
import { layerNorm } from '../src/ops/layer_norm';
import { linear } from '../src/ops/linear';
import { extractPatches } from '../src/ops/patches';
import { expectNoLeak } from './helpers/compare';

const maxDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

type AnyLayer = tfl.layers.Layer & { getConfig(): tf.serialization.ConfigDict };
interface Case {
  make: () => AnyLayer;
  input: () => tf.Tensor | tf.Tensor[];
  symbolic: () => tfl.SymbolicTensor | tfl.SymbolicTensor[];
}
const ids = () =>
  tf.tensor2d(
    [
      [98, 4, 7, 99, 0, 0],
      [98, 5, 99, 0, 0, 0],
    ],
    [2, 6],
    'int32',
  );
const cases: Record<string, Case> = {
  QuickGELU: {
    make: () => new QuickGELU(),
    input: () => tf.randomNormal([2, 3, 8], 0, 1, 'float32', 1),
    symbolic: () => tfl.input({ shape: [3, 8] }),
  },
  MultiHeadAttention: {
    make: () => new MultiHeadAttention({ width: 16, heads: 2, causal: true, seed: 3 }),
    input: () => tf.randomNormal([2, 5, 16], 0, 1, 'float32', 2),
    symbolic: () => tfl.input({ shape: [5, 16] }),
  },
  'MultiHeadAttention (cross)': {
    make: () => new MultiHeadAttention({ width: 16, heads: 4, cross: true, inProjStd: 0.1, outProjStd: 0.05, seed: 3 }),
    input: () => [tf.randomNormal([2, 5, 16], 0, 1, 'float32', 2), tf.randomNormal([2, 7, 16], 0, 1, 'float32', 3)],
    symbolic: () => [tfl.input({ shape: [5, 16] }), tfl.input({ shape: [7, 16] })],
  },
  ResidualAttentionBlock: {
    make: () =>
      new ResidualAttentionBlock({ width: 16, heads: 2, initStd: { attn: 0.2, proj: 0.1, fc: 0.1 }, seed: 4 }),
    input: () => tf.randomNormal([2, 5, 16], 0, 1, 'float32', 2),
    symbolic: () => tfl.input({ shape: [5, 16] }),
  },
  Transformer: {
    make: () => new Transformer({ width: 16, layers: 2, heads: 2, causal: true, init: 'torch', seed: 5 }),
    input: () => tf.randomNormal([2, 5, 16], 0, 1, 'float32', 2),
    symbolic: () => tfl.input({ shape: [5, 16] }),
  },
  VisionTransformer: {
    make: () =>
      new VisionTransformer({
        imageSize: [20, 12],
        patchSize: 6,
        strideSize: 4,
        width: 16,
        layers: 1,
        heads: 2,
        outputDim: 8,
        seed: 6,
      }),
    input: () => tf.randomNormal([2, 20, 12, 3], 0, 1, 'float32', 2),
    symbolic: () => tfl.input({ shape: [20, 12, 3] }),
  },
  TextTransformer: {
    make: () =>
      new TextTransformer({ contextLength: 6, vocabSize: 100, width: 16, layers: 1, heads: 2, outputDim: 8, seed: 7 }),
    input: ids,
    symbolic: () => tfl.input({ shape: [6], dtype: 'int32' }),
  },
  CrossModalEncoder: {
    make: () => new CrossModalEncoder({ width: 16, heads: 2, depth: 1, seed: 8 }),
    input: () => [tf.randomNormal([2, 6, 16], 0, 1, 'float32', 2), tf.randomNormal([2, 9, 16], 0, 1, 'float32', 3)],
    symbolic: () => [tfl.input({ shape: [6, 16] }), tfl.input({ shape: [9, 16] })],
  },
  MlmHead: {
    make: () => new MlmHead({ width: 16, vocabSize: 30, seed: 9 }),
    input: () => tf.randomNormal([2, 6, 16], 0, 1, 'float32', 2),
    symbolic: () => tfl.input({ shape: [6, 16] }),
  },
};

describe('layer class names', () => {
  it("are registered with the 'irra.' prefix, leaving tfjs-layers' own classes (e.g. MultiHeadAttention) in place", () => {
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    const ours = Object.keys(map).filter((k) => k.startsWith('irra.'));
    expect(ours.sort()).toEqual(
      [
        'irra.CrossModalEncoder',
        'irra.MlmHead',
        'irra.MultiHeadAttention',
        'irra.QuickGELU',
        'irra.ResidualAttentionBlock',
        'irra.TextTransformer',
        'irra.Transformer',
        'irra.VisionTransformer',
      ].sort(),
    );
    for (const name of ours) {
      const bare = name.slice('irra.'.length);
      if (map[bare]) expect(map[bare][0], `${bare} must not be ours`).not.toBe(map[name][0]);
    }
  });
});

describe('layers', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: getConfig → fromConfig rebuilds an equal layer, alone and inside a LayersModel`, () => {
      const layer = c.make();
      const x = c.input();
      const y = layer.apply(x) as tf.Tensor;
      const config = layer.getConfig();
      const className = (layer.constructor as unknown as { className: string }).className;
      const [ctor, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[className];
      const copy = fromConfig(ctor, config) as unknown as AnyLayer;
      expect(copy.getConfig()).toEqual(config);
      const y2 = copy.apply(x) as tf.Tensor;
      expect(y2.shape).toEqual(y.shape);
      expect(maxDiff(y, y2)).toBe(0);
      expect(copy.trainableWeights.length).toBe(layer.trainableWeights.length);

      const inputs = c.symbolic();
      const fresh = c.make();
      const out = fresh.apply(inputs) as tfl.SymbolicTensor;
      const model = tfl.model({ inputs, outputs: out });
      const y3 = model.predict(x) as tf.Tensor;
      expect(y3.shape).toEqual(y.shape);
      expect(maxDiff(y, y3)).toBeLessThan(1e-5);
      expect(model.trainableWeights.length).toBe(layer.trainableWeights.length);
      tf.dispose([x, y, y2, y3]);
    });
  }

  it('reject bad arguments and inputs with clear errors', () => {
    expect(() => new MultiHeadAttention({ width: 10, heads: 3 })).toThrow(/width 10 must be divisible by heads 3/);
    expect(() => new Transformer({ width: 16, layers: 0, heads: 2 })).toThrow(
      /layers must be a positive integer, got 0/,
    );
    const causalCross = new MultiHeadAttention({ width: 16, heads: 2, cross: true, causal: true });
    const q = tf.zeros([1, 3, 16]);
    const kv = tf.zeros([1, 4, 16]);
    expect(() => causalCross.apply([q, kv])).toThrow(/causal mask needs equal query and key lengths, got 3 and 4/);
    tf.dispose([q, kv]);
    const attn = new MultiHeadAttention({ width: 16, heads: 2 });
    const bad = tf.zeros([2, 5, 8]);
    expect(() => attn.apply(bad)).toThrow(/input must have shape \[batch, length, 16\], got \[2, 5, 8\]/);
    bad.dispose();
  });
});

/** Naive multi-head attention from the packed projections, with tfjs's own gradients. */
function naiveAttention(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  b: number,
  lq: number,
  lk: number,
  h: number,
  mask: tf.Tensor | null,
) {
  const e = q.shape[1];
  const d = e / h;
  const split = (t: tf.Tensor, l: number) => tf.transpose(tf.reshape(t, [b, l, h, d]), [0, 2, 1, 3]);
  let s = tf.div(tf.matMul(split(q, lq), split(k, lk), false, true), Math.sqrt(d));
  if (mask) s = tf.add(s, mask);
  const o = tf.matMul(tf.softmax(s), split(v, lk));
  return tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [b * lq, e]);
}

describe('fast ops', () => {
  it('attentionCore (self and cross, causal or not) matches naive attention, forward and backward', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        (b, lq, lk0, h, cross, causal, seed) => {
          const lk = cross ? lk0 : lq;
          const e = 4 * h;
          tf.tidy(() => {
            const mask = causal ? causalMask(lq) : null;
            if (cross && causal && lk !== lq) return;
            const q = tf.randomNormal([b * lq, cross ? e : 3 * e], 0, 1, 'float32', seed) as tf.Tensor2D;
            const kv = cross ? (tf.randomNormal([b * lk, 2 * e], 0, 1, 'float32', seed + 1) as tf.Tensor2D) : null;
            const r = tf.randomNormal([b * lq, e], 0, 1, 'float32', seed + 2);
            const shape = { batch: b, heads: h, queryLength: lq, keyLength: lk, mask };
            const fast = (qi: tf.Tensor, kvi?: tf.Tensor) =>
              tf.sum(tf.mul(attentionCore(qi as tf.Tensor2D, (kvi ?? null) as tf.Tensor2D | null, shape), r));
            const slow = (qi: tf.Tensor, kvi?: tf.Tensor) => {
              const parts = kvi
                ? [qi, tf.slice(kvi, [0, 0], [-1, e]), tf.slice(kvi, [0, e], [-1, e])]
                : [tf.slice(qi, [0, 0], [-1, e]), tf.slice(qi, [0, e], [-1, e]), tf.slice(qi, [0, 2 * e], [-1, e])];
              const [qq, kk, vv] = parts as tf.Tensor2D[];
              return tf.sum(tf.mul(naiveAttention(qq, kk, vv, b, lq, lk, h, mask), r));
            };
            const inputs = kv ? [q, kv] : [q];
            const gf = tf.grads((...a: tf.Tensor[]) => fast(a[0], a[1]))(inputs);
            const gs = tf.grads((...a: tf.Tensor[]) => slow(a[0], a[1]))(inputs);
            expect(
              Math.abs(fast(q, kv ?? undefined).dataSync()[0] - slow(q, kv ?? undefined).dataSync()[0]),
            ).toBeLessThan(1e-4);
            gf.forEach((g, i) => {
              expect(maxDiff(g, gs[i])).toBeLessThan(1e-4);
            });
          });
        },
      ),
      { numRuns: 12 },
    );
  });

  it('linear, layerNorm, quickGelu and embeddingLookup gradients match tfjs autodiff of the plain formulas', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([5, 6], 0, 1, 'float32', 1) as tf.Tensor2D;
      const w = tf.randomNormal([6, 4], 0, 1, 'float32', 2) as tf.Tensor2D;
      const b = tf.randomNormal([4], 0, 1, 'float32', 3) as tf.Tensor1D;
      const r = tf.randomNormal([5, 4], 0, 1, 'float32', 4);
      const gf = tf.grads((xi, wi, bi) =>
        tf.sum(tf.mul(linear(xi as tf.Tensor2D, wi as tf.Tensor2D, bi as tf.Tensor1D), r)),
      )([x, w, b]);
      const gs = tf.grads((xi, wi, bi) =>
        tf.sum(tf.mul(tf.add(tf.matMul(xi as tf.Tensor2D, wi as tf.Tensor2D), bi), r)),
      )([x, w, b]);
      gf.forEach((g, i) => {
        expect(maxDiff(g, gs[i])).toBeLessThan(1e-5);
      });

      const g = tf.randomNormal([6], 1, 0.1, 'float32', 5) as tf.Tensor1D;
      const be = tf.randomNormal([6], 0, 0.1, 'float32', 6) as tf.Tensor1D;
      const r2 = tf.randomNormal([5, 6], 0, 1, 'float32', 7);
      const x6 = tf.mul(tf.randomNormal([5, 6], 0, 1, 'float32', 10), 3);
      const plainLn = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => {
        const { mean, variance } = tf.moments(xi, -1, true);
        return tf.add(tf.mul(tf.div(tf.sub(xi, mean), tf.sqrt(tf.add(variance, 1e-5))), gi), bi);
      };
      const lf = tf.grads((xi, gi, bi) =>
        tf.sum(tf.mul(layerNorm(xi as tf.Tensor2D, gi as tf.Tensor1D, bi as tf.Tensor1D), r2)),
      )([x, g, be]);
      const ls = tf.grads((xi, gi, bi) => tf.sum(tf.mul(plainLn(xi, gi, bi), r2)))([x, g, be]);
      lf.forEach((t, i) => {
        expect(maxDiff(t, ls[i])).toBeLessThan(1e-4);
      });

      const [qf] = tf.grads((xi) => tf.sum(tf.mul(quickGelu(xi), r2)))([x6]);
      const [qs] = tf.grads((xi) => tf.sum(tf.mul(tf.mul(xi, tf.sigmoid(tf.mul(xi, 1.702))), r2)))([x6]);
      expect(maxDiff(qf, qs)).toBeLessThan(1e-5);

      const table = tf.randomNormal([7, 3], 0, 1, 'float32', 8) as tf.Tensor2D;
      const idx = tf.tensor2d(
        [
          [1, 1, 6],
          [0, 1, 2],
        ],
        [2, 3],
        'int32',
      );
      const r3 = tf.randomNormal([2, 3, 3], 0, 1, 'float32', 9);
      const [ef] = tf.grads((t) => tf.sum(tf.mul(embeddingLookup(t as tf.Tensor2D, idx), r3)))([table]);
      const [es] = tf.grads((t) =>
        tf.sum(tf.mul(tf.reshape(tf.matMul(tf.oneHot(tf.reshape(idx, [-1]), 7), t as tf.Tensor2D), [2, 3, 3]), r3)),
      )([table]);
      expect(maxDiff(ef, es)).toBeLessThan(1e-5);
    });
  });

  it('extractPatches + matMul equals a strided conv2d (overlapping, exact and cropped grids)', () => {
    for (const [h, w, p, s] of [
      [20, 12, 6, 4],
      [16, 8, 4, 4],
      [18, 10, 4, 4],
    ]) {
      tf.tidy(() => {
        const img = tf.randomNormal([2, h, w, 3], 0, 1, 'float32', h) as tf.Tensor4D;
        const kernel = tf.randomNormal([p, p, 3, 5], 0, 1, 'float32', w) as tf.Tensor4D;
        const conv = tf.conv2d(img, kernel, s, 'valid');
        const viaPatches = tf.matMul(extractPatches(img, p, s), tf.reshape(kernel, [p * p * 3, 5]));
        expect(maxDiff(tf.reshape(viaPatches, conv.shape), conv)).toBeLessThan(1e-4);
      });
    }
  });

  it('leave no tensors behind', () => {
    const layer = new Transformer({ width: 8, layers: 1, heads: 2, causal: true, seed: 1 });
    const x = tf.randomNormal([2, 3, 8]);
    (layer.apply(x) as tf.Tensor).dispose();
    expectNoLeak(() => {
      (layer.apply(x) as tf.Tensor).dispose();
      const [g] = tf.grads((xi) => tf.sum(layer.apply(xi) as tf.Tensor))([x]);
      g.dispose();
    });
    x.dispose();
  });
});
