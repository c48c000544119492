import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { IRRAConfig } from '../src/config';
import { irraConfig } from '../src/config';
import { IRRA } from '../src/model';
import {
  adaptStateDict,
  loadCheckpoint,
  loadWeights,
  overlayStateDict,
  saveSafetensors,
  saveWeights,
} from '../src/weights/index';
import { expectClose } from './helpers/compare';
import { fixtureKeys, fixturePath, fixtureRaw, fixtureTensor } from './helpers/fixtures';
import { disposeBatch, fixtureModels, loadFixtureModel } from './helpers/model_fixtures';

const tmp = mkdtempSync(join(tmpdir(), 'irra-weights-model-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const dispose = (m: Map<string, tf.Tensor>): void => {
  for (const t of m.values()) t.dispose();
};

const overridesOf = (name: string): Partial<IRRAConfig> => {
  const spec = fixtureModels[name];
  return {
    imageSize: spec.config.image_resolution,
    strideSize: spec.config.stride_size,
    transformerHeads: spec.config.transformer_heads,
    lossNames: spec.loss_names.split('+') as IRRAConfig['lossNames'],
    temperature: spec.temperature,
  };
};

/** Asserts that two maps hold the same names and bit-identical values. */
function expectIdentical(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>, label: string): void {
  expect([...a.keys()].sort(), `${label}: names`).toEqual([...b.keys()].sort());
  for (const [k, t] of a) {
    const u = b.get(k) as tf.Tensor;
    expect(u.shape, `${label}: ${k} shape`).toEqual(t.shape);
    const x = t.dataSync();
    const y = u.dataSync();
    expect(
      Buffer.compare(
        new Uint8Array(x.buffer, x.byteOffset, x.byteLength),
        new Uint8Array(y.buffer, y.byteOffset, y.byteLength),
      ),
      `${label}: ${k}`,
    ).toBe(0);
  }
}

for (const name of ['tiny_a', 'tiny_overlap']) {
  describe(`weights through the IRRA model (${name})`, () => {
    it('a model written with saveSafetensors and read back with loadCheckpoint matches every fixture output', async () => {
      const { model, batch, file } = loadFixtureModel(name);
      const bytes = saveSafetensors(model);
      model.dispose();
      const map = await loadCheckpoint(bytes);
      const loaded = IRRA.fromStateDict(map, overridesOf(name));
      dispose(map);
      const out = loaded.forward(batch);
      for (const k of ['image_feats', 'text_feats', 'fused', 'mlm_logits'] as const) {
        const e = fixtureTensor(file, `output.${k}`);
        expectClose(out[k] as tf.Tensor, e, {
          kind: 'forward',
          label: `${name} ${k} after safetensors`,
          group: 'weights.model',
        });
        e.dispose();
      }
      for (const t of Object.values(out)) (t as tf.Tensor).dispose();
      const losses = loaded.computeLosses(batch);
      expectClose(losses.sdm_loss as tf.Scalar, fixtureModels[name].losses.sdm_loss, {
        kind: 'forward',
        label: `${name} sdm_loss after safetensors`,
        group: 'weights.model',
      });
      for (const t of Object.values(losses)) (t as tf.Tensor).dispose();
      loaded.dispose();
      disposeBatch(batch);
    });

    it(`${name}.irra.pth builds a model whose state_dict is the checkpoint, and tfjs format round-trips it bit-exactly`, async () => {
      const map = await loadCheckpoint(fixturePath(`${name}.irra.pth`));
      const model = IRRA.fromStateDict(map, overridesOf(name));
      const sd = model.stateDict();
      expectIdentical(sd, map, `${name}.irra.pth → model`);
      const dir = join(tmp, name);
      await saveWeights(model, `file://${dir}`);
      const back = await loadWeights(`file://${dir}`);
      const again = IRRA.create(model.config, { seed: 1 });
      again.loadStateDict(back);
      const sd2 = again.stateDict();
      expectIdentical(sd2, sd, `${name} tfjs round trip`);
      const st = await loadCheckpoint(saveSafetensors(again));
      expectIdentical(st, sd, `${name} safetensors round trip`);
      for (const m of [map, sd, back, sd2, st]) dispose(m);
      model.dispose();
      again.dispose();
    });

    for (const src of ['clip_state_dict.pt', 'hf.safetensors']) {
      it(`${name}.${src} loads the CLIP towers and leaves the fusion module and heads freshly initialised`, async () => {
        const full = await loadCheckpoint(fixturePath(`${name}.irra.pth`));
        const reference = IRRA.fromStateDict(full, overridesOf(name));
        dispose(full);
        const fresh = IRRA.create(reference.config, { seed: 7 });
        const init = fresh.stateDict();
        const clip = await loadCheckpoint(fixturePath(`${name}.${src}`));
        const kept = overlayStateDict(fresh, clip);
        dispose(clip);
        expect(kept.length).toBeGreaterThan(0);
        expect(kept.every((k) => !k.startsWith('base_model.'))).toBe(true);
        const after = fresh.stateDict();
        for (const k of kept)
          expectIdentical(new Map([[k, after.get(k) as tf.Tensor]]), new Map([[k, init.get(k) as tf.Tensor]]), 'kept');
        const images = tf.transpose(fixtureTensor(`${name}.safetensors`, 'input.images'), [0, 2, 3, 1]) as tf.Tensor4D;
        const ids = fixtureTensor(`${name}.safetensors`, 'input.caption_ids') as tf.Tensor2D;
        const pairs: [tf.Tensor, tf.Tensor][] = [
          [fresh.encodeImage(images), reference.encodeImage(images)],
          [fresh.encodeText(ids), reference.encodeText(ids)],
        ];
        for (const [a, b] of pairs)
          expect(Buffer.compare(Buffer.from(a.dataSync().buffer), Buffer.from(b.dataSync().buffer))).toBe(0);
        for (const p of pairs) tf.dispose(p);
        tf.dispose([images, ids]);
        dispose(init);
        dispose(after);
        fresh.dispose();
        reference.dispose();
      });
    }
  });
}

describe('the released-CLIP path: TorchScript → adaptStateDict → IRRA', () => {
  it('builds a person-grid model from clip_square.jit.pt with the positional embedding resized', async () => {
    const before = tf.memory().numTensors;
    const clip = adaptStateDict(await loadCheckpoint(fixturePath('clip_square.jit.pt')), {
      grid: [4, 2],
      contextLength: 77,
    });
    const model = IRRA.fromStateDict(clip, { imageSize: [64, 32], strideSize: 16 });
    expect(model.config.imageSize).toEqual([64, 32]);
    const pos = model.stateDict();
    expect(pos.get('base_model.visual.positional_embedding')?.shape).toEqual([9, 64]);
    const e = fixtureRaw('clip_square.expected.safetensors', 'visual.class_embedding');
    expect(pos.get('base_model.visual.class_embedding')?.dataSync()).toEqual(e.data);
    const input = tf.zeros([1, 64, 32, 3]) as tf.Tensor4D;
    const feats = model.encodeImage(input);
    expect(feats.shape).toEqual([1, 64]);
    tf.dispose([input, feats]);
    dispose(pos);
    dispose(clip);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('overlayStateDict names the keys the model does not have', () => {
    const model = IRRA.create(irraConfig({ preset: 'tiny' }), { seed: 0 });
    const extra = new Map([['visual.proj', tf.zeros([1])]]);
    expect(() => overlayStateDict(model, extra)).toThrow(/1 name\(s\) are not parameters of the model: visual.proj/);
    expect(() => overlayStateDict({} as never, extra)).toThrow(
      /expected a model with stateDict\(\) and loadStateDict\(\)/,
    );
    dispose(extra);
    model.dispose();
  });

  it('reads the fixture checkpoint bytes as well as the path', async () => {
    const a = await loadCheckpoint(readFileSync(fixturePath('tiny_overlap.irra.pth')));
    expect(a.size).toBe(fixtureKeys('tiny_overlap.safetensors', 'param.').length);
    dispose(a);
  });
});
