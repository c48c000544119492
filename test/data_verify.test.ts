import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseGenericAnnotations, parseIcfgPedes } from '../src/data/annotations';
import { checkDatasetImages, DatasetImagesError, IMAGE_CHECK_DEFAULTS } from '../src/data/verify';

/** Counts the `fs.stat` calls in flight, to see the concurrency bound (delegates to the real one). */
const inFlight = vi.hoisted(() => ({ now: 0, max: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const stat = async (...args: Parameters<typeof real.stat>) => {
    inFlight.now++;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return await real.stat(...args);
    } finally {
      inFlight.now--;
    }
  };
  return { ...real, stat, default: { ...real, stat } };
});

function png(width: number, height: number): Buffer {
  const img = new PNG({ width, height });
  img.data.fill(200);
  return PNG.sync.write(img);
}

function jpg(width: number, height: number): Uint8Array {
  return jpeg.encode({ data: Buffer.alloc(width * height * 4, 120), width, height }, 90).data;
}

type Entry = { pid: number; image: string; captions: string[] };

describe('checkDatasetImages', () => {
  let dir = '';
  /** `n` entries named `<prefix>_<i>.png`, with two captions each. */
  const entries = (prefix: string, n: number, pid0 = 0): Entry[] =>
    Array.from({ length: n }, (_, i) => ({ pid: pid0 + (i % 3), image: `${prefix}_${i}.png`, captions: ['a', 'b'] }));
  const dataset = (train: Entry[], test: Entry[], val?: Entry[]) =>
    parseGenericAnnotations({ name: 'verify-set', train, test, ...(val ? { val } : {}) }, dir, 'verify.json');
  const writeImages = (list: Entry[]) => {
    for (const e of list) writeFileSync(join(dir, e.image), png(4, 6));
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'irra-verify-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes when every image exists: distinct paths of the chosen splits, counted once', async () => {
    const train = entries('ok_train', 5);
    const test = [...entries('ok_test', 3, 10), { pid: 10, image: 'ok_train_0.png', captions: ['shared'] }];
    writeImages([...train, ...test]);
    const ds = dataset(train, test);
    const report = await checkDatasetImages(ds);
    expect(report).toMatchObject({ total: 8, splits: ['train', 'test', 'val'], decoded: false, missing: [] });
    expect(report.undecodable).toEqual([]);
    expect(report.seconds).toBeGreaterThanOrEqual(0);
    expect((await checkDatasetImages(ds, { splits: ['test'] })).total).toBe(4);
    const progress: number[] = [];
    await checkDatasetImages(ds, { splits: ['train'], onProgress: (p) => progress.push(p.done) });
    expect(progress).toEqual([1, 2, 3, 4, 5]);
  });

  it('reports every missing file: the count and the first ten paths in dataset order', async () => {
    const train = entries('m_train', 20);
    const test = entries('m_test', 6, 30);
    // Present: even training images and the first three test images; missing: 10 + 3 = 13.
    writeImages([...train.filter((_, i) => i % 2 === 0), ...test.slice(0, 3)]);
    mkdirSync(join(dir, 'm_test_3.png')); // a folder where an image should be
    const ds = dataset(train, test);
    const err = await checkDatasetImages(ds, { splits: ['train', 'test'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetImagesError);
    const { message, report } = err as DatasetImagesError;
    const missing = [...train.filter((_, i) => i % 2 === 1), ...test.slice(3)].map((e) => join(dir, e.image));
    expect(report.total).toBe(26);
    expect(report.missing.map((p) => p.path)).toEqual(missing);
    expect(report.missing[0].reason).toBe('ENOENT');
    expect(report.missing[10]).toEqual({ path: join(dir, 'm_test_3.png'), reason: 'not a regular file' });
    expect(message).toBe(
      [
        '13 of 26 images of verify-set (train, test) are missing:',
        ...missing.slice(0, 10).map((p) => `  ${p}`),
        '  ... and 3 more',
      ].join('\n'),
    );
    // Only the test split: the missing training images are not looked at.
    const testOnly = (await checkDatasetImages(ds, { splits: ['test'] }).catch(
      (e: unknown) => e,
    )) as DatasetImagesError;
    expect(testOnly.message.split('\n')[0]).toBe('3 of 6 images of verify-set (test) are missing:');
    expect(testOnly.message).not.toMatch(/and \d+ more/);
  });

  it('keeps at most `concurrency` stat calls in flight, and uses that many', async () => {
    const train = entries('c_train', 50);
    writeImages(train);
    const ds = dataset(train, []);
    for (const concurrency of [1, 7, IMAGE_CHECK_DEFAULTS.concurrency]) {
      inFlight.max = 0;
      await checkDatasetImages(ds, { splits: ['train'], concurrency });
      expect(inFlight.max, `concurrency ${concurrency}`).toBe(Math.min(concurrency, 50));
    }
  });

  it('with decode, reports files that exist but do not decode, with the decoder error', async () => {
    const train = [
      { pid: 0, image: 'd_good.png', captions: ['x'] },
      { pid: 1, image: 'd_good.jpg', captions: ['x'] },
      { pid: 0, image: 'd_text.jpg', captions: ['x'] },
      { pid: 1, image: 'd_truncated.png', captions: ['x'] },
      { pid: 0, image: 'd_missing.png', captions: ['x'] },
    ];
    writeFileSync(join(dir, 'd_good.png'), png(5, 7));
    writeFileSync(join(dir, 'd_good.jpg'), jpg(8, 8));
    writeFileSync(join(dir, 'd_text.jpg'), 'not an image at all');
    writeFileSync(join(dir, 'd_truncated.png'), png(5, 7).subarray(0, 40));
    const ds = dataset(train, [{ pid: 5, image: 'd_good.png', captions: ['y'] }]);
    // Existence alone: only the missing file.
    const exists = (await checkDatasetImages(ds).catch((e: unknown) => e)) as DatasetImagesError;
    expect(exists.report.missing.map((p) => p.path)).toEqual([join(dir, 'd_missing.png')]);
    expect(exists.report.undecodable).toEqual([]);
    const seen: number[] = [];
    const err = (await checkDatasetImages(ds, { decode: true, onProgress: (p) => seen.push(p.undecodable) }).catch(
      (e: unknown) => e,
    )) as DatasetImagesError;
    expect(err).toBeInstanceOf(DatasetImagesError);
    expect(err.report.decoded).toBe(true);
    expect(err.report.missing.map((p) => p.path)).toEqual([join(dir, 'd_missing.png')]);
    expect(err.report.undecodable.map((p) => p.path)).toEqual([join(dir, 'd_text.jpg'), join(dir, 'd_truncated.png')]);
    expect(err.report.undecodable[0].reason).toMatch(/decodeImage: bytes must be a JPEG or PNG file/);
    expect(err.report.undecodable[1].reason).toMatch(/decodeImage: invalid PNG data/);
    expect(seen.at(-1)).toBe(2);
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('1 of 5 images of verify-set (train, test, val) are missing:');
    expect(lines[1]).toBe(`  ${join(dir, 'd_missing.png')}`);
    expect(lines[2]).toBe('2 of 5 images of verify-set (train, test, val) cannot be decoded:');
    expect(lines[3]).toMatch(new RegExp(`^  ${join(dir, 'd_text.jpg')}: decodeImage: bytes must be a JPEG or PNG`));
    expect(lines).toHaveLength(5);
    // The good ones decode.
    const good = dataset(train.slice(0, 2), []);
    expect((await checkDatasetImages(good, { decode: true })).total).toBe(2);
  });

  it('an empty split (ICFG-PEDES has no val) adds nothing; bad options are named', async () => {
    mkdirSync(join(dir, 'icfg', 'train'), { recursive: true });
    writeFileSync(join(dir, 'icfg', 'train', 'a.jpg'), jpg(8, 8));
    const icfg = parseIcfgPedes(
      [
        { split: 'train', id: 0, file_path: 'train/a.jpg', captions: ['c'], processed_tokens: [['c']] },
        { split: 'test', id: 4, file_path: 'train/a.jpg', captions: ['d'], processed_tokens: [['d']] },
      ],
      join(dir, 'icfg'),
    );
    expect(await checkDatasetImages(icfg, { splits: ['val'] })).toMatchObject({ total: 0, missing: [] });
    expect((await checkDatasetImages(icfg, { decode: true })).total).toBe(1);
    await expect(checkDatasetImages(icfg, { concurrency: 0 })).rejects.toThrow(
      'checkDatasetImages: options.concurrency must be an integer >= 1, got 0',
    );
    await expect(checkDatasetImages(icfg, { splits: ['query' as 'val'] })).rejects.toThrow(
      'checkDatasetImages: options.splits must hold train, test, val, got "query"',
    );
  });
});
