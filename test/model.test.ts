import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { irraConfig, presets } from '../src/config';
import { IRRA, type IRRABatch, type IRRALosses, totalLoss } from '../src/model';
import { expectNoLeak } from './helpers/compare';
import { useFixtureModel } from './helpers/model_fixtures';

const backend = process.env.IRRA_TEST_BACKEND;

describe('irraConfig', () => {
  it('builds the presets with heads = width / 64', () => {
    const b16 = irraConfig({ preset: 'ViT-B/16' });
    expect(b16).toMatchObject({
      imageSize: [384, 128],
      strideSize: 16,
      visionHeads: 12,
      transformerHeads: 8,
      crossHeads: 8,
      cmtDepth: 4,
      numClasses: 11003,
      temperature: 0.02,
      lossNames: ['sdm', 'id', 'mlm'],
    });
    expect(irraConfig({ preset: 'ViT-B/32' }).visionPatchSize).toBe(32);
    expect(irraConfig({ preset: 'tiny', embedDim: 64 }).crossHeads).toBe(1);
    expect(Object.keys(presets)).toEqual(['ViT-B/16', 'ViT-B/32', 'tiny']);
  });

  it('rejects bad fields with the field name, expectation and value', () => {
    expect(() => irraConfig({ preset: 'tiny', embedDim: 0 })).toThrow(
      /IRRAConfig.embedDim must be a positive integer, got 0/,
    );
    expect(() => irraConfig({ preset: 'tiny', visionWidth: 100, visionHeads: 3 })).toThrow(
      /visionWidth must be divisible by visionHeads \(3\), got 100/,
    );
    expect(() => irraConfig({ preset: 'tiny', temperature: -1 })).toThrow(/temperature must be a finite number > 0/);
    expect(() => irraConfig({ preset: 'tiny', lossNames: ['sdm', 'xyz' as 'sdm'] })).toThrow(
      /lossNames must be a list of/,
    );
    expect(() => irraConfig({ preset: 'tiny', imageSize: [4, 16] })).toThrow(
      /imageSize\[0\] must be an integer >= visionPatchSize/,
    );
    expect(() => irraConfig({ preset: 'nope' as 'tiny' })).toThrow(/preset must be one of/);
  });
});

describe('IRRA on the tiny preset', () => {
  let model: IRRA;
  let batch: IRRABatch;
  useFixtureModel('tiny_a', (fixture) => {
    ({ model, batch } = fixture);
  });

  it("totalLoss sums the *_loss entries (the reference's total_loss) and refuses losses without one", () => {
    expectNoLeak(() => {
      const out = model.computeLosses(batch);
      const total = totalLoss(out);
      const terms = Object.keys(out).filter((k) => k.endsWith('_loss')) as (keyof IRRALosses)[];
      expect(terms.length).toBeGreaterThan(1);
      expect(Object.keys(out).some((k) => k.endsWith('_acc'))).toBe(true); // accuracies are left out
      const expected = terms.reduce((sum, k) => sum + (out[k] as tf.Scalar).dataSync()[0], 0);
      expect(total.dataSync()[0]).toBeCloseTo(expected, 4);
      const acc = tf.scalar(0.5);
      const lossOnly = totalLoss({ sdm_loss: out.sdm_loss, img_acc: acc });
      expect(lossOnly.dataSync()[0]).toBe((out.sdm_loss as tf.Scalar).dataSync()[0]);
      tf.dispose([acc, lossOnly]);
      expect(() => totalLoss({ img_acc: out.img_acc })).toThrow(
        /totalLoss: losses holds no \*_loss entry \(got img_acc\)/,
      );
      expect(() => totalLoss({})).toThrow(/got nothing/);
      tf.dispose([total, ...(Object.values(out) as tf.Tensor[])]);
    });
  });

  it('is reproducible from a seed and round-trips its state dict', () => {
    const config = irraConfig({ preset: 'tiny' });
    const a = IRRA.create(config, { seed: 7 });
    const b = IRRA.create(config, { seed: 7 });
    const c = IRRA.create(config, { seed: 8 });
    const sa = a.stateDict();
    const sb = b.stateDict();
    const sc = c.stateDict();
    expect(a.countTensors()).toBe(sa.size);
    for (const [k, t] of sa) {
      expect(tf.util.arraysEqual(t.dataSync(), (sb.get(k) as tf.Tensor).dataSync()), k).toBe(true);
    }
    for (const k of [
      'base_model.visual.conv1.weight',
      'base_model.token_embedding.weight',
      'classifier.weight',
      'mlm_head.fc.weight',
    ]) {
      expect(tf.util.arraysEqual((sa.get(k) as tf.Tensor).dataSync(), (sc.get(k) as tf.Tensor).dataSync()), k).toBe(
        false,
      );
    }
    c.loadStateDict(sa);
    const back = c.stateDict();
    for (const [k, t] of sa)
      expect(tf.util.arraysEqual(t.dataSync(), (back.get(k) as tf.Tensor).dataSync()), k).toBe(true);
    for (const m of [sa, sb, sc, back]) for (const t of m.values()) t.dispose();
    for (const m of [a, b, c]) m.dispose();
  });

  it('initializes as the reference (classifier std 0.001, zero attention biases, unit LayerNorms)', () => {
    const m = IRRA.create(irraConfig({ preset: 'tiny', numClasses: 500 }), { seed: 3 });
    const sd = m.stateDict();
    const std = (t: tf.Tensor) => tf.tidy(() => Math.sqrt(tf.moments(t).variance.dataSync()[0]));
    expect(std(sd.get('classifier.weight') as tf.Tensor)).toBeCloseTo(0.001, 4);
    expect(std(sd.get('base_model.token_embedding.weight') as tf.Tensor)).toBeCloseTo(0.02, 3);
    expect(tf.tidy(() => tf.max(tf.abs(sd.get('cross_attn.in_proj_bias') as tf.Tensor)).dataSync()[0])).toBe(0);
    expect(tf.tidy(() => tf.min(sd.get('ln_post.weight') as tf.Tensor).dataSync()[0])).toBe(1);
    const w = 128;
    expect(std(sd.get('base_model.transformer.resblocks.0.attn.in_proj_weight') as tf.Tensor)).toBeCloseTo(
      w ** -0.5,
      2,
    );
    for (const t of sd.values()) t.dispose();
    m.dispose();
  });

  it('encodes images and captions to [B, embed] and matches the token encodings', () => {
    const img = model.encodeImage(batch.images);
    const txt = model.encodeText(batch.captionIds);
    expect(img.shape).toEqual([4, 128]);
    expect(txt.shape).toEqual([4, 128]);
    const tokens = model.encodeImageTokens(batch.images);
    expect(tokens.shape).toEqual([4, 9, 128]);
    const first = tf.reshape(tf.slice(tokens, [0, 0, 0], [4, 1, 128]), [4, 128]);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(first, img))).dataSync()[0])).toBeLessThan(1e-5);
    const textTokens = model.encodeTextTokens(batch.captionIds);
    expect(textTokens.shape).toEqual([4, 16, 128]);
    tf.dispose([img, txt, tokens, first, textTokens]);
  });

  it('rejects bad images: rank, size, NCHW layout, dtype', () => {
    const rank3 = tf.zeros([32, 16, 3]);
    const small = tf.zeros([1, 16, 16, 3]);
    const nchw = tf.zeros([1, 3, 32, 16]);
    const ints = tf.zeros([1, 32, 16, 3], 'int32');
    expect(() => model.encodeImage(rank3 as tf.Tensor4D)).toThrow(
      /images must be float32 NHWC \[batch, 32, 16, 3\], got rank 3/,
    );
    expect(() => model.encodeImage(small as tf.Tensor4D)).toThrow(/got shape \[1,16,16,3\]/);
    expect(() => model.encodeImage(nchw as tf.Tensor4D)).toThrow(/looks like NCHW/);
    expect(() => model.encodeImage(ints as tf.Tensor4D)).toThrow(/images must be float32, got int32/);
    tf.dispose([rank3, small, nchw, ints]);
  });

  it('rejects bad ids: out of vocabulary, float dtype, wrong length, no end-of-text id', () => {
    const row = (values: number[]) => [...values, ...new Array(16 - values.length).fill(0)];
    const big = tf.tensor2d([row([510, 512, 511])], [1, 16], 'int32');
    const floats = tf.tensor2d([row([510, 5, 511])], [1, 16], 'float32');
    const short = tf.tensor2d([[510, 5, 511]], [1, 3], 'int32');
    const noEot = tf.tensor2d([row([510, 5, 6])], [1, 16], 'int32');
    expect(() => model.encodeText(big as tf.Tensor2D)).toThrow(/ids in \[0, 512\).*got 512 at row 0, position 1/);
    expect(() => model.encodeText(floats as tf.Tensor2D)).toThrow(/ids must be int32, got float32/);
    expect(() => model.encodeText(short as tf.Tensor2D)).toThrow(/ids must be int32 \[batch, 16\], got shape \[1,3\]/);
    expect(() => model.encodeText(noEot as tf.Tensor2D)).toThrow(/row 0 has no end-of-text id 511/);
    tf.dispose([big, floats, short, noEot]);
  });

  it('rejects batches whose sizes disagree or lack the MLM inputs', () => {
    const pids3 = tf.slice(batch.pids, [0], [3]) as tf.Tensor1D;
    const caps3 = tf.slice(batch.captionIds, [0, 0], [3, 16]) as tf.Tensor2D;
    expect(() => model.computeLosses({ ...batch, pids: pids3 })).toThrow(
      /batch.pids must have batch size 4 .*got shape \[3\]/,
    );
    expect(() => model.computeLosses({ ...batch, captionIds: caps3 })).toThrow(
      /batch.captionIds must have batch size 4/,
    );
    expect(() => model.computeLosses({ ...batch, mlmLabels: caps3 })).toThrow(/batch.mlmLabels must have batch size 4/);
    expect(() => model.computeLosses({ ...batch, mlmIds: undefined })).toThrow(
      /batch.mlmIds and batch.mlmLabels are required/,
    );
    const badPids = tf.tensor1d([0, 1, 2, 70], 'int32');
    expect(() => model.computeLosses({ ...batch, pids: badPids })).toThrow(/batch.pids must lie in \[0, 7\)/);
    tf.dispose([pids3, caps3, badPids]);
  });

  it('lists every missing, unexpected and misshapen weight when loading a state dict', () => {
    const sd = model.stateDict();
    const extra = tf.zeros([2]);
    const wrong = tf.zeros([3, 3]);
    const dropped = sd.get('mlm_head.fc.bias') as tf.Tensor;
    sd.delete('mlm_head.fc.bias');
    const old = sd.get('cross_attn.in_proj_weight') as tf.Tensor;
    sd.set('cross_attn.in_proj_weight', wrong);
    sd.set('not.a.weight', extra);
    expect(() => model.loadStateDict(sd)).toThrow(
      /missing: mlm_head.fc.bias; unexpected: not.a.weight; misshapen: cross_attn.in_proj_weight \(expected \[384,128\], got \[3, 3\]\)/,
    );
    tf.dispose([...sd.values(), dropped, old]);
  });

  it('infers the architecture from a state dict and rejects contradicting overrides', () => {
    const sd = model.stateDict();
    const m = IRRA.fromStateDict(sd, { imageSize: [32, 16] });
    expect(m.config).toMatchObject({ embedDim: 128, visionLayers: 2, cmtDepth: 2, numClasses: 7, vocabSize: 512 });
    expect(m.config.lossNames).toEqual(['sdm', 'id', 'mlm']);
    m.dispose();
    expect(() => IRRA.fromStateDict(sd, { imageSize: [40, 16] })).toThrow(/gives 4×2\+1 = 9|gives 5×2\+1 = 11/);
    expect(() => IRRA.fromStateDict(sd, { imageSize: [32, 16], numClasses: 9 })).toThrow(
      /overrides.numClasses = 9 contradicts the state dict's 7/,
    );
    for (const t of sd.values()) t.dispose();
  });

  it('frees every tensor it made on dispose (create, fromStateDict)', () => {
    const sd = model.stateDict();
    expectNoLeak(() => {
      IRRA.create(irraConfig({ preset: 'tiny' }), { seed: 1 }).dispose();
      IRRA.fromStateDict(sd, { imageSize: [32, 16] }).dispose();
    });
    for (const t of sd.values()) t.dispose();
  });

  it('leaks no tensor over 10 encodes and 3 forward+backward passes', () => {
    const params = [...model.namedParameters().values()];
    model.encodeImage(batch.images).dispose();
    expectNoLeak(() => {
      for (let i = 0; i < 5; i++) {
        model.encodeImage(batch.images).dispose();
        model.encodeText(batch.captionIds).dispose();
      }
      for (let i = 0; i < 3; i++) {
        const { value, grads } = tf.variableGrads(() => totalLoss(model.computeLosses(batch)), params);
        value.dispose();
        tf.dispose(grads);
      }
    });
  });
});

describe.runIf(backend === 'wasm')('IRRA ViT-B/16 preset', () => {
  it('has 194,535,419 parameters in 367 tensors and encodes 2 images and 2 captions', () => {
    const model = IRRA.create(irraConfig({ preset: 'ViT-B/16' }), { seed: 0 });
    expect(model.countParams()).toBe(194_535_419);
    expect(model.countTensors()).toBe(367);
    let clip = 0;
    for (const [n, v] of model.namedParameters()) if (n.startsWith('base_model.')) clip += v.size;
    expect(clip).toBe(149_617_664);
    const images = tf.randomNormal([2, 384, 128, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const ids = new Int32Array(2 * 77);
    ids.set([49406, 320, 1125, 49407], 0);
    ids.set([49406, 1929, 49407], 77);
    const captions = tf.tensor2d(ids, [2, 77], 'int32');
    const img = model.encodeImage(images);
    const txt = model.encodeText(captions);
    expect(img.shape).toEqual([2, 512]);
    expect(txt.shape).toEqual([2, 512]);
    expect(Number.isFinite(tf.sum(tf.abs(img)).dataSync()[0])).toBe(true);
    expect(Number.isFinite(tf.sum(tf.abs(txt)).dataSync()[0])).toBe(true);
    tf.dispose([images, captions, img, txt]);
    model.dispose();
  });
});
