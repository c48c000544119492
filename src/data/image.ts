/**
 * Image decoding. Node: JPEG via `jpeg-js` and PNG via `pngjs` (pure JavaScript, no native
 * binaries), imported on first use so that browser bundles never load them. Browsers: the
 * platform decoder through `createImageBitmap` and `tf.browser.fromPixels`.
 *
 * Like the reference's `read_image` (PIL `convert('RGB')`), every image comes out as 8-bit RGB:
 * alpha is dropped and grayscale is replicated to three channels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nodeFs } from '../util/node';

/** A decoded image: interleaved 8-bit RGB, row-major, `height × width × 3` bytes. */
export interface DecodedImage {
  /** RGB bytes, length `height * width * 3`. */
  data: Uint8Array;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
}

function rgbaToRgb(rgba: Uint8Array | Buffer, height: number, width: number): Uint8Array {
  const n = height * width;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[3 * i] = rgba[4 * i];
    out[3 * i + 1] = rgba[4 * i + 1];
    out[3 * i + 2] = rgba[4 * i + 2];
  }
  return out;
}

/** The container format of `bytes` from its magic number, or null when it is neither JPEG nor PNG. */
export function sniffImageFormat(bytes: Uint8Array): 'jpeg' | 'png' | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  return null;
}

/**
 * Decodes JPEG or PNG bytes to 8-bit RGB (Node; also works in browsers when a bundler provides
 * `Buffer` for `pngjs`, but {@link decodeImageBrowser} is the browser path).
 *
 * @param bytes the file's contents.
 * @returns a new {@link DecodedImage}.
 * @throws Error when `bytes` is not a Uint8Array, is neither JPEG nor PNG, or fails to decode.
 * @example
 * const img = await decodeImage(await readFile('0001.jpg')); // { data, height, width }
 */
export async function decodeImage(bytes: Uint8Array): Promise<DecodedImage> {
  if (!(bytes instanceof Uint8Array)) {
    throw new Error(`decodeImage: bytes must be a Uint8Array (or Buffer), got ${typeof bytes}`);
  }
  const format = sniffImageFormat(bytes);
  if (format === 'jpeg') {
    const jpeg = await import('jpeg-js');
    const decode = (jpeg.decode ?? (jpeg as unknown as { default: typeof jpeg }).default.decode) as typeof jpeg.decode;
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
    } catch (e) {
      throw new Error(`decodeImage: invalid JPEG data (${(e as Error).message ?? String(e)})`);
    }
    return { data: img.data, height: img.height, width: img.width };
  }
  if (format === 'png') {
    const pngjs = await import('pngjs');
    const PNG = (pngjs.PNG ?? (pngjs as unknown as { default: typeof pngjs }).default.PNG) as typeof pngjs.PNG;
    let img: { width: number; height: number; data: Buffer };
    try {
      img = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      throw new Error(`decodeImage: invalid PNG data (${(e as Error).message ?? String(e)})`);
    }
    return { data: rgbaToRgb(img.data, img.height, img.width), height: img.height, width: img.width };
  }
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new Error(`decodeImage: bytes must be a JPEG or PNG file, got a file starting with [${head}]`);
}

/**
 * Reads an image file from disk and decodes it (Node only; `node:fs/promises` is imported on call, out of a bundler's sight).
 *
 * @throws Error naming the path when it cannot be read or decoded.
 */
export async function readImageFile(path: string): Promise<DecodedImage> {
  const fs = await nodeFs();
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (e) {
    throw new Error(`readImageFile: cannot read '${path}' (${(e as Error).message})`);
  }
  try {
    return await decodeImage(bytes);
  } catch (e) {
    throw new Error(`readImageFile: '${path}': ${(e as Error).message}`);
  }
}

/**
 * Browser decoding: a Blob (a fetched or uploaded file), a URL (fetched), or an already
 * decoded `ImageBitmap` / `HTMLImageElement` / `HTMLCanvasElement`, converted to 8-bit RGB with
 * `tf.browser.fromPixels`. Not exercised by the Node test suite (Node has no
 * `createImageBitmap`).
 *
 * @returns a new {@link DecodedImage} (no tensors are left behind; an `ImageBitmap` this function
 *   creates from a Blob or URL is closed, also on error, while one passed in stays open: the
 *   caller owns it).
 */
export async function decodeImageBrowser(
  source: Blob | string | ImageBitmap | HTMLImageElement | HTMLCanvasElement,
): Promise<DecodedImage> {
  let pixels: ImageBitmap | HTMLImageElement | HTMLCanvasElement;
  let created: ImageBitmap | null = null;
  if (typeof source === 'string') {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`decodeImageBrowser: fetching '${source}' failed with HTTP ${response.status}`);
    created = await createImageBitmap(await response.blob());
    pixels = created;
  } else if (typeof Blob !== 'undefined' && source instanceof Blob) {
    created = await createImageBitmap(source);
    pixels = created;
  } else {
    pixels = source as ImageBitmap | HTMLImageElement | HTMLCanvasElement;
  }
  try {
    const t = tf.browser.fromPixels(pixels, 3);
    try {
      const [height, width] = t.shape;
      return { data: Uint8Array.from(await t.data()), height, width };
    } finally {
      t.dispose();
    }
  } finally {
    created?.close();
  }
}
