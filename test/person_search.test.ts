import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTransforms, IRRA, l2NormalizeRows, PersonSearch, type SearchHit } from '../src/index';
import { fixturePath } from './helpers/fixtures';
import { loadTinyA, pngBytes, referenceScores, TINY_A, tinyTokenizer, writeGallery } from './helpers/search_fixtures';

const dir = mkdtempSync(join(tmpdir(), 'irra-search-'));
let model: IRRA;
let gallery: ReturnType<typeof writeGallery>;
const QUERIES = ['a woman in a red coat with a black bag', 'a man wearing blue jeans', 'short hair'];

beforeAll(async () => {
  model = await loadTinyA();
  gallery = writeGallery(dir, 11);
});
afterAll(() => {
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const create = () => PersonSearch.create({ model, tokenizer: tinyTokenizer, batchSize: 4 });

/** Hits expected from the reference chain: cosine scores, best first, ties to the earlier image. */
function expectedHits(scores: number[], ids: string[], k: number): Array<{ id: string; score: number }> {
  return scores
    .map((score, i) => ({ id: ids[i], score, i }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, k)
    .map(({ id, score }) => ({ id, score }));
}

function expectHitsClose(got: SearchHit[], want: Array<{ id: string; score: number }>): number {
  expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
  expect(got.map((h) => h.rank)).toEqual(want.map((_, i) => i + 1));
  let worst = 0;
  got.forEach((h, i) => {
    worst = Math.max(worst, Math.abs(h.score - want[i].score));
  });
  expect(worst).toBeLessThan(1e-5);
  return worst;
}

describe('PersonSearch', () => {
  it('indexes a folder of PNGs and ranks by the reference chain’s cosine scores', async () => {
    const before = tf.memory().numTensors;
    const search = await create();
    const progress: number[] = [];
    const report = await search.addImages(gallery.paths, { onProgress: (p) => progress.push(p.done) });
    expect(report).toMatchObject({ added: 11, invalid: [], existing: [] });
    expect(progress.at(-1)).toBe(11);
    expect(search.size).toBe(11);
    const ids = tinyTokenizer(QUERIES);
    const scores = referenceScores(model, gallery.images, ids);
    let worst = 0;
    for (const [q, text] of QUERIES.entries()) {
      const hits = await search.search(text, { k: 5 });
      worst = Math.max(worst, expectHitsClose(hits, expectedHits(scores[q], gallery.paths, 5)));
    }
    console.log(
      `[search ${tf.getBackend()}] largest score difference to the reference chain: ${worst.toExponential(2)}`,
    );
    // A batch of strings and the same queries as token ids give the same lists.
    const batch = await search.search(QUERIES, { k: 3 });
    const byIds = await search.search(ids, { k: 3 });
    expect(byIds).toEqual(batch);
    expect(batch[1]).toEqual(await search.search(QUERIES[1], { k: 3 }));
    // k beyond the gallery returns it all.
    expect(await search.search(QUERIES[0], { k: 100 })).toHaveLength(11);
    await search.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('takes bytes, Blobs, decoded pixels, RGBA pixels and preprocessed tensors, with ids', async () => {
    const search = await create();
    const img = gallery.images[0];
    const rgba = new Uint8ClampedArray(img.width * img.height * 4);
    for (let i = 0; i < img.width * img.height; i++) {
      rgba.set([img.data[i * 3], img.data[i * 3 + 1], img.data[i * 3 + 2], 255], i * 4);
    }
    const pre = buildTransforms({ isTrain: false, imageSize: TINY_A.imageSize })(img);
    const webp = new Uint8Array(
      await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
        .webp({ lossless: true })
        .toBuffer(),
    );
    const sources = [
      gallery.paths[0],
      `file://${gallery.paths[0]}`,
      pngBytes(img),
      pngBytes(img).slice().buffer,
      new Blob([pngBytes(img) as Uint8Array<ArrayBuffer>]),
      img,
      { data: rgba, width: img.width, height: img.height },
      pre,
      webp,
    ];
    const ids = sources.map((_, i) => `v${i}`);
    await search.addImages(sources, { ids });
    pre.dispose();
    const hits = await search.search('a red coat', { k: 20 });
    const scores = new Set(hits.map((h) => h.score.toFixed(6)));
    expect(scores.size).toBe(1); // the same picture, however it came
    expect(hits.map((h) => h.id)).toEqual(ids); // ties keep insertion order
    await search.dispose();
  });

  it('checks ids, queries, k and the gallery, with clear errors', async () => {
    const search = await create();
    await expect(search.search('a red coat')).rejects.toThrow(/the gallery is empty; add images first/);
    await search.addImages(gallery.paths.slice(0, 3));
    await expect(search.addImages([gallery.paths[3], gallery.paths[3]])).rejects.toThrow(
      /duplicate id '.*person_003\.png' in this call/,
    );
    await expect(search.addImages(gallery.paths.slice(0, 2))).rejects.toThrow(
      /2 id\(s\) are already in the gallery: .*person_000\.png/,
    );
    expect(search.size).toBe(3);
    const resumed = await search.addImages(gallery.paths.slice(0, 5), { skipExisting: true });
    expect(resumed).toMatchObject({ added: 2, existing: gallery.paths.slice(0, 3) });
    expect(search.size).toBe(5);
    await expect(search.search('')).rejects.toThrow(/query 0 is empty/);
    await expect(search.search(['a man', '  '])).rejects.toThrow(/query 1 is empty/);
    await expect(search.search([])).rejects.toThrow(/the query list is empty/);
    await expect(search.search('a man', { k: 0 })).rejects.toThrow(/options\.k must be a positive integer, got 0/);
    await expect(search.search(new Int32Array(16))).rejects.toThrow(/token row 0 is empty/);
    await expect(search.search(new Int32Array(15))).rejects.toThrow(/token ids must be rows of 16/);
    await expect(search.addImages([new Uint8Array([1, 2, 3])])).rejects.toThrow(/no default id; pass options\.ids/);
    await expect(search.addImages(['a.png'], { ids: ['x', 'y'] })).rejects.toThrow(
      /options\.ids has 2 ids for 1 images/,
    );
    await expect(PersonSearch.create({} as never)).rejects.toThrow(/options\.model must be an IRRA model/);
    await search.dispose();
    await expect(search.search('a man')).rejects.toThrow(/has been disposed/);
  });

  it('names an undecodable image, or lists it with skipInvalid and indexes the rest', async () => {
    const bad = join(dir, 'broken.png');
    writeFileSync(bad, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    const search = await create();
    await expect(search.addImages([gallery.paths[0], bad])).rejects.toThrow(/cannot read image '.*broken\.png'/);
    const report = await search.addImages([gallery.paths[1], bad, join(dir, 'missing.png'), gallery.paths[2]], {
      skipInvalid: true,
    });
    expect(report.added).toBe(2);
    expect(report.invalid.map((r) => r.id)).toEqual([bad, join(dir, 'missing.png')]);
    expect(report.invalid[1].error).toMatch(/ENOENT/);
    await search.dispose();
  });

  it('removes images', async () => {
    const search = await create();
    await search.addImages(gallery.paths);
    expect(await search.remove([gallery.paths[0], gallery.paths[4], 'unknown'])).toBe(2);
    expect(search.size).toBe(9);
    const hits = await search.search(QUERIES[0], { k: 100 });
    expect(hits.map((h) => h.id)).not.toContain(gallery.paths[0]);
    expect(hits).toHaveLength(9);
    await search.dispose();
  });

  it('saves and loads an index (float32 exact, float16 close), refusing another model', async () => {
    const search = await create();
    await search.addImages(gallery.paths, { metadata: gallery.paths.map((_, i) => ({ index: i })) });
    const want = await search.search(QUERIES, { k: 11 });
    const file = join(dir, 'gallery.index');
    await search.save(file);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    const again = await PersonSearch.load(file, { model, tokenizer: tinyTokenizer });
    expect(again.size).toBe(11);
    expect(await again.search(QUERIES, { k: 11 })).toEqual(want);
    await again.dispose();
    await search.save(file, { float16: true });
    const half = await PersonSearch.load(readFileSync(file), { model, tokenizer: tinyTokenizer });
    const got = await half.search(QUERIES[0], { k: 11 });
    const byId = new Map(want[0].map((h) => [h.id, h.score]));
    for (const h of got) expect(Math.abs(h.score - (byId.get(h.id) as number))).toBeLessThan(2e-3);
    await half.dispose();
    const other = await IRRA.load(fixturePath('tiny_a.clip_state_dict.pt'), TINY_A);
    await expect(PersonSearch.load(file, { model: other, tokenizer: tinyTokenizer })).rejects.toThrow(
      /was built with another model or preprocessing/,
    );
    other.dispose();
    await expect(
      PersonSearch.load(fixturePath('tiny_a.hf.safetensors'), { model, tokenizer: tinyTokenizer }),
    ).rejects.toThrow(/is not an irra-tfjs index/);
    await expect(search.save(join(dir, 'no', 'such', 'dir', 'x.index'))).rejects.toThrow(/cannot write/);
    expect(existsSync(join(dir, 'no'))).toBe(false);
    await search.dispose();
  });

  it('explains a hit with the cross-attention map on the patch grid', async () => {
    const before = tf.memory().numTensors;
    const search = await create();
    await search.addImages(gallery.paths.slice(0, 2));
    const e = await search.explain(QUERIES[0], gallery.paths[1]);
    expect(e.grid).toEqual([4, 2]);
    expect(e.map).toHaveLength(8);
    const mass = e.map.reduce((a, b) => a + b, 0);
    expect(mass).toBeGreaterThan(0);
    expect(mass).toBeLessThanOrEqual(1 + 1e-5);
    const direct = await search.explain(QUERIES[0], gallery.images[1]);
    expect(Array.from(direct.map)).toEqual(Array.from(e.map));
    await expect(search.explain(QUERIES[0], 'unknown-id')).rejects.toThrow(/not an id added in this session/);
    await search.dispose();
    const clip = await IRRA.load(fixturePath('tiny_a.clip_state_dict.pt'), TINY_A);
    const towers = await PersonSearch.create({ model: clip, tokenizer: tinyTokenizer });
    await expect(towers.explain('a man', gallery.images[0])).rejects.toThrow(/no IRR fusion encoder/);
    await towers.dispose();
    clip.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('supports `await using` (Symbol.asyncDispose)', async () => {
    const store = { closed: false };
    {
      await using search = await create();
      (search.store as unknown as { close: () => Promise<void> }).close = async () => {
        store.closed = true;
      };
    }
    expect(store.closed).toBe(true);
  });

  it('l2NormalizeRows gives unit rows (property) and keeps zero rows zero', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: 4, maxLength: 4 }), (row) => {
        const x = l2NormalizeRows(Float32Array.from(row), 4);
        const norm = Math.hypot(...x);
        if (row.every((v) => Math.fround(v) === 0)) expect(norm).toBe(0);
        else if (Math.hypot(...row) > 1e-6) expect(Math.abs(norm - 1)).toBeLessThan(1e-6);
      }),
    );
    expect(() => l2NormalizeRows(new Float32Array(5), 4)).toThrow(/5 values are not rows of 4/);
  });
});

describe.runIf(process.env.IRRA_TEST_BACKEND === 'wasm')('PersonSearch with worker threads', () => {
  it('encodes in 2 workers to the same features as in-process', async () => {
    const one = await create();
    const two = await create();
    await one.addImages(gallery.paths);
    await two.addImages(gallery.paths, { workers: 2 });
    const a = await one.search(QUERIES, { k: 11 });
    const b = await two.search(QUERIES, { k: 11 });
    for (let q = 0; q < QUERIES.length; q++) {
      expect(b[q].map((h) => h.id)).toEqual(a[q].map((h) => h.id));
      for (const [i, h] of b[q].entries()) expect(Math.abs(h.score - a[q][i].score)).toBeLessThan(1e-5);
    }
    await one.dispose();
    await two.dispose();
  }, 300_000);
});
