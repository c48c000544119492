/**
 * Image sources of person search and their preprocessing: the reference's test transform
 * (Pillow-exact bilinear resize to the model's image size, `ToTensor`, CLIP `Normalize`) computed
 * on the host in float32, into NHWC rows ready for an {@link EncoderEngine}.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type DecodedImage, decodeImage, decodeImageBrowser } from '../data/image';
import { resizeBilinearPil, TRANSFORM_DEFAULTS } from '../data/transforms';
import { nodeFs } from '../util/node';

/** 8-bit RGBA pixels as browsers hold them (`ImageData`, or any object of that shape). */
export interface RgbaPixels {
  /** RGBA bytes, `width × height × 4`. */
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/**
 * One gallery image:
 * - a Node path or a URL (`http(s):`, `file:`, `data:`, `blob:`);
 * - encoded bytes (`Uint8Array`/`ArrayBuffer`/`Blob`/`File`): JPEG and PNG always, WebP where
 *   the optional `sharp` package is installed (Node);
 * - decoded pixels: a {@link DecodedImage} (RGB), `ImageData` or RGBA pixels, and in browsers an
 *   `HTMLImageElement`, `ImageBitmap`, `HTMLCanvasElement` or `OffscreenCanvas`;
 * - a float32 tensor `[H, W, 3]` already preprocessed (normalised, at the model's image size).
 */
export type ImageSource =
  | string
  | URL
  | Uint8Array
  | ArrayBuffer
  | Blob
  | DecodedImage
  | RgbaPixels
  | tf.Tensor3D
  | ImageBitmap
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas;

/** Which decoder reads encoded bytes: the built-in pure-JS ones, or `sharp` (Node, optional). */
export type ImageDecoder = 'auto' | 'builtin' | 'sharp';

/** The reference's test transform: target size and CLIP normalisation. */
export interface Preprocessing {
  /** `[height, width]` of the model's images. */
  imageSize: [number, number];
  /** Per-channel mean, RGB. */
  mean: readonly number[];
  /** Per-channel standard deviation, RGB. */
  std: readonly number[];
}

/** CLIP's normalisation at a given image size. */
export function clipPreprocessing(imageSize: [number, number]): Preprocessing {
  return { imageSize: [imageSize[0], imageSize[1]], mean: TRANSFORM_DEFAULTS.mean, std: TRANSFORM_DEFAULTS.std };
}

/** The id a source gets when the caller gives none: a path or URL itself, a File's (relative) name. */
export function defaultImageId(source: ImageSource, index: number): string {
  if (typeof source === 'string') return source;
  if (source instanceof URL) return source.href;
  if (typeof File !== 'undefined' && source instanceof File) {
    const relative = (source as File & { webkitRelativePath?: string }).webkitRelativePath;
    return relative || source.name;
  }
  throw new Error(`addImages: image ${index} is not a path, URL or File, so it has no default id; pass options.ids`);
}

/** A short description of a source, for error messages. */
export function describeImageSource(source: ImageSource): string {
  if (typeof source === 'string') return `'${source}'`;
  if (source instanceof URL) return `'${source.href}'`;
  if (typeof File !== 'undefined' && source instanceof File) return `file '${source.name}'`;
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return `${source.byteLength} bytes`;
  if (source instanceof tf.Tensor) return `a ${source.dtype} tensor [${source.shape}]`;
  return Object.prototype.toString.call(source);
}

const isWebp = (b: Uint8Array): boolean =>
  b.length >= 12 &&
  b[0] === 0x52 &&
  b[1] === 0x49 &&
  b[2] === 0x46 &&
  b[3] === 0x46 &&
  b[8] === 0x57 &&
  b[9] === 0x45 &&
  b[10] === 0x42 &&
  b[11] === 0x50;

type Sharp = (input: Uint8Array) => {
  removeAlpha(): ReturnType<Sharp>;
  toColourspace(space: string): ReturnType<Sharp>;
  raw(): ReturnType<Sharp>;
  toBuffer(o: {
    resolveWithObject: true;
  }): Promise<{ data: Uint8Array; info: { width: number; height: number; channels: number } }>;
};

let sharpModule: Promise<Sharp | null> | undefined;

/** The optional `sharp` package, or null when it is not installed. */
export function loadSharp(): Promise<Sharp | null> {
  if (!sharpModule) {
    const specifier = 'sharp';
    sharpModule = import(/* @vite-ignore */ /* webpackIgnore: true */ specifier).then(
      (m) => ((m as { default?: Sharp }).default ?? (m as unknown as Sharp)) as Sharp,
      () => null,
    );
  }
  return sharpModule;
}

async function decodeWithSharp(bytes: Uint8Array): Promise<DecodedImage> {
  const sharp = await loadSharp();
  if (!sharp) throw new Error('decoding this format needs the optional sharp package: npm install sharp');
  const { data, info } = await sharp(bytes)
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`sharp returned ${info.channels} channels, expected 3`);
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    height: info.height,
    width: info.width,
  };
}

/** Encoded bytes → 8-bit RGB: PNG/JPEG with the built-in decoders (or sharp on request), WebP with sharp. */
export async function decodeBytes(bytes: Uint8Array, decoder: ImageDecoder = 'auto'): Promise<DecodedImage> {
  if (decoder === 'sharp' || isWebp(bytes)) {
    if (decoder === 'builtin') throw new Error('WebP needs the sharp decoder (decoder: "builtin" was asked)');
    return decodeWithSharp(bytes);
  }
  return decodeImage(bytes);
}

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

function rgbaToRgb(p: RgbaPixels): DecodedImage {
  const { width, height, data } = p;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || data.length !== width * height * 4) {
    throw new Error(`RGBA pixels must hold width × height × 4 = ${width * height * 4} bytes, got ${data.length}`);
  }
  const out = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 4, j += 3) {
    out[j] = data[i];
    out[j + 1] = data[i + 1];
    out[j + 2] = data[i + 2];
  }
  return { data: out, height, width };
}

/** What {@link readImageSource} gives: 8-bit pixels to preprocess, or rows already preprocessed. */
export type ReadImage = { kind: 'pixels'; image: DecodedImage } | { kind: 'preprocessed'; pixels: Float32Array };

/**
 * Reads one source into 8-bit RGB pixels (or a preprocessed tensor's values).
 * @throws Error when the source cannot be read or decoded, or a tensor has the wrong shape.
 */
export async function readImageSource(
  source: ImageSource,
  pre: Preprocessing,
  decoder: ImageDecoder = 'auto',
): Promise<ReadImage> {
  if (source instanceof tf.Tensor) {
    const [h, w] = pre.imageSize;
    if (
      source.rank !== 3 ||
      source.dtype !== 'float32' ||
      source.shape[0] !== h ||
      source.shape[1] !== w ||
      source.shape[2] !== 3
    ) {
      throw new Error(
        `a preprocessed image tensor must be float32 [${h}, ${w}, 3], got ${source.dtype} [${source.shape}]`,
      );
    }
    return { kind: 'preprocessed', pixels: (await source.data()) as Float32Array };
  }
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    return {
      kind: 'pixels',
      image: await decodeBytes(source instanceof Uint8Array ? source : new Uint8Array(source), decoder),
    };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    if (isNode())
      return { kind: 'pixels', image: await decodeBytes(new Uint8Array(await source.arrayBuffer()), decoder) };
    return { kind: 'pixels', image: await decodeImageBrowser(source) };
  }
  if (typeof source === 'string' || source instanceof URL) {
    const text = source instanceof URL ? source.href : source;
    if (isNode()) {
      let bytes: Uint8Array;
      if (/^(https?|data|blob):/i.test(text)) {
        const res = await fetch(text);
        if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
        bytes = new Uint8Array(await res.arrayBuffer());
      } else {
        const fs = await nodeFs();
        bytes = new Uint8Array(await fs.readFile(/^file:/i.test(text) ? new URL(text) : text));
      }
      return { kind: 'pixels', image: await decodeBytes(bytes, decoder) };
    }
    return { kind: 'pixels', image: await decodeImageBrowser(text) };
  }
  const obj = source as { data?: unknown; width: number; height: number };
  if (obj && typeof obj === 'object' && (obj.data instanceof Uint8Array || obj.data instanceof Uint8ClampedArray)) {
    const { width, height, data } = obj;
    if (data instanceof Uint8Array && data.length === width * height * 3) {
      return { kind: 'pixels', image: { data, width, height } };
    }
    return { kind: 'pixels', image: rgbaToRgb({ data, width, height }) };
  }
  if (!isNode()) {
    return {
      kind: 'pixels',
      image: await decodeImageBrowser(source as ImageBitmap | HTMLImageElement | HTMLCanvasElement),
    };
  }
  throw new Error(`unsupported image source ${describeImageSource(source)}`);
}

/**
 * The reference's test transform on the host, in float32 as torchvision computes it: Pillow
 * bilinear resize to `imageSize`, then `(x / 255 - mean) / std` per channel, written NHWC into
 * `out` at `offset` (floats). Every operation is rounded to float32 as tfjs and PyTorch do.
 */
export function preprocessInto(image: DecodedImage, pre: Preprocessing, out: Float32Array, offset: number): void {
  const [h, w] = pre.imageSize;
  const resized = image.height === h && image.width === w ? image : resizeBilinearPil(image, [h, w]);
  const f = Math.fround;
  const mean = pre.mean.map(f);
  const std = pre.std.map(f);
  const d = resized.data;
  for (let i = 0; i < h * w * 3; i++) {
    const c = i % 3;
    out[offset + i] = f(f(f(d[i] / 255) - mean[c]) / std[c]);
  }
}
