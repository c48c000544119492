import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRRA, irraConfig, PersonSearch, type SearchHit, saveSafetensors, selectBackend } from '../../src/index';
import { OWN_CHECKPOINT, OWN_GEOMETRY, type OwnGalleryItem, readOwnCheckpoint } from './own_checkpoint';
import { repo, type ServedPage, servePage, webDir } from './serve';

// "Open your own" in headless Chromium: a checkpoint trained here on SynthPedes with CLIP's
// vocabulary (web/test/own_checkpoint.ts, cached), as saveSafetensors output and as an IRRA-style
// .pth, and a folder of its held-out images as PNGs. The page must rank the gallery exactly as
// PersonSearch does in Node.

const dir = OWN_CHECKPOINT.dir;
const results = join(repo, 'test-results');
const TOP = 5;
const log = (line: string) => console.log(`[web own] ${line}`);
// IRRA_WEB_BACKENDS=webgl (say) runs the page on another backend; wasm is the default here
const backends = process.env.IRRA_WEB_BACKENDS ?? 'wasm';

let served: ServedPage;
let items: OwnGalleryItem[];
let galleryPaths: string[];
let query: { caption: string; pid: number; hits: SearchHit[] };
const pidOf = new Map<string, number>();
/** Ids as the page gives them to a chosen folder's files: `webkitRelativePath`, i.e. `gallery/<file>`. */
const idOf = (it: OwnGalleryItem) => `${OWN_CHECKPOINT.gallery}/${it.file}`;

/** The reference ranking: PersonSearch in Node over the PNG files, with the shipped CLIP tokenizer. */
async function nodeSearch(checkpoint: string, caption: string): Promise<SearchHit[]> {
  const model = await IRRA.load(join(dir, checkpoint), { ...OWN_GEOMETRY, imageSize: [...OWN_GEOMETRY.imageSize] });
  const search = await PersonSearch.create({ model });
  try {
    await search.addImages(
      items.map((it, i) => new File([readFileSync(galleryPaths[i])], it.file, { type: 'image/png' })),
      { ids: items.map(idOf) },
    );
    return await search.search(caption, { k: TOP });
  } finally {
    await search.dispose();
    model.dispose();
  }
}

beforeAll(async () => {
  const t0 = performance.now();
  const made = spawnSync(process.execPath, ['--import', 'tsx', join(webDir, 'test/own_checkpoint.ts')], {
    cwd: repo,
    stdio: 'inherit',
  });
  if (made.status !== 0) throw new Error(`web/test/own_checkpoint.ts failed with exit code ${made.status}`);
  log(`checkpoint ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const cached = readOwnCheckpoint();
  items = cached.items;
  galleryPaths = items.map((it) => join(dir, OWN_CHECKPOINT.gallery, it.file));
  for (const it of items) {
    pidOf.set(idOf(it), it.pid);
    pidOf.set(it.file, it.pid);
  }
  log(
    `model: CLIP vocabulary ${cached.manifest.vocabSize} (trained over ${cached.manifest.compactVocabSize} of its ids), R1 ${cached.manifest.trainedR1.toFixed(1)}% (chance ${cached.manifest.chanceR1.toFixed(1)}%), trained in ${cached.manifest.trainSeconds.toFixed(0)} s`,
  );

  // The query: of the captions whose person the model ranks first in Node, the one with the widest
  // margin between its first and second hit (so that rounding on another backend cannot swap them).
  const t1 = performance.now();
  await selectBackend(['wasm', 'cpu']);
  const model = await IRRA.load(join(dir, OWN_CHECKPOINT.safetensors), {
    ...OWN_GEOMETRY,
    imageSize: [...OWN_GEOMETRY.imageSize],
  });
  const search = await PersonSearch.create({ model });
  try {
    await search.addImages(galleryPaths, { ids: items.map(idOf) });
    let correct = 0;
    for (const it of items) {
      for (const caption of it.captions) {
        const hits = await search.search(caption, { k: TOP });
        if (pidOf.get(hits[0].id) !== it.pid) continue;
        correct++;
        const margin = hits[0].score - hits[1].score;
        if (!query || margin > query.hits[0].score - query.hits[1].score) query = { caption, pid: it.pid, hits };
      }
    }
    log(`${correct} of ${items.length * items[0].captions.length} captions rank their person first in Node`);
  } finally {
    await search.dispose();
    model.dispose();
  }
  if (!query) throw new Error('the trained model ranks no caption’s person first; retrain (own_checkpoint.ts --force)');
  log(
    `query "${query.caption}" (person ${query.pid}); Node top ${TOP}: ${query.hits.map((h) => `${h.id} ${h.score.toFixed(4)}`).join(', ')} (${((performance.now() - t1) / 1000).toFixed(1)} s)`,
  );
  served = await servePage(log);
});

afterAll(async () => {
  await served?.close();
});

/** Opens the page and waits until a backend is chosen and the demo part has settled. */
async function openPage(errors: string[]): Promise<Page> {
  const page = await served.open(errors);
  await page.goto(`${served.url}?backend=${encodeURIComponent(backends)}`);
  await page.waitForSelector('#status[data-state="ready"], #status[data-state="idle"]', { timeout: 300_000 });
  return page;
}

/** Loads a checkpoint through the page's inputs at the model's geometry; resolves with the page's status. */
async function loadCheckpoint(page: Page, path: string): Promise<string> {
  await page.fill('#own-height', String(OWN_GEOMETRY.imageSize[0]));
  await page.fill('#own-width', String(OWN_GEOMETRY.imageSize[1]));
  await page.fill('#own-stride', String(OWN_GEOMETRY.strideSize));
  await page.setInputFiles('#own-checkpoint', path);
  await page.click('#own-load');
  await page.waitForSelector('#own-status[data-state="loaded"], #own-status[data-state="error"]', {
    timeout: 120_000,
  });
  return (await page.textContent('#own-status')) ?? '';
}

/** Waits for the results of `text` over the page's own gallery; returns the cards, best first. */
async function ownResults(page: Page, text: string) {
  await page.waitForFunction(
    (q) =>
      document.querySelector('#status')?.getAttribute('data-state') === 'ready' &&
      document.querySelector('#results')?.getAttribute('data-query') === q &&
      document.querySelector('#results')?.getAttribute('data-gallery') === 'own',
    text,
    { timeout: 120_000 },
  );
  return page.$$eval('#results .result', (cards) =>
    cards.map((c) => ({
      id: (c as HTMLElement).dataset.id as string,
      score: Number((c as HTMLElement).dataset.score),
      rank: Number((c as HTMLElement).dataset.rank),
      heat: c.querySelectorAll('canvas.heat').length,
      picture: c.querySelectorAll('img').length,
    })),
  );
}

describe('the page opens your own checkpoint and images', () => {
  it('is cross-origin isolated and says how many wasm threads run', async () => {
    const errors: string[] = [];
    const page = await openPage(errors);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.evaluate(() => typeof SharedArrayBuffer)).toBe('function');
    const backend = await page.getAttribute('#backend', 'data-backend');
    const threads = await page.getAttribute('#backend-detail', 'data-threads');
    log(
      `backend ${backend}, describeBackend().threads = ${threads || 'n/a'} (hardwareConcurrency ${await page.evaluate(() => navigator.hardwareConcurrency)}); "${await page.textContent('#backend-detail')}"`,
    );
    expect(await page.getAttribute('#backend-detail', 'data-isolated')).toBe('true');
    if (backend === 'wasm') expect(Number(threads)).toBeGreaterThanOrEqual(1);
    expect(errors).toEqual([]);
    await page.close();
  });

  for (const [format, file] of [
    ['safetensors', OWN_CHECKPOINT.safetensors],
    ['pth', OWN_CHECKPOINT.pth],
  ] as const) {
    it(`${format}: loads, indexes the folder with progress, and ranks the described person first as Node does`, async () => {
      const errors: string[] = [];
      const page = await openPage(errors);
      const t0 = performance.now();
      const status = await loadCheckpoint(page, join(dir, file));
      const tLoad = performance.now();
      expect(status).toMatch(/loaded/);
      expect(await page.getAttribute('#own-note', 'data-fusion')).toBe('true');
      // a webkitdirectory input takes the folder (playwright refuses a list of files for it)
      await page.setInputFiles('#own-folder', join(dir, OWN_CHECKPOINT.gallery));
      await page.waitForSelector('#own-status[data-state="indexed"]', { timeout: 300_000 });
      const tIndex = performance.now();
      const progress = await page.$eval('#own-progress', (p) => ({
        value: (p as HTMLProgressElement).value,
        max: (p as HTMLProgressElement).max,
      }));
      const rate = (await page.textContent('#own-rate')) ?? '';
      expect(progress).toEqual({ value: items.length, max: items.length });
      expect(rate).toMatch(new RegExp(`^${items.length}/${items.length} · [\\d.]+ images/s`));
      expect(await page.textContent('#own-status')).toMatch(new RegExp(`indexed ${items.length} images`));
      // search as you type: keystrokes, then the debounced search
      await page.locator('#query').pressSequentially(query.caption, { delay: 10 });
      const shown = await ownResults(page, query.caption);
      const tSearch = performance.now();
      log(
        `${format}: loaded in ${((tLoad - t0) / 1000).toFixed(1)} s, indexed ${items.length} images in ${((tIndex - tLoad) / 1000).toFixed(1)} s ("${rate}"), typed + searched + heat maps in ${((tSearch - tIndex) / 1000).toFixed(1)} s; page top ${TOP}: ${shown
          .slice(0, TOP)
          .map((s) => `${s.id} ${s.score.toFixed(4)}`)
          .join(', ')}`,
      );
      // the described person first, and the same top 5 as PersonSearch in Node
      expect(pidOf.get(shown[0].id)).toBe(query.pid);
      const reference = format === 'safetensors' ? query.hits : await nodeSearch(file, query.caption);
      expect(shown.slice(0, TOP).map((s) => s.id)).toEqual(reference.map((h) => h.id));
      const worst = Math.max(...reference.map((h, i) => Math.abs(h.score - shown[i].score)));
      log(`${format}: largest score difference page vs Node ${worst.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(1e-4);
      expect(shown.map((s) => s.rank)).toEqual(shown.map((_, i) => i + 1));
      expect(shown.every((s) => s.heat === 1 && s.picture === 1)).toBe(true);
      mkdirSync(results, { recursive: true });
      await page.screenshot({ path: join(results, `web-own-${format}.png`), fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
    });
  }

  it('a CLIP-only checkpoint: dropped images, results without heat maps, and a note saying why', async () => {
    // the trained towers alone (base_model.*), as a CLIP checkpoint holds them
    const full = await IRRA.load(join(dir, OWN_CHECKPOINT.safetensors), {
      ...OWN_GEOMETRY,
      imageSize: [...OWN_GEOMETRY.imageSize],
    });
    const state = full.stateDict();
    full.dispose();
    const towers = new Map([...state].filter(([k]) => k.startsWith('base_model.')));
    const path = join(dir, 'clip_only.safetensors');
    writeFileSync(path, saveSafetensors(towers));
    tf.dispose([...state.values()]);
    const errors: string[] = [];
    const page = await openPage(errors);
    expect(await loadCheckpoint(page, path)).toMatch(/CLIP towers only/);
    expect(await page.textContent('#own-note')).toMatch(/CLIP-only model: it has no IRR fusion encoder/);
    // drop 12 images on the zone
    const dropped = items.slice(0, 12).map((it, i) => ({
      name: it.file,
      base64: readFileSync(galleryPaths[i]).toString('base64'),
    }));
    const transfer = await page.evaluateHandle((files) => {
      const dt = new DataTransfer();
      for (const f of files) {
        const bytes = Uint8Array.from(atob(f.base64), (ch) => ch.charCodeAt(0));
        dt.items.add(new File([bytes], f.name, { type: 'image/png' }));
      }
      return dt;
    }, dropped);
    await page.dispatchEvent('#own-drop', 'drop', { dataTransfer: transfer });
    await page.waitForSelector('#own-status[data-state="indexed"]', { timeout: 120_000 });
    expect(await page.textContent('#own-status')).toMatch(/indexed 12 images/);
    await page.fill('#query', query.caption);
    await page.click('#search');
    const shown = await ownResults(page, query.caption);
    expect(shown.length).toBe(10);
    expect(new Set(shown.map((s) => s.id)).size).toBe(10);
    expect(shown.every((s) => dropped.some((d) => d.name === s.id))).toBe(true);
    expect(shown.every((s) => s.heat === 0 && s.picture === 1)).toBe(true);
    expect(await page.textContent('#status')).toMatch(/no heat maps \(CLIP-only model\)/);
    await page.screenshot({ path: join(results, 'web-own-clip-only.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a checkpoint with another vocabulary: says that it needs CLIP’s', async () => {
    const config = irraConfig({
      preset: 'tiny',
      imageSize: [...OWN_GEOMETRY.imageSize],
      visionPatchSize: 8,
      strideSize: OWN_GEOMETRY.strideSize,
      vocabSize: 300,
      contextLength: 16,
    });
    const model = IRRA.create(config, { seed: 1 });
    const path = join(dir, 'word_vocabulary.safetensors');
    writeFileSync(path, saveSafetensors(model));
    model.dispose();
    const errors: string[] = [];
    const page = await openPage(errors);
    const status = await loadCheckpoint(page, path);
    expect(await page.getAttribute('#own-status', 'data-state')).toBe('error');
    expect(status).toMatch(
      /word_vocabulary\.safetensors: its text tower has a vocabulary of 300 tokens, but the page tokenizes queries with CLIP's BPE vocabulary of 49408 tokens\. It needs a checkpoint trained with CLIP's vocabulary/,
    );
    expect(errors).toEqual([]);
    await page.close();
  });
});
