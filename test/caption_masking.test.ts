import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTrainOptions, TRAIN_DEFAULTS } from '../src/cli/train_command';
import type { TrainSample } from '../src/data/annotations';
import {
  buildBatch,
  type CaptionMasking,
  DataLoader,
  disposeBatch,
  LOADER_DEFAULTS,
  rowwiseMask,
} from '../src/data/batch';
import { seededRng } from '../src/data/random';
import { buildTransforms } from '../src/data/transforms';
import { buildMlmInputs } from '../src/tokenizer';
import { wordLengthEncoder } from './helpers/word_encoder';

const CTX = 12;
const MASK_ID = 60;
const VOCAB = 64;

/** Start 62, one id per word (1 + word length), end 63, zero padding. */
const encodeText = wordLengthEncoder(62, 1, 63);

const mask = rowwiseMask((row, rng) => buildMlmInputs(row, { rng, maskId: MASK_ID, vocabSize: VOCAB }));

const samples: TrainSample[] = Array.from({ length: 10 }, (_, i) => ({
  pid: i % 3,
  imageId: i,
  imgPath: `mem/${i}`,
  caption: `a person ${'x'.repeat(1 + (i % 5))} with ${'y'.repeat(2 + (i % 3))} bag and shoes`,
}));

const base = {
  transform: buildTransforms({ imageSize: [4, 2], isTrain: false }),
  encodeText,
  contextLength: CTX,
  loadImage: async (s: TrainSample) => ({
    data: Uint8Array.from({ length: 4 * 2 * 3 }, (_, k) => (s.imageId * 13 + k) % 256),
    height: 4,
    width: 2,
  }),
};

async function batchValues(seed: number, captionMasking: CaptionMasking | undefined, withMask: boolean) {
  const before = tf.memory().numTensors;
  const b = await buildBatch(samples, {
    ...base,
    ...(withMask ? { mask } : {}),
    ...(captionMasking ? { captionMasking } : {}),
    rng: seededRng(seed),
  });
  const out = {
    captionIds: Array.from(b.captionIds.dataSync()),
    mlmIds: b.mlmIds ? Array.from(b.mlmIds.dataSync()) : null,
    mlmLabels: b.mlmLabels ? Array.from(b.mlmLabels.dataSync()) : null,
  };
  disposeBatch(b);
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

const rows = (flat: number[]) =>
  Array.from({ length: flat.length / CTX }, (_, r) => flat.slice(r * CTX, (r + 1) * CTX));
const tokenized = Array.from(
  encodeText(
    samples.map((s) => s.caption),
    CTX,
  ),
);

describe('captionMasking', () => {
  it("'reference' gives captionIds equal to mlmIds row for row, and the masking did change rows", async () => {
    const r = await batchValues(3, 'reference', true);
    expect(rows(r.captionIds)).toEqual(rows(r.mlmIds as number[]));
    expect(r.captionIds).not.toEqual(tokenized);
    expect((r.mlmLabels as number[]).some((l) => l !== 0)).toBe(true);
  });

  it("'clean' (the library default) leaves captionIds as tokenized, with the same masks as 'reference'", async () => {
    expect(LOADER_DEFAULTS.captionMasking).toBe('clean');
    const clean = await batchValues(3, 'clean', true);
    const byDefault = await batchValues(3, undefined, true);
    const reference = await batchValues(3, 'reference', true);
    expect(clean.captionIds).toEqual(tokenized);
    expect(byDefault).toEqual(clean);
    expect(clean.mlmIds).toEqual(reference.mlmIds);
    expect(clean.mlmLabels).toEqual(reference.mlmLabels);
  });

  it('property: for any seed, reference rows = mlmIds rows, clean rows = tokenized, labels mark the differences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (seed) => {
        const reference = await batchValues(seed, 'reference', true);
        const clean = await batchValues(seed, 'clean', true);
        expect(reference.captionIds).toEqual(reference.mlmIds);
        expect(clean.captionIds).toEqual(tokenized);
        // Every position where the masked ids differ from the tokenized ones is labelled.
        const labels = reference.mlmLabels as number[];
        reference.captionIds.forEach((id, k) => {
          if (id !== tokenized[k]) expect(labels[k]).toBe(tokenized[k]);
        });
      }),
      { numRuns: 25 },
    );
  });

  it('without MLM both settings give the tokenized captions and no MLM tensors', async () => {
    const reference = await batchValues(5, 'reference', false);
    const clean = await batchValues(5, 'clean', false);
    expect(reference).toEqual(clean);
    expect(reference.captionIds).toEqual(tokenized);
    expect(reference.mlmIds).toBeNull();
  });

  it('DataLoader passes the setting through to every batch', async () => {
    const loader = new DataLoader(samples, { ...base, mask, batchSize: 4, seed: 7, captionMasking: 'reference' });
    let batches = 0;
    for await (const b of loader.epoch(0)) {
      expect(Array.from(b.captionIds.dataSync())).toEqual(Array.from((b.mlmIds as tf.Tensor2D).dataSync()));
      disposeBatch(b);
      batches++;
    }
    expect(batches).toBe(loader.numBatches);
  });

  it('rejects an unknown setting, naming the argument, what was expected and what arrived', async () => {
    await expect(
      buildBatch(samples, { ...base, mask, rng: seededRng(0), captionMasking: 'masked' as CaptionMasking }),
    ).rejects.toThrow(`buildBatch: captionMasking must be 'reference' or 'clean', got "masked"`);
    expect(() => new DataLoader(samples, { ...base, captionMasking: 'none' as CaptionMasking })).toThrow(
      `DataLoader: captionMasking must be 'reference' or 'clean', got "none"`,
    );
  });

  it("irra-tfjs train defaults to 'reference' and takes --caption_masking clean", () => {
    expect(TRAIN_DEFAULTS.caption_masking).toBe('reference');
    expect(parseTrainOptions([])?.caption_masking).toBe('reference');
    expect(parseTrainOptions(['--caption_masking', 'clean'])?.caption_masking).toBe('clean');
    expect(() => parseTrainOptions(['--caption_masking', 'masked'])).toThrow(/caption_masking/);
  });
});
