import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { irraConfig } from '../src/config';
import { crossAttentionMap, crossAttentionWeights, IRRA } from '../src/index';
import { layerNorm } from '../src/ops/layer_norm';
import { expectNoLeak } from './helpers/compare';

// A tiny IRRA with a non-square patch grid (4 × 3) and 2 fusion heads; the fusion's LayerNorms
// and in_proj bias get random values so that a computation skipping them would be caught.
const config = irraConfig({ preset: 'tiny', imageSize: [32, 24], contextLength: 8, vocabSize: 40, cmtDepth: 1 });
const B = 3;
const L = config.contextLength;
const EOT = config.vocabSize - 1;
const SOT = config.vocabSize - 2;
const IDS = [
  [SOT, 5, 6, 7, EOT, 0, 0, 0],
  [SOT, 9, EOT, 0, 0, 0, 0, 0],
  [SOT, 3, 4, 5, 6, 7, 8, EOT],
];

let model: IRRA;
let images: tf.Tensor4D;
let ids: tf.Tensor2D;

beforeAll(() => {
  model = IRRA.create(config, { seed: 3 });
  const params = model.namedParameters();
  let seed = 10;
  for (const name of [
    'ln_pre_t.weight',
    'ln_pre_t.bias',
    'ln_pre_i.weight',
    'ln_pre_i.bias',
    'cross_attn.in_proj_bias',
  ]) {
    const v = params.get(name) as tf.Variable;
    const fresh = tf.randomNormal(v.shape, name.endsWith('weight') ? 1 : 0, 0.5, 'float32', seed++);
    v.assign(fresh);
    fresh.dispose();
  }
  images = tf.randomNormal([B, 32, 24, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  ids = tf.tensor2d(IDS, [B, L], 'int32');
});

afterAll(() => {
  tf.dispose([images, ids]);
  model.dispose();
});

/** Reference computation in float64 JavaScript from the towers' tokens and the state dict. */
function directProbabilities(): number[][][][] {
  const sd = model.stateDict();
  const arr = (name: string) => Array.from((sd.get(name) as tf.Tensor).dataSync());
  const textTokens = model.encodeTextTokens(ids);
  const imageTokens = model.encodeImageTokens(images);
  const tt = textTokens.arraySync() as number[][][];
  const it = imageTokens.arraySync() as number[][][];
  const w = arr('cross_attn.in_proj_weight'); // [3E, E] row-major (PyTorch layout)
  const bias = arr('cross_attn.in_proj_bias');
  const [gt, bt, gi, bi] = ['ln_pre_t.weight', 'ln_pre_t.bias', 'ln_pre_i.weight', 'ln_pre_i.bias'].map(arr);
  tf.dispose([textTokens, imageTokens, ...sd.values()]);
  const e = config.embedDim;
  const h = config.crossHeads;
  const d = e / h;
  const ln = (x: number[], g: number[], b: number[]) => {
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
    return x.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * g[i] + b[i]);
  };
  const project = (x: number[], offset: number) =>
    Array.from({ length: e }, (_, o) => {
      let s = bias[offset + o];
      for (let i = 0; i < e; i++) s += w[(offset + o) * e + i] * x[i];
      return s;
    });
  return tt.map((textRows, batch) => {
    const q = textRows.map((x) => project(ln(x, gt, bt), 0));
    const k = it[batch].map((x) => project(ln(x, gi, bi), e));
    return Array.from({ length: h }, (_, head) =>
      q.map((qi) => {
        const scores = k.map((kj) => {
          let s = 0;
          for (let c = head * d; c < (head + 1) * d; c++) s += qi[c] * kj[c];
          return s / Math.sqrt(d);
        });
        const m = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - m));
        const z = ex.reduce((a, b) => a + b, 0);
        return ex.map((v) => v / z);
      }),
    );
  });
}

/** Largest absolute difference of two equally long lists (fails on differing lengths). */
function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('crossAttentionWeights', () => {
  it('has shape [B, heads, contextLength, tokens], rows summing to 1, equal to a direct float64 computation', () => {
    const p = expectNoLeak(() => crossAttentionWeights(model, images, ids), 1);
    const n = model.visual.numTokens;
    expect(p.shape).toEqual([B, config.crossHeads, L, n]);
    const got = p.arraySync() as number[][][][];
    p.dispose();
    for (const row of got.flat(2)) expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
    const want = directProbabilities();
    expect(maxAbsDiff(got.flat(3), want.flat(3))).toBeLessThan(1e-5);
    // not uniform: the test would pass trivially on constant attention
    expect(Math.max(...got.flat(3)) - Math.min(...got.flat(3))).toBeGreaterThan(1e-3);
  });

  it("are the weights the model's cross_attn averages its values with", () => {
    const e = config.embedDim;
    const h = config.crossHeads;
    const d = e / h;
    const n = model.visual.numTokens;
    const cross = model.crossModal;
    if (!cross) throw new Error('the test model has a fusion encoder');
    const params = model.namedParameters();
    const param = (name: string) => params.get(name) as tf.Tensor;
    const [expected, rebuilt] = tf.tidy(() => {
      const q = layerNorm(
        tf.reshape(model.encodeTextTokens(ids), [B * L, e]),
        param('ln_pre_t.weight') as tf.Tensor1D,
        param('ln_pre_t.bias') as tf.Tensor1D,
      );
      const kv = layerNorm(
        tf.reshape(model.encodeImageTokens(images), [B * n, e]),
        param('ln_pre_i.weight') as tf.Tensor1D,
        param('ln_pre_i.bias') as tf.Tensor1D,
      );
      const fromModel = cross.crossAttn.crossAttend(q, kv, B, L, n);
      const w = param('cross_attn.in_proj_weight');
      const bias = param('cross_attn.in_proj_bias');
      const v = tf.add(tf.matMul(kv, tf.slice(w, [0, 2 * e], [e, e])), tf.slice(bias, [2 * e], [e]));
      const vh = tf.transpose(tf.reshape(v, [B, n, h, d]), [0, 2, 1, 3]); // [B, H, N, d]
      const heads = tf.matMul(crossAttentionWeights(model, images, ids), vh); // [B, H, L, d]
      const merged = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [B * L, e]);
      const out = tf.add(tf.matMul(merged, param('cross_attn.out_proj.weight')), param('cross_attn.out_proj.bias'));
      return [fromModel.arraySync() as number[][], out.arraySync() as number[][]];
    });
    expect(maxAbsDiff(expected.flat(), rebuilt.flat())).toBeLessThan(1e-4);
  });
});

describe('crossAttentionMap', () => {
  it('is the head- and real-token mean of the weights on the patch grid, class token dropped', () => {
    const map = expectNoLeak(() => crossAttentionMap(model, images, ids), 1);
    expect(map.shape).toEqual([B, model.visual.gridY, model.visual.gridX]);
    expect([model.visual.gridY, model.visual.gridX]).toEqual([4, 3]);
    const got = map.arraySync() as number[][][];
    map.dispose();
    const p = directProbabilities();
    for (let b = 0; b < B; b++) {
      const real = IDS[b].map((id, i) => (id !== 0 ? i : -1)).filter((i) => i >= 0);
      const n = model.visual.numTokens;
      const mean = Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (const row of p[b]) for (const i of real) s += row[i][j];
        return s / (p[b].length * real.length);
      });
      const flat = got[b].flat();
      expect(maxAbsDiff(flat, mean.slice(1))).toBeLessThan(1e-5);
      // with the class token's share added back, each map sums to 1
      expect(Math.abs(flat.reduce((a, c) => a + c, 0) + mean[0] - 1)).toBeLessThan(1e-5);
    }
    // padding is ignored: the same caption with more padding gives the same map
    const [short, long] = tf.tidy(() => {
      const one = tf.slice(images, [1, 0, 0, 0], [1, 32, 24, 3]) as tf.Tensor4D;
      return [crossAttentionMap(model, one, tf.tensor2d([IDS[1]], [1, L], 'int32')).arraySync(), got[1]];
    });
    expect((short as number[][][])[0].flat().map((v) => v.toFixed(5))).toEqual(long.flat().map((v) => v.toFixed(5)));
  });

  it('rejects a model without fusion, mismatched batches, wrong ranks and empty captions', () => {
    const noFusion = IRRA.create(irraConfig({ ...config, lossNames: ['sdm', 'id'] }), { seed: 1 });
    expect(() => crossAttentionMap(noFusion, images, ids)).toThrow(
      /crossAttentionMap: model has no fusion encoder \(its config's lossNames must include 'mlm', got \[sdm, id\]\)/,
    );
    expect(() => crossAttentionWeights(noFusion, images, ids)).toThrow(/crossAttentionWeights: model has no fusion/);
    noFusion.dispose();
    const two = tf.tensor2d(IDS.slice(0, 2), [2, L], 'int32');
    expect(() => crossAttentionMap(model, images, two)).toThrow(
      /images and captionIds must have the same batch size, got images \[3, 32, 24, 3\] and captionIds \[2, 8\]/,
    );
    const flat = tf.zeros([3, 32, 24]);
    expect(() => crossAttentionMap(model, flat as unknown as tf.Tensor4D, ids)).toThrow(
      /images must be a float32 NHWC tensor \[B, H, W, 3\], got \[3, 32, 24\]/,
    );
    const ids1 = tf.tensor1d([1, 2, 3], 'int32');
    expect(() => crossAttentionWeights(model, images, ids1 as unknown as tf.Tensor2D)).toThrow(
      /captionIds must be an int32 tensor \[B, contextLength\], got \[3\]/,
    );
    const empty = tf.tensor2d([IDS[0], new Array(L).fill(0), IDS[2]], [B, L], 'int32');
    expect(() => crossAttentionMap(model, images, empty)).toThrow(/captionIds row 1 holds no token/);
    tf.dispose([two, flat, ids1, empty]);
  });
});
