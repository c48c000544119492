/**
 * The checkpoint and gallery of the page's "Open your own" end-to-end test, made here and cached
 * (run as a script: `tsx web/test/own_checkpoint.ts [--force]`; skipped when the cache is complete).
 *
 * The model is the demo's small IRRA (`runDemo`, 64×24 images, 8-pixel patches and stride) trained
 * on SynthPedes captions tokenized by CLIP's BPE (`clipVocabulary`). The demo trains over a compact
 * vocabulary (the CLIP ids its corpus uses, renumbered); the checkpoint is written over CLIP's full
 * vocabulary of 49,408 ids, which makes it the same function of CLIP token ids: every token row
 * goes to its CLIP id, every id the corpus never uses gets the row the compact encoder maps it to
 * (row 0), and the MLM head scores unused ids at -1e4. So `ClipTokenizer.load()` drives it, as it
 * drives any IRRA checkpoint. Written twice: `saveSafetensors` output, and a `.pth` laid out as
 * IRRA saves `{"model": state_dict}` (the tests' torch-pickle writer). The held-out images are
 * written as PNGs, with their person ids and captions in `gallery.json`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/backends';
import { type DemoOptions, demoSynthPedes, formatDemoTable, runDemo } from '../../src/cli/demo';
import { ClipTokenizer, IRRA, saveSafetensors } from '../../src/index';
import { readShippedVocabulary } from '../../src/tokenizer/shipped_vocabulary';
import { pngBytes } from '../../test/helpers/search_fixtures';
import { bytesOf, stateDictPickle, type TensorSpec, torchZip } from '../../test/helpers/torch_pickle';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Where the checkpoint is cached (ignored by git, outside the page's public folder) and its files. */
export const OWN_CHECKPOINT = {
  dir: join(repo, 'node_modules/.cache/irra-tfjs-web/own'),
  safetensors: 'own.safetensors',
  pth: 'own.pth',
  gallery: 'gallery',
  galleryJson: 'gallery.json',
  /** Written last: marks a complete cache. */
  manifest: 'own.json',
} as const;

/** The training run: the demo's recipe (`runDemo`), shortened, with its model size pinned. */
export const OWN_TRAINING = {
  seed: 0,
  epochs: 5,
  identities: 120,
  imageSize: [64, 24] as [number, number],
  width: 64,
  layers: 2,
} satisfies DemoOptions;

/** Image geometry of the model (what the page's inputs must be set to; runDemo's patch and stride are 8). */
export const OWN_GEOMETRY = { imageSize: OWN_TRAINING.imageSize, strideSize: 8 } as const;

/** One gallery image as `gallery.json` lists it. */
export interface OwnGalleryItem {
  file: string;
  pid: number;
  captions: string[];
}

/** `own.json`. */
export interface OwnManifest {
  training: typeof OWN_TRAINING;
  vocabSize: number;
  compactVocabSize: number;
  contextLength: number;
  trainSeconds: number;
  trainedR1: number;
  chanceR1: number;
}

/** CLIP id → compact id, read off the two encodings of the corpus (they must agree token by token). */
function clipToCompact(
  tokenizer: ClipTokenizer,
  corpus: string[],
  encodeCompact: (texts: string[]) => Int32Array,
  contextLength: number,
  compactVocab: number,
): Map<number, number> {
  const clip = tokenizer.tokenizeToArray(corpus, { contextLength, truncate: true });
  const compact = encodeCompact(corpus);
  const map = new Map<number, number>([[0, 0]]);
  for (let i = 0; i < clip.length; i++) {
    const known = map.get(clip[i]);
    if (known !== undefined && known !== compact[i]) {
      throw new Error(`CLIP id ${clip[i]} maps to compact ids ${known} and ${compact[i]}`);
    }
    map.set(clip[i], compact[i]);
  }
  // the compact vocabulary ends with CLIP's special tokens: mask, start, end
  map.set(tokenizer.maskId, compactVocab - 3);
  return map;
}

/** Rows of a `[rows, width]` float32 matrix picked by `rowOf(id)` for ids 0 … size − 1 (null: `fill`). */
function remapRows(
  data: Float32Array,
  width: number,
  size: number,
  rowOf: (id: number) => number | undefined,
  fill = 0,
): Float32Array {
  const out = new Float32Array(size * width).fill(fill);
  for (let id = 0; id < size; id++) {
    const r = rowOf(id);
    if (r !== undefined) out.set(data.subarray(r * width, (r + 1) * width), id * width);
  }
  return out;
}

/** The compact-vocabulary state dict rewritten over CLIP's full vocabulary (new tensors; the input stays). */
function expandVocabulary(
  state: Map<string, tf.Tensor>,
  toCompact: Map<number, number>,
  compactVocab: number,
  clipVocab: number,
): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, t] of state) {
    const data = t.dataSync() as Float32Array;
    if (name === 'base_model.token_embedding.weight') {
      const w = t.shape[1] as number;
      out.set(
        name,
        tf.tensor2d(
          remapRows(data, w, clipVocab, (id) => toCompact.get(id) ?? 0),
          [clipVocab, w],
        ),
      );
    } else if (name === 'mlm_head.fc.weight') {
      const w = t.shape[1] as number;
      out.set(
        name,
        tf.tensor2d(
          remapRows(data, w, clipVocab, (id) => toCompact.get(id)),
          [clipVocab, w],
        ),
      );
    } else if (name === 'mlm_head.fc.bias') {
      out.set(name, tf.tensor1d(remapRows(data, 1, clipVocab, (id) => toCompact.get(id), -1e4)));
    } else if (t.shape[0] === compactVocab && t.rank <= 2) {
      throw new Error(`${name} [${t.shape}] looks vocabulary-sized but is not remapped`);
    } else {
      out.set(name, tf.clone(t));
    }
  }
  return out;
}

/**
 * Checks that the expanded model encodes CLIP ids as the trained one encodes compact ids (max
 * absolute difference of the text features ≤ 1e-5), for `captions`; returns that difference.
 */
async function checkSameTextFeatures(
  trained: IRRA,
  full: Map<string, tf.Tensor>,
  captions: string[],
  tokenizer: ClipTokenizer,
  result: { encodeText: (texts: string[]) => Int32Array; contextLength: number },
): Promise<number> {
  const expanded = await IRRA.load(full, OWN_GEOMETRY);
  try {
    const l = result.contextLength;
    const n = captions.length;
    const diff = tf.tidy(() => {
      const a = trained.encodeText(tf.tensor2d(result.encodeText(captions), [n, l], 'int32'));
      const clipIds = tokenizer.tokenizeToArray(captions, { contextLength: l, truncate: true });
      const b = expanded.encodeText(tf.tensor2d(clipIds, [n, l], 'int32'));
      return tf.max(tf.abs(tf.sub(a, b)));
    });
    const d = (await diff.data())[0];
    diff.dispose();
    if (!(d <= 1e-5))
      throw new Error(`the CLIP-vocabulary model's text features differ from the trained one's by ${d}`);
    return d;
  } finally {
    expanded.dispose();
  }
}

/** A `.pth` as IRRA's `torch.save({"model": state_dict})` lays it out (float32 tensors only). */
function torchCheckpoint(state: Map<string, tf.Tensor>): Uint8Array {
  const specs: TensorSpec[] = [];
  const storages: Record<string, Uint8Array> = {};
  let key = 0;
  for (const [name, t] of state) {
    if (t.dtype !== 'float32') throw new Error(`${name}: ${t.dtype} tensors are not written`);
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    specs.push({
      name,
      key: String(key),
      storageType: 'FloatStorage',
      numel: t.size,
      offset: 0,
      shape: t.shape,
      stride,
    });
    storages[String(key)] = bytesOf(t.dataSync() as Float32Array);
    key++;
  }
  return torchZip(stateDictPickle(specs, 'model'), storages);
}

/** True when `dir` holds a complete cache made with the current {@link OWN_TRAINING}. */
export function ownCheckpointExists(dir: string = OWN_CHECKPOINT.dir): boolean {
  const path = join(dir, OWN_CHECKPOINT.manifest);
  if (!existsSync(path)) return false;
  const { training } = JSON.parse(readFileSync(path, 'utf8')) as OwnManifest;
  return JSON.stringify(training) === JSON.stringify(OWN_TRAINING);
}

/** Trains and writes everything to `dir` (an earlier cache there is replaced). */
export async function writeOwnCheckpoint(dir: string = OWN_CHECKPOINT.dir, log = console.log): Promise<OwnManifest> {
  const vocabulary = await readShippedVocabulary();
  const tokenizer = ClipTokenizer.fromGzip(vocabulary);
  const t0 = performance.now();
  const result = await runDemo({ ...OWN_TRAINING, clipVocabulary: vocabulary, progress: 'lines', log });
  try {
    log(formatDemoTable(result));
    const { corpus } = demoSynthPedes(OWN_TRAINING);
    const toCompact = clipToCompact(tokenizer, corpus, result.encodeText, result.contextLength, result.vocabSize);
    const state = result.model.stateDict();
    const full = expandVocabulary(state, toCompact, result.vocabSize, tokenizer.vocabSize);
    tf.dispose([...state.values()]);
    const diff = await checkSameTextFeatures(result.model, full, corpus.slice(0, 64), tokenizer, result);
    log(`own checkpoint: text features over CLIP ids vs compact ids: max |difference| ${diff.toExponential(2)}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, OWN_CHECKPOINT.gallery), { recursive: true });
    try {
      writeFileSync(join(dir, OWN_CHECKPOINT.safetensors), saveSafetensors(full));
      writeFileSync(join(dir, OWN_CHECKPOINT.pth), torchCheckpoint(full));
    } finally {
      tf.dispose([...full.values()]);
    }
    const items: OwnGalleryItem[] = result.test.map((s) => {
      const file = `p${String(s.pid).padStart(3, '0')}_${String(s.imageId).padStart(4, '0')}.png`;
      writeFileSync(
        join(dir, OWN_CHECKPOINT.gallery, file),
        pngBytes({ data: s.pixels, height: s.height, width: s.width }),
      );
      return { file, pid: s.pid, captions: s.captions };
    });
    writeFileSync(join(dir, OWN_CHECKPOINT.galleryJson), JSON.stringify(items, null, 1));
    const manifest: OwnManifest = {
      training: OWN_TRAINING,
      vocabSize: tokenizer.vocabSize,
      compactVocabSize: result.vocabSize,
      contextLength: result.contextLength,
      trainSeconds: result.trainSeconds,
      trainedR1: result.trained.R1,
      chanceR1: result.chanceR1,
    };
    writeFileSync(join(dir, OWN_CHECKPOINT.manifest), JSON.stringify(manifest, null, 1));
    log(`own checkpoint: wrote ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return manifest;
  } finally {
    result.model.dispose();
  }
}

/** The cached manifest and gallery list. */
export function readOwnCheckpoint(dir: string = OWN_CHECKPOINT.dir): {
  manifest: OwnManifest;
  items: OwnGalleryItem[];
} {
  return {
    manifest: JSON.parse(readFileSync(join(dir, OWN_CHECKPOINT.manifest), 'utf8')) as OwnManifest,
    items: JSON.parse(readFileSync(join(dir, OWN_CHECKPOINT.galleryJson), 'utf8')) as OwnGalleryItem[],
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { force: { type: 'boolean' } }, strict: true });
  if (!values.force && ownCheckpointExists()) {
    console.log(`own checkpoint: ${OWN_CHECKPOINT.dir} is complete (use --force to retrain)`);
    return;
  }
  const backend = await selectBackend(['wasm', 'cpu']);
  console.log(`own checkpoint: training on ${backend} (${JSON.stringify(OWN_TRAINING)}, CLIP BPE vocabulary)`);
  await writeOwnCheckpoint();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(`own checkpoint: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
