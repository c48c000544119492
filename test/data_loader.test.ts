import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvalSplit, TrainSample } from '../src/data/annotations';
import {
  buildBatch,
  DataLoader,
  type DataLoaderOptions,
  disposeBatch,
  encodeCaptions,
  evaluationBatches,
  type MaskFn,
  rowwiseMask,
  type TrainBatch,
} from '../src/data/batch';
import { type DecodedImage, decodeImage, readImageFile, sniffImageFormat } from '../src/data/image';
import { seededRng } from '../src/data/random';
import { buildTransforms } from '../src/data/transforms';
import type { EvaluationData } from '../src/eval/evaluator';
import { buildMlmInputs, ClipTokenizer } from '../src/tokenizer';
import { vocabPath } from './helpers/fixtures';
import { wordLengthEncoder } from './helpers/word_encoder';

const CTX = 8;

/** A fallback vocabulary: start 1, one id per word (2 + word length), end 30, zero padding. */
const encodeText = wordLengthEncoder(1, 2, 30);

/** Masks each non-special token with probability 0.5 (id 31), label = original id. */
const mask: MaskFn = rowwiseMask((row, rng) => {
  const mlmIds = row.slice();
  const mlmLabels = new Int32Array(row.length);
  for (let i = 0; i < row.length; i++) {
    if (row[i] > 1 && row[i] < 30 && rng() < 0.5) {
      mlmLabels[i] = row[i];
      mlmIds[i] = 31;
    }
  }
  return { mlmIds, mlmLabels };
});

/** Image of sample i: 10×6 with pixel values derived from i. */
function pixelsOf(sample: TrainSample): DecodedImage {
  const data = Uint8Array.from({ length: 10 * 6 * 3 }, (_, k) => (sample.imageId * 37 + k * 11) % 256);
  return { data, height: 10, width: 6 };
}

const samples: TrainSample[] = Array.from({ length: 22 }, (_, i) => ({
  pid: i % 5,
  imageId: i,
  imgPath: `mem/${i}.png`,
  caption: `person ${i} wears ${'x'.repeat(i % 4)} shoes`,
}));

const transform = buildTransforms({ imageSize: [8, 4], aug: true });

const options = (extra: Partial<DataLoaderOptions> = {}): DataLoaderOptions => ({
  batchSize: 4,
  transform,
  encodeText,
  mask,
  contextLength: CTX,
  loadImage: async (s) => pixelsOf(s),
  seed: 3,
  ...extra,
});

async function collect(loader: DataLoader, epoch = 0): Promise<Array<Record<string, number[]>>> {
  const out: Array<Record<string, number[]>> = [];
  for await (const b of loader.epoch(epoch)) {
    out.push({
      pids: Array.from(b.pids),
      imageIds: Array.from(b.imageIds),
      images: Array.from(b.images.dataSync()),
      captionIds: Array.from(b.captionIds.dataSync()),
      mlmIds: b.mlmIds ? Array.from(b.mlmIds.dataSync()) : [],
      mlmLabels: b.mlmLabels ? Array.from(b.mlmLabels.dataSync()) : [],
    });
    disposeBatch(b);
  }
  return out;
}

describe('buildBatch', () => {
  it('stacks transformed images, tokenizes and masks captions (the reference batch keys)', async () => {
    const before = tf.memory().numTensors;
    const b = await buildBatch(samples.slice(0, 3), { ...options(), rng: seededRng(1) });
    expect(Array.from(b.pids)).toEqual([0, 1, 2]);
    expect(Array.from(b.imageIds)).toEqual([0, 1, 2]);
    expect(b.images.shape).toEqual([3, 8, 4, 3]);
    expect(b.images.dtype).toBe('float32');
    expect(b.captionIds.shape).toEqual([3, CTX]);
    expect(b.captionIds.dtype).toBe('int32');
    expect(Array.from(b.captionIds.dataSync().slice(0, CTX))).toEqual([1, 8, 3, 7, 2, 7, 30, 0]);
    const ids = b.captionIds.dataSync();
    const mi = b.mlmIds!.dataSync();
    const ml = b.mlmLabels!.dataSync();
    for (let k = 0; k < ids.length; k++) {
      if (ml[k] !== 0) expect([ml[k], mi[k]]).toEqual([ids[k], 31]);
      else expect(mi[k]).toBe(ids[k]);
    }
    expect(tf.memory().numTensors).toBe(before + 4);
    disposeBatch(b);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('omits the MLM tensors without a mask function, and disposes loader tensors', async () => {
    const before = tf.memory().numTensors;
    const b = await buildBatch(samples.slice(0, 2), {
      transform: buildTransforms({ imageSize: [10, 6], isTrain: false }),
      encodeText,
      contextLength: CTX,
      loadImage: async (s) => {
        const p = pixelsOf(s);
        return tf.tensor3d(Int32Array.from(p.data), [10, 6, 3], 'int32');
      },
    });
    expect(b.mlmIds).toBeNull();
    expect(b.mlmLabels).toBeNull();
    disposeBatch(b);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports bad encoders, masks and loads without leaking', async () => {
    const before = tf.memory().numTensors;
    const base = { ...options(), rng: seededRng(1) };
    await expect(buildBatch([], base)).rejects.toThrow('buildBatch: samples must be non-empty, got 0');
    await expect(buildBatch(samples.slice(0, 2), { ...base, encodeText: () => new Int32Array(3) })).rejects.toThrow(
      'encodeCaptions: the encoder must return an Int32Array of 2×8 = 16 ids, got 3 ids',
    );
    await expect(
      buildBatch(samples.slice(0, 2), {
        ...base,
        mask: () => ({ mlmIds: new Int32Array(16), mlmLabels: new Int32Array(2) }),
      }),
    ).rejects.toThrow('buildBatch: mask must return mlmIds and mlmLabels of 2×8 = 16 ids, got 16 and 2');
    await expect(buildBatch(samples.slice(0, 2), { ...base, rng: undefined })).rejects.toThrow(
      'buildTransforms: a training transform needs an rng',
    );
    await expect(buildBatch(samples.slice(0, 1), { ...base, loadImage: undefined })).rejects.toThrow(
      "readImageFile: cannot read 'mem/0.png'",
    );
    await expect(buildBatch(samples.slice(0, 2), { ...base, contextLength: 1 })).rejects.toThrow(
      'buildBatch: contextLength must be an integer ≥ 2, got 1',
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('accepts encodeBatch objects and tokenizers with tokenizeToArray', () => {
    const texts = ['a bb', 'ccc'];
    const viaObject = encodeCaptions(
      { encodeBatch: (t, n) => (encodeText as (t: string[], n: number) => Int32Array)(t, n) },
      texts,
      5,
    );
    let seen: unknown = null;
    const viaTokenizer = encodeCaptions(
      {
        tokenizeToArray: (t, o) => {
          seen = o;
          return (encodeText as (t: string[], n: number) => Int32Array)(t, o.contextLength);
        },
      },
      texts,
      5,
    );
    expect(Array.from(viaObject)).toEqual([1, 3, 4, 30, 0, 1, 5, 30, 0, 0]);
    expect(Array.from(viaTokenizer)).toEqual(Array.from(viaObject));
    expect(seen).toEqual({ contextLength: 5, truncate: true });
  });
});

describe('DataLoader', () => {
  it('yields the same batches with prefetch 0, 1 and 2, and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const ref = await collect(new DataLoader(samples, options({ prefetch: 0 })));
    expect(ref.length).toBe(6);
    expect(ref.map((b) => b.pids.length)).toEqual([4, 4, 4, 4, 4, 2]);
    expect(ref.flatMap((b) => b.imageIds).sort((a, b) => a - b)).toEqual(samples.map((s) => s.imageId));
    for (const prefetch of [1, 2] as const) {
      expect(await collect(new DataLoader(samples, options({ prefetch })))).toEqual(ref);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is reproducible per (seed, epoch): epochs differ, a fresh loader repeats epoch e', async () => {
    const a = new DataLoader(samples, options());
    const e0 = await collect(a, 0);
    const e1 = await collect(a, 1);
    expect(e1).not.toEqual(e0);
    expect(await collect(new DataLoader(samples, options()), 1)).toEqual(e1);
    expect(await collect(new DataLoader(samples, options({ seed: 4 })), 0)).not.toEqual(e0);
    expect(a.plan(1).map((b) => b.length)).toEqual([4, 4, 4, 4, 4, 2]);
  });

  it('builds ahead while the consumer works, and disposes unconsumed batches when stopped early', async () => {
    const started: number[] = [];
    const loader = new DataLoader(
      samples,
      options({
        prefetch: 2,
        loadImage: async (s) => {
          started.push(s.imageId);
          return pixelsOf(s);
        },
      }),
    );
    const before = tf.memory().numTensors;
    let seen = 0;
    for await (const b of loader.epoch(0)) {
      seen++;
      await new Promise((r) => setTimeout(r, 5));
      // while batch 1 is in use, batches 2 and 3 have been loaded too
      if (seen === 1) expect(started.length).toBe(12);
      disposeBatch(b);
      if (seen === 2) break;
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('uses the identity sampler: every batch has K pairs of N identities', async () => {
    const loader = new DataLoader(samples, options({ sampler: 'identity', batchSize: 4, numInstances: 2 }));
    // 5 identities with 5, 5, 4, 4, 4 pairs → 4 + 4 + 4 + 4 + 4 = 20 pairs → 5 batches
    expect(loader.numBatches).toBe(5);
    const batches = await collect(loader);
    expect(batches.length).toBeGreaterThan(0);
    for (const b of batches) {
      const counts = new Map<number, number>();
      for (const p of b.pids) counts.set(p, (counts.get(p) ?? 0) + 1);
      expect([...counts.values()]).toEqual([2, 2]);
    }
  });

  it('propagates load errors and frees what was prefetched', async () => {
    const before = tf.memory().numTensors;
    const loader = new DataLoader(
      samples,
      options({
        prefetch: 2,
        loadImage: async (s) => {
          if (s.imageId === samples.length - 1) throw new Error(`cannot read ${s.imgPath}`);
          return pixelsOf(s);
        },
      }),
    );
    const got: TrainBatch[] = [];
    await expect(
      (async () => {
        for await (const b of loader.epoch(0)) got.push(b);
      })(),
    ).rejects.toThrow('cannot read mem/21.png');
    got.forEach(disposeBatch);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad options', () => {
    expect(() => new DataLoader([], options())).toThrow('DataLoader: samples must be non-empty, got 0');
    expect(() => new DataLoader(samples, options({ prefetch: 3 as 2 }))).toThrow(
      'DataLoader: prefetch must be 0, 1 or 2, got 3',
    );
    expect(() => new DataLoader(samples, options({ sampler: 'triplet' as 'random' }))).toThrow(
      "DataLoader: sampler must be 'random', 'identity' or a BatchSampler, got triplet",
    );
  });
});

describe('with the CLIP tokenizer', () => {
  it('takes a ClipTokenizer as encoder and buildMlmInputs through rowwiseMask', async () => {
    const tokenizer = await ClipTokenizer.fromFile(vocabPath());
    const b = await buildBatch(samples.slice(0, 2), {
      transform,
      encodeText: tokenizer,
      mask: rowwiseMask((row, rng) => buildMlmInputs(row, { rng })),
      loadImage: async (s) => pixelsOf(s),
      rng: seededRng(2),
    });
    const ids = b.captionIds.dataSync();
    expect(Array.from(ids.slice(0, 77))).toEqual(
      Array.from(tokenizer.tokenizeToArray([samples[0].caption], { contextLength: 77 })),
    );
    expect(ids[0]).toBe(49406);
    const labels = b.mlmLabels!.dataSync();
    for (let r = 0; r < 2; r++) expect(labels.slice(r * 77, r * 77 + 77).some((v) => v !== 0)).toBe(true);
    disposeBatch(b);
  });
});

describe('evaluationBatches', () => {
  const split: EvalSplit = {
    imagePids: [5, 6, 7, 5, 9],
    imgPaths: ['g/0', 'g/1', 'g/2', 'g/3', 'g/4'],
    captionPids: [5, 5, 6, 7, 9, 9, 5],
    captions: ['a', 'b b', 'c', 'dd', 'e', 'f', 'g'],
  };
  const loadImage = async (s: TrainSample) => pixelsOf({ ...s, imageId: Number(s.imgPath.slice(2)) });

  it('streams captions and gallery images in file order, in the Evaluator shape, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const eval_ = buildTransforms({ imageSize: [10, 6], isTrain: false });
    const data = evaluationBatches(split, {
      batchSize: 2,
      transform: eval_,
      encodeText,
      contextLength: 4,
      loadImage,
      prefetch: 2,
    });
    const typed: EvaluationData = data;
    expect(typed).toBe(data);
    const capPids: number[] = [];
    for await (const c of data.captions()) {
      capPids.push(...c.pids);
      expect(c.captionIds.shape).toEqual([c.pids.length, 4]);
      c.captionIds.dispose();
    }
    expect(capPids).toEqual(split.captionPids);
    const imgPids: number[] = [];
    let first: number[] = [];
    for await (const g of data.gallery()) {
      if (imgPids.length === 0) first = Array.from(g.images.dataSync().slice(0, 6 * 10 * 3));
      imgPids.push(...g.pids);
      g.images.dispose();
    }
    expect(imgPids).toEqual(split.imagePids);
    const single = eval_(pixelsOf({ pid: 5, imageId: 0, imgPath: 'g/0', caption: '' }));
    expect(first).toEqual(Array.from(single.dataSync()));
    single.dispose();
    // stopping early disposes the prefetched gallery batches
    for await (const g of data.gallery()) {
      g.images.dispose();
      break;
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects lists that do not pair up', () => {
    expect(() =>
      evaluationBatches({ ...split, imgPaths: ['x'] }, { transform: buildTransforms({ isTrain: false }), encodeText }),
    ).toThrow('evaluationBatches: split lists must pair up, got 5 imagePids for 1 imgPaths');
  });
});

describe('image decoding (Node)', () => {
  let dir = '';
  const W = 5;
  const H = 3;
  const rgba = Uint8Array.from({ length: W * H * 4 }, (_, i) => (i * 17) % 256);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'irra-img-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('decodes PNG exactly, dropping alpha', async () => {
    const png = new PNG({ width: W, height: H });
    png.data = Buffer.from(rgba);
    const bytes = PNG.sync.write(png);
    expect(sniffImageFormat(bytes)).toBe('png');
    const img = await decodeImage(bytes);
    expect([img.height, img.width]).toEqual([H, W]);
    expect(Array.from(img.data)).toEqual(
      Array.from({ length: W * H * 3 }, (_, k) => rgba[Math.floor(k / 3) * 4 + (k % 3)]),
    );
  });

  it('decodes JPEG to RGB close to the encoded pixels', async () => {
    const flat = { data: Buffer.from(new Uint8Array(16 * 16 * 4).fill(200)), width: 16, height: 16 };
    for (let i = 3; i < flat.data.length; i += 4) flat.data[i] = 255;
    flat.data[0] = 180;
    const bytes = jpeg.encode(flat, 100).data;
    expect(sniffImageFormat(bytes)).toBe('jpeg');
    const img = await decodeImage(bytes);
    expect([img.height, img.width, img.data.length]).toEqual([16, 16, 16 * 16 * 3]);
    const far = Array.from(img.data.subarray(3 * 20)).filter((v) => Math.abs(v - 200) > 3);
    expect(far).toEqual([]);
  });

  it('reads files and reports bad ones by path', async () => {
    const png = new PNG({ width: W, height: H });
    png.data = Buffer.from(rgba);
    await writeFile(join(dir, 'a.png'), PNG.sync.write(png));
    await writeFile(join(dir, 'b.gif'), Buffer.from('GIF89a...'));
    const img = await readImageFile(join(dir, 'a.png'));
    expect(img.data[3]).toBe(rgba[4]);
    await expect(readImageFile(join(dir, 'b.gif'))).rejects.toThrow(
      `readImageFile: '${join(dir, 'b.gif')}': decodeImage: bytes must be a JPEG or PNG file, got a file starting with [47 49 46 38]`,
    );
    await expect(decodeImage(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]))).rejects.toThrow(
      'decodeImage: invalid PNG data',
    );
    await expect(decodeImage('x' as unknown as Uint8Array)).rejects.toThrow(
      'decodeImage: bytes must be a Uint8Array (or Buffer), got string',
    );
  });

  it('feeds the default loader from disk', async () => {
    const png = new PNG({ width: W, height: H });
    png.data = Buffer.from(rgba);
    await writeFile(join(dir, 'c.png'), PNG.sync.write(png));
    const disk: TrainSample[] = [
      { pid: 0, imageId: 0, imgPath: join(dir, 'c.png'), caption: 'a b' },
      { pid: 1, imageId: 1, imgPath: join(dir, 'c.png'), caption: 'c' },
    ];
    const loader = new DataLoader(disk, {
      batchSize: 2,
      transform: buildTransforms({ imageSize: [H, W], isTrain: false }),
      encodeText,
      contextLength: 4,
    });
    const batches = await collect(loader);
    expect(batches.length).toBe(1);
    expect(batches[0].images.length).toBe(2 * H * W * 3);
    expect(batches[0].mlmIds).toEqual([]);
    // first pixel, red channel: ToTensor + Normalize of the PNG's value
    const red = Math.fround(
      Math.fround(Math.fround(rgba[0] / 255) - Math.fround(0.48145466)) / Math.fround(0.26862954),
    );
    expect(batches[0].images[0]).toBe(red);
  }, 30_000);
});
