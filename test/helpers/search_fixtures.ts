import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { buildTransforms, type DecodedImage, IRRA } from '../../src/index';
import { fixturePath } from './fixtures';

/** tiny_a's geometry (the fixture model's image size and stride). */
export const TINY_A = { imageSize: [32, 16] as [number, number], strideSize: 8 };

/** The tiny_a IRRA checkpoint, loaded (the caller disposes it). */
export const loadTinyA = (): Promise<IRRA> => IRRA.load(fixturePath('tiny_a.irra.pth'), TINY_A);

/**
 * A word tokenizer for the tiny fixture models (vocab 512, context 16): start 510, one id per word
 * (a hash into 1..500), end 511, zero padding; truncated keeping the end id, as CLIP's is.
 */
export function tinyTokenizer(texts: string[]): Int32Array {
  const l = 16;
  const out = new Int32Array(texts.length * l);
  texts.forEach((text, r) => {
    const words = text
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter(Boolean);
    const ids = [510];
    for (const w of words) {
      let h = 7;
      for (let i = 0; i < w.length; i++) h = (h * 31 + w.charCodeAt(i)) % 500;
      ids.push(h + 1);
    }
    ids.length = Math.min(ids.length, l - 1);
    ids.push(511);
    out.set(ids, r * l);
  });
  return out;
}

/** Seeded 8-bit RGB noise with a few coloured blocks (so images differ in more than noise). */
export function syntheticImage(seed: number, height: number, width: number): DecodedImage {
  let s = seed * 2654435761 + 1;
  const rand = () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
  const data = new Uint8Array(height * width * 3);
  const base = [rand() * 255, rand() * 255, rand() * 255];
  for (let i = 0; i < height * width; i++) {
    const y = Math.floor(i / width);
    const band = y < height / 2 ? 0 : 60;
    for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.min(255, Math.floor((base[c] + band + rand() * 40) % 256));
  }
  return { data, height, width };
}

/** PNG bytes of an RGB image. */
export function pngBytes(img: DecodedImage): Uint8Array {
  const png = new PNG({ width: img.width, height: img.height });
  for (let i = 0; i < img.width * img.height; i++) {
    png.data[i * 4] = img.data[i * 3];
    png.data[i * 4 + 1] = img.data[i * 3 + 1];
    png.data[i * 4 + 2] = img.data[i * 3 + 2];
    png.data[i * 4 + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png));
}

/** Writes `count` synthetic PNGs of assorted sizes under `dir` (some in a subfolder); returns their paths. */
export function writeGallery(dir: string, count: number, seed = 0): { paths: string[]; images: DecodedImage[] } {
  mkdirSync(join(dir, 'sub'), { recursive: true });
  const paths: string[] = [];
  const images: DecodedImage[] = [];
  for (let i = 0; i < count; i++) {
    const img = syntheticImage(seed * 1000 + i, 40 + (i % 3) * 12, 20 + (i % 2) * 8);
    const path = join(dir, i % 3 === 2 ? 'sub' : '', `person_${String(i).padStart(3, '0')}.png`);
    writeFileSync(path, pngBytes(img));
    paths.push(path);
    images.push(img);
  }
  return { paths, images };
}

/**
 * The reference chain, computed independently of PersonSearch: the eval transform
 * (`buildTransforms({ isTrain: false })`), `encodeImage` / `encodeText`, and L2 normalisation with
 * tensors; returns the `[queries, images]` cosine matrix.
 */
export function referenceScores(model: IRRA, images: DecodedImage[], queryIds: Int32Array): number[][] {
  const transform = buildTransforms({ isTrain: false, imageSize: model.config.imageSize });
  return tf.tidy(() => {
    const batch = tf.stack(images.map((img) => transform(img))) as tf.Tensor4D;
    const l = model.config.contextLength;
    const ids = tf.tensor2d(queryIds, [queryIds.length / l, l], 'int32');
    const norm = (x: tf.Tensor2D) => tf.div(x, tf.norm(x, 2, 1, true));
    const sims = tf.matMul(norm(model.encodeText(ids)), norm(model.encodeImage(batch)), false, true);
    return sims.arraySync() as number[][];
  });
}
