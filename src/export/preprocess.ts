/**
 * `preprocess.json`: what a runtime must do before the exported graphs (resize, normalise,
 * tokenize), so that tools outside this library feed them as the library does.
 */
import type { IRRAConfig } from '../config';
import { TRANSFORM_DEFAULTS } from '../data/transforms';
import { BATCH_AXIS, ONNX_IO_NAMES } from './towers';

/** The file names of an ONNX export folder (`irra-tfjs export --format onnx`), by part. */
export const ONNX_FILES = {
  image: 'image_encoder.onnx',
  text: 'text_encoder.onnx',
  preprocess: 'preprocess.json',
} as const;

/** The contents of `preprocess.json` (snake_case keys, for tools in any language). */
export interface OnnxPreprocess {
  /** Format tag and version of this file. */
  format: 'irra-tfjs-onnx';
  version: 1;
  /** Image preprocessing of `image_encoder.onnx`'s input. */
  image: {
    /** File and input / output names. */
    file: typeof ONNX_FILES.image;
    input: string;
    output: string;
    /** Axis order of the input: `[batch, 3, height, width]`. */
    layout: 'NCHW';
    /** `[height, width]` the images are resized to. */
    size: [number, number];
    /** Resampling: Pillow's bilinear filter (antialiased when shrinking), as torchvision's `Resize` on a PIL image. */
    interpolation: 'bilinear (Pillow)';
    /** RGB channel order, pixels scaled to [0, 1], then `(x - mean) / std` per channel. */
    channels: 'RGB';
    scale: number;
    mean: number[];
    std: number[];
  };
  /** Tokenization of `text_encoder.onnx`'s input. */
  text: {
    file: typeof ONNX_FILES.text;
    input: string;
    output: string;
    /** Tokenizer kind: CLIP's byte-level BPE (`bpe_simple_vocab_16e6.txt.gz`) with IRRA's `<|mask|>`. */
    tokenizer: 'clip-bpe';
    /** Tokens per row: `sot`, the caption's ids, `eot`, zero padding (cut to fit, `eot` kept last). */
    context_length: number;
    vocab_size: number;
    /** Start, end and mask ids; `eot` is the largest id (the graph pools at `argmax(ids)`). */
    special_tokens: { sot: number; eot: number; mask: number };
    /** Padding id. */
    pad: 0;
    /** Input element type. */
    dtype: 'int64';
  };
  /** Both outputs: float32 `[batch, embed_dim]`, not normalised; the score is the cosine. */
  embeddings: { embed_dim: number; normalized: false; similarity: 'cosine'; batch_axis: string };
}

/** `preprocess.json` of a model with `config` (special ids in CLIP's layout: the last three ids). */
export function onnxPreprocess(config: IRRAConfig): OnnxPreprocess {
  const v = config.vocabSize;
  return {
    format: 'irra-tfjs-onnx',
    version: 1,
    image: {
      file: ONNX_FILES.image,
      input: ONNX_IO_NAMES.image.input,
      output: ONNX_IO_NAMES.image.output,
      layout: 'NCHW',
      size: [config.imageSize[0], config.imageSize[1]],
      interpolation: 'bilinear (Pillow)',
      channels: 'RGB',
      scale: 1 / 255,
      mean: [...TRANSFORM_DEFAULTS.mean],
      std: [...TRANSFORM_DEFAULTS.std],
    },
    text: {
      file: ONNX_FILES.text,
      input: ONNX_IO_NAMES.text.input,
      output: ONNX_IO_NAMES.text.output,
      tokenizer: 'clip-bpe',
      context_length: config.contextLength,
      vocab_size: v,
      special_tokens: { sot: v - 2, eot: v - 1, mask: v - 3 },
      pad: 0,
      dtype: 'int64',
    },
    embeddings: { embed_dim: config.embedDim, normalized: false, similarity: 'cosine', batch_axis: BATCH_AXIS },
  };
}
