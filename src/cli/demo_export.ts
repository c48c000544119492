/**
 * Writes what the web page (web/, `npm run demo:web`) needs from a demo run: the trained weights
 * in the TensorFlow.js format, the model configuration, the word vocabulary and the held-out
 * gallery. Node only (writes files).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { IRRAConfig } from '../config';
import { buildSynthVocabulary, type PersonAttributes } from '../data/synthpedes';
import { saveWeights } from '../weights/tfjs_io';
import { DEMO_DEFAULTS, type DemoOptions, type DemoResult, demoSynthPedes } from './demo';

/** File names of an export folder; `export.json` is written last and marks a complete export. */
export const DEMO_EXPORT_FILES = {
  weights: 'model.json',
  config: 'config.json',
  vocabulary: 'vocab.json',
  galleryIndex: 'gallery.json',
  galleryPixels: 'gallery.bin',
  manifest: 'export.json',
} as const;

/** `vocab.json`: the SynthPedes word vocabulary the model was trained with. */
export interface DemoExportVocabulary {
  /** The words (ids 2 … vocabSize − 4, in order); `buildSynthVocabulary(words)` rebuilds the same ids. */
  words: string[];
  vocabSize: number;
  padId: number;
  unkId: number;
  maskId: number;
  sotId: number;
  eotId: number;
  /** Token ids per caption (rows are zero-padded to it). */
  contextLength: number;
}

/** One gallery image in `gallery.json`; its pixels are item `index` of `gallery.bin`. */
export interface DemoExportGalleryItem {
  index: number;
  /** Test-split person id (images of one person share it). */
  pid: number;
  imageId: number;
  attributes: PersonAttributes;
  /** The image's captions (reference descriptions, not used for ranking). */
  captions: string[];
}

/** `gallery.json`: `gallery.bin` holds `count` images of `height × width × 3` uint8 RGB (HWC), back to back. */
export interface DemoExportGallery {
  height: number;
  width: number;
  channels: 3;
  count: number;
  items: DemoExportGalleryItem[];
}

/** `export.json`: how the export was made and what the demo measured. */
export interface DemoExportManifest {
  createdAt: string;
  options: { seed: number; epochs: number; identities: number; imagesPerIdentity: number; captionsPerImage: number };
  /** Every option of the run ({@link DEMO_DEFAULTS} with the given ones), for {@link demoExportIsCurrent}. */
  demoOptions: Record<string, unknown>;
  backend: string;
  epochsRun: number;
  cutShort: boolean;
  trainSeconds: number;
  chanceR1: number;
  trained: { R1: number; R5: number; R10: number; mAP: number; mINP: number };
  untrained: { R1: number; R5: number; R10: number; mAP: number; mINP: number };
  files: typeof DEMO_EXPORT_FILES;
}

/** True when `dir` holds a complete export (its `export.json` exists). */
export function demoExportExists(dir: string): boolean {
  return existsSync(join(dir, DEMO_EXPORT_FILES.manifest));
}

/** The run's options as an export records them: {@link DEMO_DEFAULTS} with `options`, without callbacks and vocabulary bytes. */
function recordedOptions(options: DemoOptions): Record<string, unknown> {
  const {
    log: _log,
    trainHooks: _hooks,
    clipVocabulary: _vocabulary,
    progress: _progress,
    ...rest
  } = {
    ...DEMO_DEFAULTS,
    ...options,
  };
  return JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
}

/**
 * True when `dir` holds a complete export made with these options: the same {@link DEMO_DEFAULTS}
 * merged with `options` as when it was written. False when there is none, or when it was made by
 * another recipe (older defaults, another seed or epoch count), so that it should be retrained.
 */
export function demoExportIsCurrent(dir: string, options: DemoOptions = {}): boolean {
  if (!demoExportExists(dir)) return false;
  const manifest = JSON.parse(
    readFileSync(join(dir, DEMO_EXPORT_FILES.manifest), 'utf8'),
  ) as Partial<DemoExportManifest>;
  return JSON.stringify(manifest.demoOptions ?? null) === JSON.stringify(recordedOptions(options));
}

/**
 * Writes a demo run to `dir` (created if needed; an earlier export there is replaced):
 * `model.json` + `group1-shard*.bin` (weights through {@link saveWeights}, reference names and
 * layout), `config.json` (the {@link IRRAConfig}), `vocab.json` ({@link DemoExportVocabulary}),
 * `gallery.bin` + `gallery.json` (the held-out images and their attributes and captions) and last
 * `export.json` ({@link DemoExportManifest}).
 *
 * The vocabulary is rebuilt from the captions of the same SynthPedes generation (`options` must be
 * the ones given to `runDemo`) and checked against the run's own encoder on every test caption.
 *
 * @throws Error when the run used the CLIP vocabulary (the page needs the word vocabulary) or the
 *   rebuilt vocabulary encodes any test caption differently from the run.
 */
export async function writeDemoExport(
  result: DemoResult,
  dir: string,
  options: DemoOptions = {},
): Promise<DemoExportManifest> {
  if (result.tokenizer !== 'synthpedes-words') {
    throw new Error(
      `writeDemoExport(result): expected a run with the SynthPedes word vocabulary (runDemo without clipVocabulary), got tokenizer '${result.tokenizer}'`,
    );
  }
  const o = { ...DEMO_DEFAULTS, ...options };
  const { corpus } = demoSynthPedes(o);
  const vocab = buildSynthVocabulary(corpus);
  const testCaptions = result.test.flatMap((s) => s.captions);
  const mine = vocab.toIds(testCaptions, result.contextLength);
  const theirs = result.encodeText(testCaptions);
  if (vocab.vocabSize !== result.vocabSize || mine.length !== theirs.length || mine.some((v, i) => v !== theirs[i])) {
    throw new Error(
      'writeDemoExport(options): the vocabulary rebuilt from these options does not match the run; pass the options given to runDemo',
    );
  }

  const out = resolve(dir);
  await rm(join(out, DEMO_EXPORT_FILES.manifest), { force: true });
  await mkdir(out, { recursive: true });
  await saveWeights(result.model, `file://${out}`);
  const config: IRRAConfig = result.model.config;
  await writeFile(join(out, DEMO_EXPORT_FILES.config), JSON.stringify(config, null, 1));
  const vocabulary: DemoExportVocabulary = {
    words: vocab.tokens.slice(2, vocab.vocabSize - 3),
    vocabSize: vocab.vocabSize,
    padId: vocab.padId,
    unkId: vocab.unkId,
    maskId: vocab.maskId,
    sotId: vocab.sotId,
    eotId: vocab.eotId,
    contextLength: result.contextLength,
  };
  await writeFile(join(out, DEMO_EXPORT_FILES.vocabulary), JSON.stringify(vocabulary));

  const [h, w] = [result.test[0].height, result.test[0].width];
  const pixels = new Uint8Array(result.test.length * h * w * 3);
  for (const [i, s] of result.test.entries()) pixels.set(s.pixels, i * h * w * 3);
  await writeFile(join(out, DEMO_EXPORT_FILES.galleryPixels), pixels);
  const gallery: DemoExportGallery = {
    height: h,
    width: w,
    channels: 3,
    count: result.test.length,
    items: result.test.map((s, index) => ({
      index,
      pid: s.pid,
      imageId: s.imageId,
      attributes: s.attributes,
      captions: s.captions,
    })),
  };
  await writeFile(join(out, DEMO_EXPORT_FILES.galleryIndex), JSON.stringify(gallery));

  const pick = (r: DemoResult['trained']) => ({ R1: r.R1, R5: r.R5, R10: r.R10, mAP: r.mAP, mINP: r.mINP });
  const manifest: DemoExportManifest = {
    createdAt: new Date().toISOString(),
    options: {
      seed: o.seed,
      epochs: o.epochs,
      identities: o.identities,
      imagesPerIdentity: o.imagesPerIdentity,
      captionsPerImage: o.captionsPerImage,
    },
    demoOptions: recordedOptions(options),
    backend: result.backend,
    epochsRun: result.epochsRun,
    cutShort: result.cutShort,
    trainSeconds: result.trainSeconds,
    chanceR1: result.chanceR1,
    trained: pick(result.trained),
    untrained: pick(result.untrained),
    files: DEMO_EXPORT_FILES,
  };
  await writeFile(join(out, DEMO_EXPORT_FILES.manifest), JSON.stringify(manifest, null, 1));
  return manifest;
}
