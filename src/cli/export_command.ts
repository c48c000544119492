import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { EXPORT_ONNX_DEFAULTS, exportOnnx, type OnnxPart } from '../export/onnx';
import { ONNX_FILES, onnxPreprocess } from '../export/preprocess';
import { ONNX_IO_NAMES } from '../export/towers';
import type { IRRA } from '../model/irra';
import { loadOnnxRuntime } from '../search/engines/onnxruntime_loader';
import { CHECKPOINT_OPTIONS, EVAL_DEFAULTS } from './eval_command';
import {
  activateBackend,
  COMMON_OPTIONS,
  type CommandIO,
  formatHelp,
  loadModel,
  type OptionGroup,
  parseOptions,
  processIO,
} from './options';

/** Values of `irra-tfjs export`'s options. */
export interface ExportCommandOptions {
  checkpoint: string;
  out: string;
  format: 'onnx';
  opset: number;
  img_size: [number, number];
  stride_size: number;
  verify: boolean;
  backend?: string;
}

/** Defaults of `irra-tfjs export`. */
export const EXPORT_DEFAULTS: Readonly<Omit<ExportCommandOptions, 'checkpoint' | 'out'>> = Object.freeze({
  format: 'onnx',
  opset: EXPORT_ONNX_DEFAULTS.opset,
  img_size: EVAL_DEFAULTS.img_size,
  stride_size: EVAL_DEFAULTS.stride_size,
  verify: false,
});

/** Images and captions of the `--verify` check (random, fixed seed). */
const VERIFY_BATCH = 2;
const VERIFY_SEED = 14;

/** Option groups of `irra-tfjs export`. */
export const EXPORT_OPTION_GROUPS: readonly OptionGroup[] = [
  CHECKPOINT_OPTIONS,
  {
    title: 'output',
    options: {
      out: {
        kind: 'string',
        arg: 'DIR',
        help: `folder to write ${ONNX_FILES.image}, ${ONNX_FILES.text} and ${ONNX_FILES.preprocess} into (created if missing; required)`,
      },
      format: { kind: 'string', choices: ['onnx'], help: 'export format' },
      opset: {
        kind: 'int',
        min: EXPORT_ONNX_DEFAULTS.minOpset,
        help: `ONNX opset, ${EXPORT_ONNX_DEFAULTS.minOpset} to ${EXPORT_ONNX_DEFAULTS.maxOpset} (below 17 LayerNorm is spelled out)`,
      },
      verify: {
        kind: 'flag',
        help: `run the written graphs with onnxruntime-node on ${VERIFY_BATCH} random images and captions and print their largest difference from tfjs`,
      },
    },
  },
  { title: 'runtime', options: { backend: COMMON_OPTIONS.options.backend, help: COMMON_OPTIONS.options.help } },
];

const DESCRIPTION = `
Exports a checkpoint's image and text towers as ONNX graphs, for onnxruntime, Triton or any ONNX
runtime, into --out:
  image_encoder.onnx  pixel_values float32 NCHW [batch, 3, H, W], CLIP-normalised
                      → image_embeds float32 [batch, embed]
  text_encoder.onnx   input_ids int64 [batch, context], zero-padded
                      → text_embeds float32 [batch, embed] (at the end-of-text token)
  preprocess.json     image size, mean, std, resampling, tokenizer, context length, special ids
The batch axis is dynamic; the features are not normalised (the score is their cosine).`;

/** The help text of `irra-tfjs export`. */
export function exportHelp(): string {
  return formatHelp('export', DESCRIPTION, EXPORT_OPTION_GROUPS, EXPORT_DEFAULTS as unknown as Record<string, unknown>);
}

/** Parses `irra-tfjs export` arguments (`null` for `--help`). */
export function parseExportOptions(argv: readonly string[]): ExportCommandOptions | null {
  const { help, values } = parseOptions('export', EXPORT_OPTION_GROUPS, argv);
  if (help) return null;
  if (!values.checkpoint) throw new Error('export: --checkpoint PATH is required');
  if (!values.out) throw new Error('export: --out DIR is required');
  const opset = values.opset as number | undefined;
  if (opset !== undefined && opset > EXPORT_ONNX_DEFAULTS.maxOpset) {
    throw new Error(
      `export: --opset: expected a value from ${EXPORT_ONNX_DEFAULTS.minOpset} to ${EXPORT_ONNX_DEFAULTS.maxOpset}, got '${opset}'`,
    );
  }
  return { ...EXPORT_DEFAULTS, ...values } as ExportCommandOptions;
}

/** Max |a − b| / max |b|. */
function relativeDifference(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/**
 * Runs each written graph with onnxruntime-node on random inputs and returns, per part, the
 * largest difference from the tfjs model relative to the largest tfjs feature.
 */
async function verify(model: IRRA, graphs: Record<OnnxPart, Uint8Array>): Promise<Record<OnnxPart, number>> {
  const ort = await loadOnnxRuntime('onnxruntime-node');
  const c = model.config;
  const [h, w] = c.imageSize;
  const b = VERIFY_BATCH;
  const l = c.contextLength;
  const nchw = tf.tidy(() => tf.randomNormal([b, 3, h, w], 0, 1, 'float32', VERIFY_SEED).dataSync() as Float32Array);
  const ids = new Int32Array(b * l);
  for (let r = 0; r < b; r++) {
    const eotAt = Math.min(l - 1, 2 + 3 * r);
    for (let i = 0; i < eotAt; i++) ids[r * l + i] = (r * 31 + i * 7) % (c.vocabSize - 1);
    ids[r * l + eotAt] = c.vocabSize - 1;
  }
  const want = tf.tidy(() => ({
    image: model.encodeImage(tf.transpose(tf.tensor4d(nchw, [b, 3, h, w]), [0, 2, 3, 1])).dataSync() as Float32Array,
    text: model.encodeText(tf.tensor2d(ids, [b, l], 'int32')).dataSync() as Float32Array,
  }));
  const feeds = {
    image: new ort.Tensor('float32', nchw, [b, 3, h, w]),
    text: new ort.Tensor(
      'int64',
      BigInt64Array.from(ids, (v) => BigInt(v)),
      [b, l],
    ),
  };
  const out = {} as Record<OnnxPart, number>;
  for (const part of ['image', 'text'] as const) {
    const session = await ort.InferenceSession.create(graphs[part]);
    try {
      const result = await session.run({ [ONNX_IO_NAMES[part].input]: feeds[part] });
      out[part] = relativeDifference(result[ONNX_IO_NAMES[part].output].data as Float32Array, want[part]);
    } finally {
      await session.release();
    }
  }
  return out;
}

const mb = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MB`;

/** `irra-tfjs export`: see {@link exportHelp}. Resolves to the exit code; leaves no tensors behind. */
export async function commandExport(argv: readonly string[], io: CommandIO = processIO()): Promise<number> {
  const o = parseExportOptions(argv);
  if (!o) {
    io.write(`${exportHelp()}\n`);
    return 0;
  }
  const existing = await stat(o.out).catch(() => null);
  if (existing && !existing.isDirectory()) throw new Error(`export: --out '${o.out}' exists and is not a folder`);
  const backend = await activateBackend(o.backend);
  const { model } = await loadModel('export', o.checkpoint, { imageSize: o.img_size, strideSize: o.stride_size });
  try {
    const c = model.config;
    const graphs = {
      image: exportOnnx(model, { part: 'image', opset: o.opset }),
      text: exportOnnx(model, { part: 'text', opset: o.opset }),
    };
    await mkdir(o.out, { recursive: true });
    for (const part of ['image', 'text'] as const) await writeFile(join(o.out, ONNX_FILES[part]), graphs[part]);
    await writeFile(join(o.out, ONNX_FILES.preprocess), `${JSON.stringify(onnxPreprocess(c), null, 2)}\n`);
    io.write(
      `exported ${o.checkpoint} (${c.imageSize.join('×')}, stride ${c.strideSize}, embed ${c.embedDim}; backend ${backend}) → ${o.out}/\n` +
        `  ${ONNX_FILES.image}  ${mb(graphs.image.length)}  ${ONNX_IO_NAMES.image.input} float32 [batch, 3, ${c.imageSize.join(', ')}] → ${ONNX_IO_NAMES.image.output} [batch, ${c.embedDim}]\n` +
        `  ${ONNX_FILES.text}  ${mb(graphs.text.length)}  ${ONNX_IO_NAMES.text.input} int64 [batch, ${c.contextLength}] → ${ONNX_IO_NAMES.text.output} [batch, ${c.embedDim}]\n` +
        `  ${ONNX_FILES.preprocess}\n`,
    );
    if (o.verify) {
      const rel = await verify(model, graphs);
      io.write(
        `verified with onnxruntime-node on ${VERIFY_BATCH} random images and captions: max|onnx − tfjs| / max|tfjs| = ` +
          `${rel.image.toExponential(2)} (image), ${rel.text.toExponential(2)} (text)\n`,
      );
    }
  } finally {
    model.dispose();
  }
  return 0;
}
