import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoOptions, DemoResult } from '../src/cli/demo';
import {
  DEMO_EXPORT_FILES,
  type DemoExportGallery,
  type DemoExportManifest,
  type DemoExportVocabulary,
  demoExportExists,
  demoExportIsCurrent,
  writeDemoExport,
} from '../src/cli/demo_export';
import { irraConfig } from '../src/config';
import { buildSynthVocabulary, generateSynthPedes } from '../src/data/synthpedes';
import { IRRA } from '../src/model';
import { loadWeights } from '../src/weights';

// A DemoResult built by hand (no training): a small SynthPedes generation, its word vocabulary and
// a tiny IRRA sized to it, so the export's files can be checked quickly.
const options: DemoOptions = { seed: 5, identities: 8, imagesPerIdentity: 2, captionsPerImage: 2, imageSize: [32, 16] };
const rank = { cmc: [], R1: 10, R5: 20, R10: 30, mAP: 15, mINP: 5 };

let dir: string;
let result: DemoResult;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'irra-demo-export-'));
  const data = generateSynthPedes({
    seed: 5,
    numIdentities: 8,
    imagesPerIdentity: 2,
    captionsPerImage: 2,
    height: 32,
    width: 16,
  });
  const vocab = buildSynthVocabulary([...data.train, ...data.test].flatMap((s) => s.captions));
  const contextLength = 48;
  const model = IRRA.create(
    irraConfig({
      preset: 'tiny',
      imageSize: [32, 16],
      contextLength,
      vocabSize: vocab.vocabSize,
      numClasses: data.trainIdentities.length,
      cmtDepth: 1,
    }),
    { seed: 2 },
  );
  result = {
    backend: tf.getBackend(),
    losses: ['sdm', 'id', 'mlm'],
    tokenizer: 'synthpedes-words',
    vocabSize: vocab.vocabSize,
    trainIdentities: data.trainIdentities.length,
    testIdentities: data.testIdentities.length,
    galleryImages: data.test.length,
    queries: data.test.length * 2,
    chanceR1: 12.5,
    untrained: rank,
    trained: { ...rank, R1: 50 },
    epochsRun: 1,
    history: [],
    cutShort: false,
    trainSeconds: 1,
    seconds: 2,
    model,
    encodeText: (texts) => vocab.toIds(texts, contextLength),
    contextLength,
    test: data.test,
  };
});

afterAll(() => {
  result.model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('writeDemoExport', () => {
  it('writes weights that load back bit-exact, the config, the vocabulary, the gallery and the manifest', async () => {
    expect(demoExportExists(dir)).toBe(false);
    const before = tf.memory().numTensors;
    const manifest = await writeDemoExport(result, dir, options);
    expect(tf.memory().numTensors).toBe(before);
    expect(demoExportExists(dir)).toBe(true);

    const loaded = await loadWeights(`file://${dir}`);
    const state = result.model.stateDict();
    expect([...loaded.keys()]).toEqual([...state.keys()]);
    for (const [name, t] of state) {
      expect(Array.from((loaded.get(name) as tf.Tensor).dataSync()), name).toEqual(Array.from(t.dataSync()));
    }
    tf.dispose([...loaded.values(), ...state.values()]);

    const read = <T>(file: string): T => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;
    expect(read(DEMO_EXPORT_FILES.config)).toEqual(JSON.parse(JSON.stringify(result.model.config)));

    const v = read<DemoExportVocabulary>(DEMO_EXPORT_FILES.vocabulary);
    expect(v.contextLength).toBe(48);
    const rebuilt = buildSynthVocabulary(v.words);
    expect([rebuilt.vocabSize, rebuilt.maskId, rebuilt.sotId, rebuilt.eotId]).toEqual([
      v.vocabSize,
      v.maskId,
      v.sotId,
      v.eotId,
    ]);
    const captions = result.test.flatMap((s) => s.captions);
    expect(Array.from(rebuilt.toIds(captions, v.contextLength))).toEqual(Array.from(result.encodeText(captions)));

    const g = read<DemoExportGallery>(DEMO_EXPORT_FILES.galleryIndex);
    const pixels = new Uint8Array(readFileSync(join(dir, DEMO_EXPORT_FILES.galleryPixels)));
    expect([g.height, g.width, g.channels, g.count]).toEqual([32, 16, 3, result.test.length]);
    expect(pixels.length).toBe(g.count * 32 * 16 * 3);
    const last = result.test.length - 1;
    expect(Array.from(pixels.subarray(last * 32 * 16 * 3))).toEqual(Array.from(result.test[last].pixels));
    expect(g.items[last]).toEqual({
      index: last,
      pid: result.test[last].pid,
      imageId: result.test[last].imageId,
      attributes: result.test[last].attributes,
      captions: result.test[last].captions,
    });

    const m = read<DemoExportManifest>(DEMO_EXPORT_FILES.manifest);
    expect(m).toEqual(manifest);
    expect(m.trained.R1).toBe(50);
    expect(m.options).toMatchObject({ seed: 5, identities: 8, imagesPerIdentity: 2, captionsPerImage: 2 });
  });

  it('demoExportIsCurrent: true only for an export of the same options and the same DEMO_DEFAULTS', () => {
    // The export written by the test above (same `dir`, same `options`).
    expect(demoExportIsCurrent(dir, options)).toBe(true);
    expect(demoExportIsCurrent(dir, { ...options, epochs: 3 })).toBe(false);
    expect(demoExportIsCurrent(dir, { ...options, lr: 1e-2 })).toBe(false);
    expect(demoExportIsCurrent(dir, { ...options, log: () => {}, progress: 'none' })).toBe(true);
    expect(demoExportIsCurrent(join(dir, 'absent'), options)).toBe(false);
    // An export from before the recipe was recorded (no demoOptions) is not current.
    const file = join(dir, DEMO_EXPORT_FILES.manifest);
    const text = readFileSync(file, 'utf8');
    const { demoOptions: _dropped, ...older } = JSON.parse(text) as DemoExportManifest;
    writeFileSync(file, JSON.stringify(older));
    expect(demoExportIsCurrent(dir, options)).toBe(false);
    writeFileSync(file, text);
    expect(demoExportIsCurrent(dir, options)).toBe(true);
  });

  it('refuses a CLIP-vocabulary run and options that do not reproduce the run', async () => {
    await expect(writeDemoExport({ ...result, tokenizer: 'clip-bpe' }, dir, options)).rejects.toThrow(
      /writeDemoExport\(result\): expected a run with the SynthPedes word vocabulary .* got tokenizer 'clip-bpe'/,
    );
    await expect(writeDemoExport(result, dir, { ...options, seed: 6 })).rejects.toThrow(
      /writeDemoExport\(options\): the vocabulary rebuilt from these options does not match the run/,
    );
  });
});
