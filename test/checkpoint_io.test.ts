import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { irraConfig } from '../src/config';
import {
  CHECKPOINT_IO_DEFAULTS,
  isTrainerCheckpoint,
  parseTrainerCheckpoint,
  serializeTrainerCheckpoint,
} from '../src/train/checkpoint_io';
import { buildOptimizer, type OptimizerName } from '../src/train/optimizer';
import { disposeCheckpoint, type TrainerCheckpoint } from '../src/train/trainer';
import { parseSafetensors, serializeSafetensors } from '../src/weights/safetensors';

/** A checkpoint with real optimizer state: two steps of `kind` on fixed gradients. */
function makeCheckpoint(kind: OptimizerName): TrainerCheckpoint {
  const vars = new Map<string, tf.Variable>([
    ['base_model.visual.conv1.weight', tf.variable(tf.randomNormal([4, 3, 2, 2], 0, 1, 'float32', 1))],
    ['cross_attn.out_proj.bias', tf.variable(tf.randomNormal([5], 0, 1, 'float32', 2))],
    ['classifier.weight', tf.variable(tf.randomNormal([3, 4], 0, 1, 'float32', 3))],
  ]);
  const opt = buildOptimizer(vars, { optimizer: kind, lr: 0.1 });
  for (let s = 0; s < 2; s++) {
    const grads = new Map([...vars].map(([n, v]) => [n, tf.randomNormal(v.shape, 0, 1, 'float32', 10 + s)]));
    opt.applyGradients(grads);
    tf.dispose([...grads.values()]);
  }
  opt.setLrs(opt.groups.map((g, i) => g.lr * (0.3 + i / 7)));
  const ckpt: TrainerCheckpoint = {
    epoch: 7,
    bestR1: 100 / 3,
    bestEpoch: 5,
    weights: new Map([...vars].map(([n, v]) => [n, tf.clone(v)])),
    optimizer: opt.getState(),
  };
  opt.dispose();
  for (const v of vars.values()) v.dispose();
  return ckpt;
}

describe('trainer checkpoint files', () => {
  for (const kind of ['Adam', 'AdamW', 'SGD'] as const) {
    it(`round-trips a ${kind} checkpoint exactly, leaving no tensors behind`, () => {
      const ckpt = makeCheckpoint(kind);
      const config = irraConfig({ preset: 'tiny', numClasses: 3 });
      const before = tf.memory().numTensors;
      const bytes = serializeTrainerCheckpoint(ckpt, { config, metadata: { note: 'x' } });
      expect(tf.memory().numTensors).toBe(before);
      const back = parseTrainerCheckpoint(bytes);
      expect(tf.memory().numTensors).toBe(before + ckpt.weights.size);
      expect(back.epoch).toBe(7);
      expect(back.bestR1).toBe(ckpt.bestR1);
      expect(back.bestEpoch).toBe(5);
      expect(back.config).toEqual(config);
      expect(back.metadata).toEqual({ note: 'x' });
      expect([...back.weights.keys()]).toEqual([...ckpt.weights.keys()]);
      for (const [name, t] of ckpt.weights) {
        const u = back.weights.get(name) as tf.Tensor;
        expect(u.shape).toEqual(t.shape);
        expect(u.dtype).toBe('float32');
        expect(Array.from(u.dataSync())).toEqual(Array.from(t.dataSync()));
      }
      expect(back.optimizer.optimizer).toBe(kind);
      expect(back.optimizer.step).toBe(2);
      expect(back.optimizer.lrs).toEqual(ckpt.optimizer.lrs);
      expect(Object.keys(back.optimizer.params).sort()).toEqual(Object.keys(ckpt.optimizer.params).sort());
      let slotCount = 0;
      for (const [name, ps] of Object.entries(ckpt.optimizer.params)) {
        const got = back.optimizer.params[name];
        expect(got.step).toBe(ps.step);
        expect(Object.keys(got.slots).sort()).toEqual(Object.keys(ps.slots).sort());
        for (const [slot, s] of Object.entries(ps.slots)) {
          expect(got.slots[slot].shape).toEqual(s.shape);
          expect(got.slots[slot].data).toEqual(s.data);
          slotCount++;
        }
      }
      expect(slotCount).toBe(kind === 'SGD' ? 3 : 6);
      disposeCheckpoint(back);
      disposeCheckpoint(ckpt);
    });
  }

  it('stores weights under their own names and slots under the optimizer prefix', () => {
    const ckpt = makeCheckpoint('Adam');
    const { tensors, metadata } = parseSafetensors(serializeTrainerCheckpoint(ckpt));
    expect(isTrainerCheckpoint(metadata)).toBe(true);
    expect(metadata.format).toBe(CHECKPOINT_IO_DEFAULTS.format);
    expect(tensors.has('classifier.weight')).toBe(true);
    expect(tensors.get('__optimizer__/classifier.weight/expAvgSq')?.shape).toEqual([3, 4]);
    expect(metadata.config).toBeUndefined();
    disposeCheckpoint(ckpt);
  });

  it('a resumed optimizer continues exactly as the original', () => {
    const ckpt = makeCheckpoint('Adam');
    const back = parseTrainerCheckpoint(serializeTrainerCheckpoint(ckpt));
    const run = (c: TrainerCheckpoint) => {
      const vars = new Map([...c.weights].map(([n, t]) => [n, tf.variable(tf.clone(t))]));
      const opt = buildOptimizer(vars, { optimizer: 'Adam', lr: 0.1 });
      opt.setState(c.optimizer);
      const grads = new Map([...vars].map(([n, v]) => [n, tf.onesLike(v)]));
      opt.applyGradients(grads);
      const out = [...vars.values()].map((v) => Array.from(v.dataSync()));
      tf.dispose([...grads.values(), ...vars.values()]);
      opt.dispose();
      return out;
    };
    expect(run(back)).toEqual(run(ckpt));
    disposeCheckpoint(back);
    disposeCheckpoint(ckpt);
  });

  it('refuses files that are not trainer checkpoints, newer versions and missing slots', () => {
    const plain = serializeSafetensors(new Map([['w', tf.zeros([2])]]));
    expect(() => parseTrainerCheckpoint(plain)).toThrow(/not a trainer checkpoint.*loadCheckpoint/);
    const ckpt = makeCheckpoint('SGD');
    const { tensors, metadata } = parseSafetensors(serializeTrainerCheckpoint(ckpt));
    const rebuilt = new Map([...tensors].map(([n, r]) => [n, tf.tensor(r.data, r.shape)]));
    const newer = serializeSafetensors(rebuilt, { ...metadata, version: '2' });
    expect(() => parseTrainerCheckpoint(newer)).toThrow(/version must be '1', got "2"/);
    rebuilt.get('__optimizer__/classifier.weight/momentumBuffer')?.dispose();
    rebuilt.delete('__optimizer__/classifier.weight/momentumBuffer');
    const missing = serializeSafetensors(rebuilt, metadata);
    expect(() => parseTrainerCheckpoint(missing)).toThrow(/classifier.weight\/momentumBuffer' is missing/);
    tf.dispose([...rebuilt.values()]);
    disposeCheckpoint(ckpt);
  });

  it('refuses reserved metadata keys and weight names in the optimizer namespace', () => {
    const ckpt = makeCheckpoint('SGD');
    expect(() => serializeTrainerCheckpoint(ckpt, { metadata: { epoch: '3' } })).toThrow(
      /metadata key 'epoch' is reserved/,
    );
    const bad: TrainerCheckpoint = { ...ckpt, weights: new Map([['__optimizer__/x', tf.zeros([1])]]) };
    expect(() => serializeTrainerCheckpoint(bad)).toThrow(/weight name '__optimizer__\/x' must not start with/);
    disposeCheckpoint(bad);
    disposeCheckpoint(ckpt);
  });
});
