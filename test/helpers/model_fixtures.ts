import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll } from 'vitest';
import type { IRRAConfig } from '../../src/config';
import { IRRA, type IRRABatch } from '../../src/model';
import { fixtureJson, fixtureKeys, fixtureTensor } from './fixtures';

/** A model entry of models.json (the fields the model tests read). */
export interface FixtureModel {
  config: { image_resolution: [number, number]; stride_size: number; transformer_heads: number };
  temperature: number;
  loss_names: string;
  losses: Record<string, number>;
  accuracies: Record<string, number>;
}
/** `models.json`'s models by name. */
export const fixtureModels = fixtureJson<{ models: Record<string, FixtureModel> }>('models.json').models;

/** Loads a fixture model and its batch (images transposed from NCHW to NHWC). */
export function loadFixtureModel(name: string): { model: IRRA; batch: IRRABatch; file: string } {
  const file = `${name}.safetensors`;
  const spec = fixtureModels[name];
  const params = new Map<string, tf.Tensor>();
  for (const k of fixtureKeys(file, 'param.')) params.set(k.slice('param.'.length), fixtureTensor(file, k));
  const model = IRRA.fromStateDict(params, {
    imageSize: spec.config.image_resolution,
    strideSize: spec.config.stride_size,
    transformerHeads: spec.config.transformer_heads,
    lossNames: spec.loss_names.split('+') as IRRAConfig['lossNames'],
    temperature: spec.temperature,
  });
  for (const t of params.values()) t.dispose();
  const nchw = fixtureTensor(file, 'input.images');
  const batch: IRRABatch = {
    images: tf.transpose(nchw, [0, 2, 3, 1]) as tf.Tensor4D,
    captionIds: fixtureTensor(file, 'input.caption_ids') as tf.Tensor2D,
    mlmIds: fixtureTensor(file, 'input.mlm_ids') as tf.Tensor2D,
    mlmLabels: fixtureTensor(file, 'input.mlm_labels') as tf.Tensor2D,
    pids: fixtureTensor(file, 'input.pids') as tf.Tensor1D,
  };
  nchw.dispose();
  return { model, batch, file };
}

/** Disposes every tensor of a batch. */
export function disposeBatch(batch: IRRABatch): void {
  for (const t of Object.values(batch)) (t as tf.Tensor | undefined)?.dispose();
}

/**
 * Loads fixture model `name` once for the enclosing describe (beforeAll), hands it to `set` (tests
 * keep their own `let model` / `let batch`), and disposes the model and its batch afterwards
 * (afterAll).
 */
export function useFixtureModel(
  name: string,
  set: (fixture: { model: IRRA; batch: IRRABatch; file: string }) => void,
): void {
  let loaded: { model: IRRA; batch: IRRABatch; file: string } | undefined;
  beforeAll(() => {
    loaded = loadFixtureModel(name);
    set(loaded);
  });
  afterAll(() => {
    loaded?.model.dispose();
    if (loaded) disposeBatch(loaded.batch);
  });
}
