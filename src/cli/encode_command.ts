import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadDataset } from '../data/annotations';
import { encodeCaptions } from '../data/batch';
import { readImageFile } from '../data/image';
import { buildTransforms } from '../data/transforms';
import type { IRRA } from '../model/irra';
import { l2NormalizeTensorRows } from '../ops/normalize';
import { serializeSafetensors } from '../weights/safetensors';
import { requireSplit } from './data_check';
import { CHECKPOINT_OPTIONS, EVAL_DEFAULTS } from './eval_command';
import { encodeNpy } from './npy';
import {
  activateBackend,
  COMMON_OPTIONS,
  type CommandIO,
  DATASET_NAMES,
  formatHelp,
  loadModel,
  loadTokenizer,
  type OptionGroup,
  parseOptions,
  processIO,
} from './options';

/** Values of `irra-tfjs encode`'s options. */
export interface EncodeCommandOptions {
  checkpoint: string;
  images?: string[];
  captions?: string;
  split?: 'test' | 'val';
  modality: 'image' | 'text';
  dataset_name: (typeof DATASET_NAMES)[number];
  root_dir: string;
  output: string;
  batch_size: number;
  normalize: boolean;
  img_size: [number, number];
  stride_size: number;
  backend?: string;
  vocab?: string;
}

/** Defaults of `irra-tfjs encode`. */
export const ENCODE_DEFAULTS: Readonly<Omit<EncodeCommandOptions, 'checkpoint' | 'output'>> = Object.freeze({
  modality: 'image',
  dataset_name: EVAL_DEFAULTS.dataset_name,
  root_dir: EVAL_DEFAULTS.root_dir,
  batch_size: 64,
  normalize: false,
  img_size: EVAL_DEFAULTS.img_size,
  stride_size: EVAL_DEFAULTS.stride_size,
});

/** File extensions read from an `--images` folder. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png'];

/** Option groups of `irra-tfjs encode`. */
export const ENCODE_OPTION_GROUPS: readonly OptionGroup[] = [
  CHECKPOINT_OPTIONS,
  {
    title: 'input (exactly one of --images, --captions, --split)',
    options: {
      images: {
        kind: 'strings',
        arg: 'PATH',
        help: `an image file or a folder (its ${IMAGE_EXTENSIONS.join(' ')} files, sorted); repeatable`,
      },
      captions: { kind: 'string', arg: 'FILE', help: 'a text file, one caption per line (empty lines skipped)' },
      split: {
        kind: 'string',
        choices: ['test', 'val'],
        help: 'a split of --dataset_name: its gallery images or captions (--modality), with their pids',
      },
      modality: { kind: 'string', choices: ['image', 'text'], help: 'what --split encodes' },
      dataset_name: { kind: 'string', choices: DATASET_NAMES, help: 'dataset of --split' },
      root_dir: { kind: 'string', arg: 'DIR', help: 'dataset folder of --split (generic: the JSON file)' },
    },
  },
  {
    title: 'output',
    options: {
      output: {
        kind: 'string',
        arg: 'PATH',
        help: "features file (required): .safetensors ('features' [N, embed], 'pids' [N] when known) or .npy (pids beside it as <name>.pids.npy)",
      },
      batch_size: { kind: 'int', min: 1, help: 'images or captions per forward pass' },
      normalize: { kind: 'flag', help: 'L2-normalize each feature (as the evaluator does)' },
    },
  },
  COMMON_OPTIONS,
];

const DESCRIPTION = `
Encodes images or captions with a trained model into global features [N, embed] (float32), saved
as .safetensors or .npy, in input order.`;

/** The help text of `irra-tfjs encode`. */
export function encodeHelp(): string {
  return formatHelp('encode', DESCRIPTION, ENCODE_OPTION_GROUPS, ENCODE_DEFAULTS as unknown as Record<string, unknown>);
}

/** Parses `irra-tfjs encode` arguments (`null` for `--help`). */
export function parseEncodeOptions(argv: readonly string[]): EncodeCommandOptions | null {
  const { help, values } = parseOptions('encode', ENCODE_OPTION_GROUPS, argv);
  if (help) return null;
  if (!values.checkpoint) throw new Error('encode: --checkpoint PATH is required');
  if (!values.output) throw new Error('encode: --output PATH (.safetensors or .npy) is required');
  const ext = extname(values.output as string).toLowerCase();
  if (ext !== '.safetensors' && ext !== '.npy') {
    throw new Error(`encode: --output must end in .safetensors or .npy, got '${values.output}'`);
  }
  const inputs = ['images', 'captions', 'split'].filter((k) => values[k] !== undefined);
  if (inputs.length !== 1) {
    throw new Error(
      `encode: give exactly one of --images, --captions, --split, got ${inputs.length ? inputs.map((k) => `--${k}`).join(' and ') : 'none'}`,
    );
  }
  return { ...ENCODE_DEFAULTS, ...values } as EncodeCommandOptions;
}

/** The image files named by `--images`: files as given, folders expanded to their sorted image files. */
async function listImages(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => null);
    if (!info) throw new Error(`encode: --images: '${p}' does not exist`);
    if (info.isDirectory()) {
      const names = (await readdir(p)).filter((n) => IMAGE_EXTENSIONS.includes(extname(n).toLowerCase())).sort();
      if (names.length === 0) {
        throw new Error(`encode: --images: folder '${p}' has no ${IMAGE_EXTENSIONS.join('/')} files`);
      }
      for (const n of names) files.push(join(p, n));
    } else files.push(p);
  }
  return files;
}

/** Encodes `count` items in batches; returns the features row-major (no tensors left behind). */
async function encodeInBatches(
  count: number,
  batchSize: number,
  embed: number,
  normalize: boolean,
  run: (start: number, end: number) => Promise<tf.Tensor2D>,
): Promise<Float32Array> {
  const out = new Float32Array(count * embed);
  for (let a = 0; a < count; a += batchSize) {
    const b = Math.min(count, a + batchSize);
    const feats = await run(a, b);
    const rows = normalize ? l2NormalizeTensorRows(feats) : tf.clone(feats);
    feats.dispose();
    out.set(await rows.data(), a * embed);
    rows.dispose();
  }
  return out;
}

async function encodeImageFiles(model: IRRA, files: readonly string[], o: EncodeCommandOptions): Promise<Float32Array> {
  const transform = buildTransforms({ imageSize: model.config.imageSize, isTrain: false });
  return encodeInBatches(files.length, o.batch_size, model.config.embedDim, o.normalize, async (a, b) => {
    const pixels = await Promise.all(files.slice(a, b).map((f) => readImageFile(f)));
    return tf.tidy(() => model.encodeImage(tf.stack(pixels.map((p) => transform(p))) as tf.Tensor4D));
  });
}

async function encodeTexts(
  model: IRRA,
  texts: readonly string[],
  o: EncodeCommandOptions,
  tokenizer: Awaited<ReturnType<typeof loadTokenizer>>,
): Promise<Float32Array> {
  const ctx = model.config.contextLength;
  return encodeInBatches(texts.length, o.batch_size, model.config.embedDim, o.normalize, async (a, b) => {
    const ids = encodeCaptions(tokenizer, texts.slice(a, b), ctx);
    return tf.tidy(() => model.encodeText(tf.tensor2d(ids, [b - a, ctx], 'int32')));
  });
}

/** `irra-tfjs encode`: see {@link encodeHelp}. Resolves to the exit code; leaves no tensors behind. */
export async function commandEncode(argv: readonly string[], io: CommandIO = processIO()): Promise<number> {
  const o = parseEncodeOptions(argv);
  if (!o) {
    io.write(`${encodeHelp()}\n`);
    return 0;
  }
  const backend = await activateBackend(o.backend);
  const needsText = o.captions !== undefined || (o.split !== undefined && o.modality === 'text');
  const tokenizer = needsText ? await loadTokenizer('encode', o.vocab) : undefined;
  let sources: string[] | undefined;
  let texts: string[] | undefined;
  let pids: number[] | undefined;
  if (o.images) sources = await listImages(o.images);
  else if (o.captions !== undefined) {
    let text: string;
    try {
      text = await readFile(o.captions, 'utf8');
    } catch (e) {
      throw new Error(`encode: --captions: cannot read '${o.captions}' (${(e as Error).message})`);
    }
    texts = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    if (texts.length === 0) throw new Error(`encode: --captions: '${o.captions}' has no captions`);
  } else {
    const dataset = await loadDataset(o.dataset_name, o.root_dir);
    requireSplit('encode', '--split', dataset, o.split as 'test' | 'val');
    const split = o.split === 'val' ? dataset.val : dataset.test;
    if (o.modality === 'image') {
      sources = split.imgPaths;
      pids = split.imagePids;
    } else {
      texts = split.captions;
      pids = split.captionPids;
    }
  }
  const { model } = await loadModel('encode', o.checkpoint, { imageSize: o.img_size, strideSize: o.stride_size });
  let features: Float32Array;
  let count: number;
  try {
    if (sources) {
      count = sources.length;
      features = await encodeImageFiles(model, sources, o);
    } else {
      const list = texts as string[];
      count = list.length;
      features = await encodeTexts(model, list, o, tokenizer as NonNullable<typeof tokenizer>);
    }
  } finally {
    model.dispose();
  }
  const embed = features.length / count;
  const modality = sources ? 'image' : 'text';
  if (o.output.toLowerCase().endsWith('.npy')) {
    await writeFile(o.output, encodeNpy(features, [count, embed]));
    if (pids) await writeFile(o.output.replace(/\.npy$/i, '.pids.npy'), encodeNpy(Int32Array.from(pids), [count]));
  } else {
    const tensors = new Map<string, tf.Tensor>([['features', tf.tensor2d(features, [count, embed], 'float32')]]);
    if (pids) tensors.set('pids', tf.tensor1d(Int32Array.from(pids), 'int32'));
    try {
      const metadata: Record<string, string> = { modality, checkpoint: o.checkpoint, normalized: String(o.normalize) };
      if (sources) metadata.sources = JSON.stringify(sources);
      await writeFile(o.output, serializeSafetensors(tensors, metadata, { intDtype: 'I64' }));
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }
  io.write(
    `encoded ${count} ${modality === 'image' ? 'images' : 'captions'} → ${o.output} [${count}, ${embed}] (backend ${backend})\n`,
  );
  return 0;
}
