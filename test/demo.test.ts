import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { demoSynthPedes, formatDemoTable, runDemo } from '../src/cli/demo';

const small = {
  identities: 12,
  imagesPerIdentity: 2,
  captionsPerImage: 1,
  imageSize: [32, 16] as [number, number],
  width: 32,
  layers: 1,
  epochs: 6,
  batchSize: 8,
  progress: 'none' as const,
};

// The full demo is the main job (README); here a small run checks its promises: the same seed
// gives the same numbers, a different seed other numbers, the loss goes down, nothing leaks.
describe.runIf(process.env.IRRA_TEST_BACKEND === 'wasm')('demo', () => {
  it('is repeatable for a seed, differs across seeds, and leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const a = await runDemo({ ...small, seed: 3 });
    a.model.dispose();
    const b = await runDemo({ ...small, seed: 3 });
    b.model.dispose();
    const c = await runDemo({ ...small, seed: 4 });
    c.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(b.trained).toEqual(a.trained);
    expect(b.untrained).toEqual(a.untrained);
    expect(c.untrained).not.toEqual(a.untrained);
    expect(a.testIdentities).toBe(3);
    expect(a.trainIdentities).toBe(9);
    expect(a.galleryImages).toBe(6);
    // 3 held-out identities with 2 images each in a gallery of 6: a random ranking has R1 = 2/6.
    expect(a.chanceR1).toBeCloseTo(100 / 3, 10);
    expect(a.epochsRun).toBe(small.epochs);
    expect(a.cutShort).toBe(false);
    // IRRA (sdm+id+mlm) trained through the Trainer: the summed loss goes down.
    const total = (m: Record<string, number>) => m.sdm_loss + m.id_loss + m.mlm_loss;
    expect(total(a.history[small.epochs - 1].means)).toBeLessThan(total(a.history[0].means));
    const table = formatDemoTable(a);
    expect(table).toContain(`| trained   | ${a.trained.R1.toFixed(2).padStart(5)}`);
    expect(table).toMatch(/\| chance +\| 33\.33 \|/);
  });

  it('imgAug adds the reference augmentations to training images only: other losses, the same untrained table, repeatable', async () => {
    const options = { ...small, epochs: 1, seed: 2 };
    const plain = await runDemo(options);
    plain.model.dispose();
    const aug = await runDemo({ ...options, imgAug: true });
    aug.model.dispose();
    const again = await runDemo({ ...options, imgAug: true });
    again.model.dispose();
    expect(aug.history[0].means).not.toEqual(plain.history[0].means);
    expect(aug.untrained).toEqual(plain.untrained);
    expect(again.history[0].means).toEqual(aug.history[0].means);
    expect(again.trained).toEqual(aug.trained);
  });

  it('uses the SynthPedes word vocabulary without a CLIP file, with the special ids last', async () => {
    const r = await runDemo({ ...small, epochs: 1, seed: 1 });
    r.model.dispose();
    expect(r.tokenizer).toBe('synthpedes-words');
    const ids = r.encodeText(['a man wearing a red jacket']);
    expect(ids.length).toBe(r.contextLength);
    expect(ids[0]).toBe(r.vocabSize - 2);
    expect(Math.max(...ids)).toBe(r.vocabSize - 1);
  });
});

describe('demo options', () => {
  it('holds out a quarter of the identities by default, or testIdentities; a bad count is a clear error', async () => {
    const quarter = demoSynthPedes({ identities: 12, imagesPerIdentity: 1, imageSize: [32, 16] }).data;
    expect(quarter.testIdentities.length).toBe(3);
    const chosen = demoSynthPedes({ identities: 12, testIdentities: 5, imagesPerIdentity: 1, imageSize: [32, 16] });
    expect(chosen.data.testIdentities.length).toBe(5);
    expect(chosen.data.trainIdentities.length).toBe(7);
    for (const testIdentities of [0, 12, 2.5]) {
      expect(() => demoSynthPedes({ identities: 12, testIdentities })).toThrow(
        `runDemo: testIdentities must be an integer in [1, identities - 1] = [1, 11], got ${testIdentities}`,
      );
    }
    await expect(runDemo({ identities: 4, testIdentities: 4, progress: 'none' })).rejects.toThrow(/testIdentities/);
  });
});
