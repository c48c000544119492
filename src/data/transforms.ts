/**
 * Image transforms as the reference composes them (`datasets/build.py build_transforms`):
 *
 * | split | steps |
 * |---|---|
 * | eval | Resize(384×128) → ToTensor → Normalize(CLIP) |
 * | train | Resize → RandomHorizontalFlip(0.5) → ToTensor → Normalize |
 * | train, `aug` | Resize → RandomHorizontalFlip(0.5) → Pad(10) → RandomCrop(384×128) → ToTensor → Normalize → RandomErasing(p 0.5, scale 0.02–0.4, ratio 0.3–3.3, value = CLIP mean) |
 *
 * Faithful details: the resize is Pillow's bilinear resample (what torchvision's `Resize` does to
 * a PIL image: a triangle filter widened by the downscale factor, i.e. antialiased, horizontal
 * pass first, 8-bit rounding after each pass, 22-bit fixed-point weights) re-implemented in
 * JavaScript on the 8-bit pixels, so it matches PIL rather than `tf.image.resizeBilinear` (which
 * does not antialias when shrinking). Padding fills 0 (black) before normalization. Random
 * erasing runs *after* Normalize, so the erased box holds the raw numbers of the CLIP mean
 * (0.481, 0.458, 0.408) in normalized space — the reference's behaviour, kept on purpose.
 *
 * Where it runs: resize, flip and pad + crop are exact permutations/filters of the 8-bit pixels
 * in JavaScript (tfjs's cpu backend is slow at a `reverse` or `slice` of a whole image;
 * docs/performance.md); ToTensor + Normalize and random erasing are tensor ops in `tf.tidy`.
 *
 * Randomness: every decision is drawn from the caller's {@link Rng} in a fixed order (flip, crop
 * top, crop left, erase gate, then per erase attempt area and log-ratio, then box top and left),
 * so a seed reproduces the batch exactly. The draws follow torchvision's distributions, not its
 * random stream.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DecodedImage } from './image';
import { type Rng, randInt, uniform } from './random';

/** Defaults of the reference's `build_transforms` (also used by the docs). */
export const TRANSFORM_DEFAULTS = {
  /** Output `[height, width]` (reference `img_size`). */
  imageSize: [384, 128] as readonly [number, number],
  /** CLIP normalization mean, RGB. */
  mean: [0.48145466, 0.4578275, 0.40821073] as readonly number[],
  /** CLIP normalization std, RGB. */
  std: [0.26862954, 0.26130258, 0.27577711] as readonly number[],
  /** Probability of a horizontal flip (training). */
  flipProb: 0.5,
  /** Zero padding on each side before the random crop (`aug`). */
  padding: 10,
  /** Probability of random erasing (`aug`). */
  eraseProb: 0.5,
  /** Range of the erased area as a fraction of the image. */
  eraseScale: [0.02, 0.4] as readonly [number, number],
  /** Range of the erased box's aspect ratio (height / width), sampled log-uniformly. */
  eraseRatio: [0.3, 3.3] as readonly [number, number],
  /** Attempts to fit an erasing box before giving up (torchvision: 10). */
  eraseAttempts: 10,
};

/** The random decisions of one training transform (all null/false for eval). */
export interface TransformParams {
  /** Mirror left–right. */
  flip: boolean;
  /** Top-left corner of the crop inside the padded image, or null when not cropping. */
  crop: { top: number; left: number } | null;
  /** Erased box in output pixels, or null for no erasing. */
  erase: { top: number; left: number; height: number; width: number } | null;
}

/** Options of {@link buildTransforms}. */
export interface TransformOptions {
  /** Output `[height, width]`; default {@link TRANSFORM_DEFAULTS}.imageSize. */
  imageSize?: readonly [number, number];
  /** Use the augmentations of the reference's `--img_aug` (pad + crop + erasing); default false. */
  aug?: boolean;
  /** Training transform (random flip, and `aug` if set) or eval transform (resize + normalize); default true. */
  isTrain?: boolean;
  /** Default random source for training transforms; each call may pass its own. Required when `isTrain`. */
  rng?: Rng;
  /** Normalization mean, RGB; default CLIP's. */
  mean?: readonly number[];
  /** Normalization std, RGB; default CLIP's. */
  std?: readonly number[];
}

/** A transform: an HWC image (8-bit {@link DecodedImage}, or a tensor of 0–255 values) → normalized `[H, W, 3]` float32 (caller owns). */
export type ImageTransform = (image: DecodedImage | tf.Tensor3D, rng?: Rng) => tf.Tensor3D;

const PRECISION_BITS = 22;

function checkSize(size: readonly [number, number], name: string): void {
  if (!Array.isArray(size) || size.length !== 2 || !size.every((s) => Number.isInteger(s) && s > 0)) {
    throw new Error(`${name}: expected [height, width] of positive integers, got ${JSON.stringify(size)}`);
  }
}

function checkImage(image: DecodedImage, name: string): void {
  const { data, height, width } = image;
  if (
    !(data instanceof Uint8Array) ||
    !Number.isInteger(height) ||
    !Number.isInteger(width) ||
    height < 1 ||
    width < 1
  ) {
    throw new Error(`${name}: expected { data: Uint8Array, height, width } with positive integer sizes`);
  }
  if (data.length !== height * width * 3) {
    throw new Error(
      `${name}: data must hold height*width*3 = ${height * width * 3} RGB bytes for ${height}×${width}, got ${data.length}`,
    );
  }
}

/** Pillow `precompute_coeffs` for the bilinear (triangle) filter, weights in 22-bit fixed point. */
function bilinearCoeffs(
  inSize: number,
  outSize: number,
): { start: Int32Array; count: Int32Array; weights: Int32Array[] } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights: Int32Array[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = new Float64Array(xmax);
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const d = Math.abs((x + xmin - center + 0.5) / filterScale);
      k[x] = d < 1 ? 1 - d : 0;
      total += k[x];
    }
    const fixed = new Int32Array(xmax);
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? k[x] / total : k[x];
      fixed[x] = Math.trunc(w < 0 ? -0.5 + w * 2 ** PRECISION_BITS : 0.5 + w * 2 ** PRECISION_BITS);
    }
    start[xx] = xmin;
    count[xx] = xmax;
    weights.push(fixed);
  }
  return { start, count, weights };
}

function clip8(acc: number): number {
  const v = Math.floor(acc / 2 ** PRECISION_BITS);
  return Math.min(Math.max(v, 0), 255);
}

/**
 * Resizes 8-bit RGB pixels with Pillow's bilinear resample — what the reference's
 * `T.Resize((h, w))` does to its PIL images: antialiased when shrinking (the triangle filter
 * is widened by the scale factor), plain half-pixel bilinear when enlarging, horizontal pass
 * first, each pass rounded to 8 bits. Pure JavaScript, bit-for-bit Pillow's integer arithmetic.
 *
 * @param image 8-bit RGB pixels.
 * @param size output `[height, width]`.
 * @returns new pixels of the requested size (the input itself when the size is unchanged).
 */
export function resizeBilinearPil(image: DecodedImage, size: readonly [number, number]): DecodedImage {
  checkImage(image, 'resizeBilinearPil: image');
  checkSize(size, 'resizeBilinearPil: size');
  const [outH, outW] = size;
  const { data, height: inH, width: inW } = image;
  if (outH === inH && outW === inW) return image;
  let cur = data;
  let curW = inW;
  if (outW !== inW) {
    const { start, count, weights } = bilinearCoeffs(inW, outW);
    const next = new Uint8Array(inH * outW * 3);
    for (let y = 0; y < inH; y++) {
      const row = y * inW * 3;
      for (let xx = 0; xx < outW; xx++) {
        const k = weights[xx];
        const x0 = start[xx];
        for (let c = 0; c < 3; c++) {
          let acc = 2 ** (PRECISION_BITS - 1);
          for (let x = 0; x < count[xx]; x++) acc += cur[row + (x0 + x) * 3 + c] * k[x];
          next[(y * outW + xx) * 3 + c] = clip8(acc);
        }
      }
    }
    cur = next;
    curW = outW;
  }
  if (outH !== inH) {
    const { start, count, weights } = bilinearCoeffs(inH, outH);
    const next = new Uint8Array(outH * curW * 3);
    const stride = curW * 3;
    for (let yy = 0; yy < outH; yy++) {
      const k = weights[yy];
      const y0 = start[yy];
      for (let i = 0; i < stride; i++) {
        let acc = 2 ** (PRECISION_BITS - 1);
        for (let y = 0; y < count[yy]; y++) acc += cur[(y0 + y) * stride + i] * k[y];
        next[yy * stride + i] = clip8(acc);
      }
    }
    cur = next;
  }
  return { data: cur, height: outH, width: outW };
}

/** Python's `round` (half to even), which torchvision's erasing box size uses. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Draws the random decisions of one training transform, in the reference's order and with
 * torchvision's distributions: flip if `rng() < 0.5`; crop corner uniform in `[0, 2·padding]`²;
 * erasing if `rng() < 0.5`, then up to 10 attempts of area ∈ U(0.02, 0.4)·H·W and
 * log-ratio ∈ U(log 0.3, log 3.3), `h = round(√(area·ratio))`, `w = round(√(area/ratio))`,
 * accepted when `h < H` and `w < W`, corner uniform.
 *
 * @param rng random source.
 * @param options `imageSize` (default 384×128) and `aug` (default false: flip only).
 */
export function sampleTransformParams(
  rng: Rng,
  options: { imageSize?: readonly [number, number]; aug?: boolean } = {},
): TransformParams {
  const [H, W] = options.imageSize ?? TRANSFORM_DEFAULTS.imageSize;
  const d = TRANSFORM_DEFAULTS;
  const flip = rng() < d.flipProb;
  if (!options.aug) return { flip, crop: null, erase: null };
  const crop = { top: randInt(rng, 0, 2 * d.padding + 1), left: randInt(rng, 0, 2 * d.padding + 1) };
  let erase: TransformParams['erase'] = null;
  if (rng() < d.eraseProb) {
    const area = H * W;
    const logLo = Math.log(d.eraseRatio[0]);
    const logHi = Math.log(d.eraseRatio[1]);
    for (let attempt = 0; attempt < d.eraseAttempts; attempt++) {
      const eraseArea = area * uniform(rng, d.eraseScale[0], d.eraseScale[1]);
      const ratio = Math.exp(uniform(rng, logLo, logHi));
      const h = roundHalfEven(Math.sqrt(eraseArea * ratio));
      const w = roundHalfEven(Math.sqrt(eraseArea / ratio));
      if (!(h < H && w < W)) continue;
      erase = { top: randInt(rng, 0, H - h + 1), left: randInt(rng, 0, W - w + 1), height: h, width: w };
      break;
    }
  }
  return { flip, crop, erase };
}

/**
 * CLIP normalization, torchvision's `ToTensor` + `Normalize` in float32: `(x / 255 - mean) / std`
 * per channel on the last axis.
 *
 * @param pixels `[..., 3]` values in 0–255 (any numeric dtype).
 * @param mean per-channel means, RGB; default CLIP's.
 * @param std per-channel standard deviations, RGB; default CLIP's.
 * @returns a new float32 tensor of the same shape (caller owns).
 */
export function normalizeImage<T extends tf.Tensor>(
  pixels: T,
  mean: readonly number[] = TRANSFORM_DEFAULTS.mean,
  std: readonly number[] = TRANSFORM_DEFAULTS.std,
): T {
  const channels = pixels.shape[pixels.rank - 1];
  if (pixels.rank < 1 || channels !== 3 || mean.length !== 3 || std.length !== 3) {
    throw new Error(
      `normalizeImage: expected pixels [..., 3] and 3 means/stds, got pixels [${pixels.shape}], ` +
        `${mean.length} means, ${std.length} stds`,
    );
  }
  return tf.tidy(() => {
    const x = tf.div(tf.cast(pixels, 'float32'), tf.scalar(255, 'float32'));
    return tf.div(tf.sub(x, tf.tensor1d(mean as number[], 'float32')), tf.tensor1d(std as number[], 'float32'));
  }) as T;
}

/**
 * Applies the resize and the given random decisions: resize (Pillow bilinear) → flip → zero-pad
 * + crop → normalize → erase with the mean constants. Deterministic; {@link buildTransforms}
 * draws `params` and calls this.
 *
 * The geometric steps (resize, flip, pad + crop) permute 8-bit pixels in JavaScript, exactly;
 * normalization and erasing run on tensors inside one `tf.tidy`.
 *
 * @param image 8-bit RGB pixels, or a `[h, w, 3]` tensor of 0–255 values (read back with
 *   `dataSync`, then rounded and clamped to 8 bits, as the reference's PIL image holds them).
 * @returns normalized `[H, W, 3]` float32 (caller owns).
 */
export function applyTransform(
  image: DecodedImage | tf.Tensor3D,
  params: TransformParams,
  options: { imageSize?: readonly [number, number]; mean?: readonly number[]; std?: readonly number[] } = {},
): tf.Tensor3D {
  const size = options.imageSize ?? TRANSFORM_DEFAULTS.imageSize;
  checkSize(size, 'applyTransform: imageSize');
  const [H, W] = size;
  const mean = options.mean ?? TRANSFORM_DEFAULTS.mean;
  const std = options.std ?? TRANSFORM_DEFAULTS.std;
  let source: DecodedImage;
  if (image instanceof tf.Tensor) {
    if (image.rank !== 3 || image.shape[2] !== 3) {
      throw new Error(`applyTransform: image tensor must be [height, width, 3], got [${image.shape}]`);
    }
    const vals = image.dataSync();
    const bytes = new Uint8Array(vals.length);
    for (let i = 0; i < vals.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.round(vals[i])));
    source = { data: bytes, height: image.shape[0], width: image.shape[1] };
  } else source = image;
  source = resizeBilinearPil(source, size);
  const { crop, erase } = params;
  const pad = TRANSFORM_DEFAULTS.padding;
  if (crop && (crop.top < 0 || crop.left < 0 || crop.top > 2 * pad || crop.left > 2 * pad)) {
    throw new Error(`applyTransform: params.crop corner must lie in [0, ${2 * pad}]², got ${JSON.stringify(crop)}`);
  }
  if (erase && (erase.top < 0 || erase.left < 0 || erase.top + erase.height > H || erase.left + erase.width > W)) {
    throw new Error(`applyTransform: params.erase box must lie inside ${H}×${W}, got ${JSON.stringify(erase)}`);
  }
  const pixels = flipAndCrop(source as DecodedImage, params.flip, crop, pad);
  return tf.tidy(() => {
    let x: tf.Tensor3D = normalizeImage(tf.tensor3d(pixels, [H, W, 3], 'int32'), mean, std);
    if (erase) {
      const paddings: Array<[number, number]> = [
        [erase.top, H - erase.top - erase.height],
        [erase.left, W - erase.left - erase.width],
        [0, 0],
      ];
      const mask = tf.pad(tf.ones([erase.height, erase.width, 3], 'float32'), paddings);
      const box = tf.mul(tf.ones([erase.height, erase.width, 3], 'float32'), tf.tensor1d(mean as number[], 'float32'));
      x = tf.add(tf.mul(x, tf.sub(tf.scalar(1, 'float32'), mask)), tf.pad(box, paddings));
    }
    return x;
  });
}

/**
 * Flip and zero-pad + crop on the 8-bit pixels: pure index permutations, exact, done in
 * JavaScript because tfjs's cpu backend is slow at one `reverse` or `slice` of a whole image
 * (docs/performance.md).
 */
function flipAndCrop(
  image: DecodedImage,
  flip: boolean,
  crop: { top: number; left: number } | null,
  pad: number,
): Int32Array {
  const { data, height: H, width: W } = image;
  const out = new Int32Array(H * W * 3);
  const dy = crop ? crop.top - pad : 0;
  const dx = crop ? crop.left - pad : 0;
  for (let r = 0; r < H; r++) {
    const sr = r + dy;
    if (sr < 0 || sr >= H) continue;
    for (let c = 0; c < W; c++) {
      let sc = c + dx;
      if (sc < 0 || sc >= W) continue;
      if (flip) sc = W - 1 - sc;
      const o = (r * W + c) * 3;
      const i = (sr * W + sc) * 3;
      out[o] = data[i];
      out[o + 1] = data[i + 1];
      out[o + 2] = data[i + 2];
    }
  }
  return out;
}

/**
 * The reference's `build_transforms(img_size, aug, is_train)`: returns a function from an 8-bit
 * HWC image to a normalized `[H, W, 3]` float32 tensor (caller owns), drawing its random
 * decisions from the call's `rng` argument or else `options.rng`.
 *
 * @example
 * const transform = buildTransforms({ imageSize: [384, 128], aug: true, rng: seededRng(1) });
 * const x = transform(await readImageFile('a.jpg')); // tf.Tensor3D [384, 128, 3]
 */
export function buildTransforms(options: TransformOptions = {}): ImageTransform {
  const imageSize = options.imageSize ?? TRANSFORM_DEFAULTS.imageSize;
  checkSize(imageSize, 'buildTransforms: imageSize');
  const isTrain = options.isTrain ?? true;
  const aug = options.aug ?? false;
  const rest = { imageSize, mean: options.mean ?? TRANSFORM_DEFAULTS.mean, std: options.std ?? TRANSFORM_DEFAULTS.std };
  const none: TransformParams = { flip: false, crop: null, erase: null };
  return (image, rng) => {
    if (!isTrain) return applyTransform(image, none, rest);
    const r = rng ?? options.rng;
    if (!r)
      throw new Error('buildTransforms: a training transform needs an rng (in the options or the call), got none');
    return applyTransform(image, sampleTransformParams(r, { imageSize, aug }), rest);
  };
}
