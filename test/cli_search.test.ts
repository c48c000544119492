import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandIndex, indexHelp, parseIndexOptions } from '../src/cli/index_command';
import { commandSearch, parseSearchOptions, searchHelp } from '../src/cli/search_command';
import { irraConfig } from '../src/config';
import { IRRA } from '../src/model/irra';
import { PersonSearch } from '../src/search/person_search';
import { lanceStore } from '../src/search/stores/lancedb';
import { ClipTokenizer } from '../src/tokenizer/clip_tokenizer';
import { saveSafetensors } from '../src/weights/checkpoint';
import { parseSafetensors } from '../src/weights/safetensors';
import { CHROMIUM, hasChromium } from './helpers/chromium';
import { captureIO } from './helpers/command_io';
import { fixturePath, vocabPath } from './helpers/fixtures';
import { killMidway } from './helpers/kill_midway';
import { pngBytes, referenceScores, syntheticImage, TINY_A, writeGallery } from './helpers/search_fixtures';
import { torchSaveStateDict } from './helpers/torch_pickle';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const CLI = join(repo, 'src/cli/main.ts');

interface JsonResult {
  query: string;
  results: Array<{ id: string; score: number; rank: number }>;
}

const QUERIES = ['a woman in a red coat with a black bag', 'a man wearing blue jeans and white shoes', 'short hair'];
const GEOMETRY = ['--img_size', '32,16', '--stride_size', '8', '--backend', 'cpu'];
const COUNT = 10;

const dir = mkdtempSync(join(tmpdir(), 'irra-cli-search-'));
const images = join(dir, 'gallery');
const checkpoint = join(dir, 'tiny_clip_vocab.safetensors');
const otherCheckpoint = join(dir, 'other.safetensors');
const clipOnly = join(dir, 'clip_only.safetensors');
const indexFile = join(dir, 'gallery.index');
let gallery: ReturnType<typeof writeGallery>;
/** Relative ids of the gallery, as the CLI makes them (sorted). */
let ids: string[];

/** A tiny model whose text tower takes CLIP's 49,408 ids, so that the shipped tokenizer fits it. */
function writeModel(path: string, seed: number, lossNames?: Array<'sdm' | 'id' | 'mlm'>): void {
  const model = IRRA.create(irraConfig({ preset: 'tiny', vocabSize: 49408, ...(lossNames ? { lossNames } : {}) }), {
    seed,
  });
  writeFileSync(path, saveSafetensors(model));
  model.dispose();
}

const idOf = (path: string) =>
  path
    .slice(images.length + 1)
    .split('\\')
    .join('/');

async function run(
  command: typeof commandIndex,
  argv: string[],
  io = captureIO(),
): Promise<{ code: number; out: string; io: typeof io }> {
  const code = await command(argv, io);
  return { code, out: io.text(), io };
}

/** `index --checkpoint ckpt --images folder ...argv` at the test geometry. */
const indexCli = (ckpt: string, folder: string, argv: string[], io = captureIO()) =>
  run(commandIndex, ['--checkpoint', ckpt, '--images', folder, ...argv, ...GEOMETRY], io);

/** `search --checkpoint ckpt ...argv` at the test geometry. */
const searchCli = (ckpt: string, argv: string[]) => run(commandSearch, ['--checkpoint', ckpt, ...GEOMETRY, ...argv]);

const searchJson = async (argv: string[]): Promise<JsonResult[]> => {
  const { out } = await searchCli(checkpoint, ['--json', ...argv]);
  return out
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as JsonResult);
};

beforeAll(async () => {
  gallery = writeGallery(images, COUNT, 4);
  mkdirSync(join(images, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(images, 'sub', 'deeper', 'extra.png'), pngBytes(syntheticImage(77, 48, 24)));
  gallery.paths.push(join(images, 'sub', 'deeper', 'extra.png'));
  gallery.images.push(syntheticImage(77, 48, 24));
  writeFileSync(join(images, 'notes.txt'), 'not an image');
  ids = gallery.paths.map(idOf).sort();
  writeModel(checkpoint, 5);
  writeModel(otherCheckpoint, 6);
  writeModel(clipOnly, 7, ['sdm']);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('irra-tfjs index / search: options and help', () => {
  it('index: required options, defaults, --workers with onnxruntime refused', () => {
    expect(indexHelp()).toContain('--store lancedb://DIR');
    expect(indexHelp()).toContain('--batch_size N');
    expect(() => parseIndexOptions(['--images', 'x', '--out', 'y'])).toThrow(/index: --checkpoint PATH is required/);
    expect(() => parseIndexOptions(['--checkpoint', 'c', '--out', 'y'])).toThrow(/index: --images DIR is required/);
    expect(() => parseIndexOptions(['--checkpoint', 'c', '--images', 'x'])).toThrow(/--out FILE is required/);
    expect(() => parseIndexOptions(['--checkpoint', 'c', '--images', 'x', '--store', 'folder'])).toThrow(
      /index: --store: expected lancedb:\/\/DIR .*got 'folder'/,
    );
    expect(() =>
      parseIndexOptions([
        '--checkpoint',
        'c',
        '--images',
        'x',
        '--out',
        'y',
        '--workers',
        '2',
        '--engine',
        'onnxruntime',
      ]),
    ).toThrow(/--workers 2 needs --engine tfjs/);
    expect(parseIndexOptions(['--checkpoint', 'c', '--images', 'x', '--store', 'lancedb://d'])).toMatchObject({
      workers: 1,
      batch_size: 8,
      skip_invalid: false,
      engine: 'tfjs',
    });
  });

  it('search: queries as arguments, required options, empty queries refused', () => {
    expect(searchHelp()).toContain('--k N');
    expect(searchHelp()).toContain('(default 10)');
    const parsed = parseSearchOptions(['--index', 'i', '--checkpoint', 'c', 'a red coat', '--k', '3', 'short hair']);
    expect(parsed?.queries).toEqual(['a red coat', 'short hair']);
    expect(parsed?.options).toMatchObject({ index: 'i', k: 3, json: false, engine: 'tfjs' });
    expect(() => parseSearchOptions(['--checkpoint', 'c', 'q'])).toThrow(/search: --index FILE is required/);
    expect(() => parseSearchOptions(['--index', 'i', 'q'])).toThrow(/search: --checkpoint PATH is required/);
    expect(() => parseSearchOptions(['--index', 'i', '--checkpoint', 'c'])).toThrow(/give at least one query/);
    expect(() => parseSearchOptions(['--index', 'i', '--checkpoint', 'c', '  '])).toThrow(/search: query 1 is empty/);
    expect(() => parseSearchOptions(['--index', 'i', '--checkpoint', 'c', '--k', '0', 'q'])).toThrow(
      /search: --k: expected a value >= 1, got '0'/,
    );
  });
});

describe.runIf(process.env.IRRA_TEST_BACKEND === 'cpu')('irra-tfjs index / search end to end (cpu)', () => {
  beforeAll(async () => {
    await indexCli(checkpoint, images, ['--out', indexFile]);
  });

  it('index: a folder with subfolders; a corrupt file stops it unless --skip_invalid', async () => {
    const bad = join(images, 'sub', 'broken.png');
    writeFileSync(bad, 'not a png at all');
    try {
      const args = ['--checkpoint', checkpoint, '--images', images, '--out', join(dir, 'x.index'), ...GEOMETRY];
      await expect(run(commandIndex, args)).rejects.toThrow(
        /index: cannot read image '.*sub\/broken\.png' \(id 'sub\/broken\.png'\): .*JPEG or PNG.*--skip_invalid/,
      );
      expect(existsSync(join(dir, 'x.index'))).toBe(false);
      const { code, out, io } = await run(commandIndex, [...args, '--skip_invalid', '--batch_size', '4']);
      expect(code).toBe(0);
      expect(io.warnings.some((w) => w.startsWith("skipped 'sub/broken.png'"))).toBe(true);
      expect(out).toMatch(
        new RegExp(`index: ${COUNT + 1} added, 1 invalid, skipped in .* s .*; ${COUNT + 1} images → `),
      );
      // Log lines (not a terminal): done/total, images/s, ETA.
      expect(out).toMatch(/index: 4\/12 images, [\d.]+ images\/s, ETA \d+s/);
      const saved = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'x.index'))));
      expect(saved.metadata.images_root).toBe(resolve(images));
      expect(saved.metadata.count).toBe(String(COUNT + 1));
    } finally {
      rmSync(bad);
    }
  });

  it('search --json equals PersonSearch in-process and the reference chain (2e-3)', async () => {
    const before = tf.memory().numTensors;
    // Indexing the same folder again gives the same file, byte for byte (sorted ids, same features).
    const again = join(dir, 'again.index');
    const { code } = await indexCli(checkpoint, images, ['--out', again]);
    expect(code).toBe(0);
    expect(new Uint8Array(readFileSync(again))).toEqual(new Uint8Array(readFileSync(indexFile)));
    const { out } = await searchCli(checkpoint, ['--index', indexFile, '--json', '--k', '5', ...QUERIES]);
    expect(tf.memory().numTensors).toBe(before);
    // Exactly one line per query, in this exact layout, and nothing else.
    const lines = out.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines).toHaveLength(QUERIES.length + 1);
    const hit = '\\{"id": "[^"]+", "score": -?\\d[\\d.e-]*, "rank": \\d+\\}';
    for (const line of lines.slice(0, -1)) {
      expect(line).toMatch(new RegExp(`^\\{"query": "[^"]+", "results": \\[${hit}(, ${hit})*\\]\\}$`));
    }
    const got = lines.slice(0, -1).map((l) => JSON.parse(l) as JsonResult);
    expect(got.map((g) => g.query)).toEqual(QUERIES);
    // The same gallery through the API.
    const model = await IRRA.load(checkpoint, TINY_A);
    const tokenizer = await ClipTokenizer.load();
    const search = await PersonSearch.create({ model, tokenizer });
    const order = gallery.paths.map((p, i) => ({ p, i, id: idOf(p) })).sort((a, b) => (a.id < b.id ? -1 : 1));
    await search.addImages(
      order.map((r) => r.p),
      { ids: order.map((r) => r.id) },
    );
    const api = await search.search(QUERIES, { k: 5 });
    const reference = referenceScores(
      model,
      order.map((r) => gallery.images[r.i]),
      tokenizer.tokenizeToArray(QUERIES, { contextLength: model.config.contextLength, truncate: true }),
    );
    await search.dispose();
    model.dispose();
    let apiError = 0;
    let refError = 0;
    got.forEach((g, q) => {
      expect(g.results.map((r) => r.id)).toEqual(api[q].map((h) => h.id));
      expect(g.results.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5]);
      const want = reference[q]
        .map((score, i) => ({ score, id: order[i].id, i }))
        .sort((a, b) => b.score - a.score || a.i - b.i)
        .slice(0, 5);
      expect(g.results.map((r) => r.id)).toEqual(want.map((w) => w.id));
      g.results.forEach((r, j) => {
        apiError = Math.max(apiError, Math.abs(r.score - api[q][j].score));
        refError = Math.max(refError, Math.abs(r.score - want[j].score));
      });
    });
    console.log(
      `[cli search] largest score error: vs PersonSearch ${apiError.toExponential(2)}, vs the reference chain ${refError.toExponential(2)}`,
    );
    expect(apiError).toBeLessThanOrEqual(1e-6);
    expect(refError).toBeLessThan(2e-3);
  });

  it('an IRRA best.pth (torch.save zip) of the same weights gives the same index, byte for byte', async () => {
    const model = await IRRA.load(checkpoint, TINY_A);
    const state = model.stateDict();
    const pth = join(dir, 'best.pth');
    writeFileSync(pth, torchSaveStateDict(state));
    for (const t of state.values()) t.dispose();
    model.dispose();
    const out = join(dir, 'from_pth.index');
    const { code } = await indexCli(pth, images, ['--out', out]);
    expect(code).toBe(0);
    expect(new Uint8Array(readFileSync(out))).toEqual(new Uint8Array(readFileSync(indexFile)));
    const a = await searchCli(pth, ['--index', indexFile, '--json', ...QUERIES]);
    const b = await searchCli(checkpoint, ['--index', indexFile, '--json', ...QUERIES]);
    expect(a.out).toBe(b.out);
  });

  it('PersonSearch.save keeps extra metadata but never over the index’s own keys', async () => {
    const model = await IRRA.load(checkpoint, TINY_A);
    const search = await PersonSearch.create({ model });
    try {
      await search.addImages(gallery.paths.slice(0, 2));
      const bytes = await search.serialize({ metadata: { images_root: '/x', note: 'n' } });
      expect(parseSafetensors(bytes).metadata).toMatchObject({
        images_root: '/x',
        note: 'n',
        format: 'irra-tfjs-index',
      });
      await expect(search.serialize({ metadata: { fingerprint: 'f' } })).rejects.toThrow(
        /PersonSearch\.serialize: options\.metadata cannot set the index's own key 'fingerprint'/,
      );
    } finally {
      await search.dispose();
      model.dispose();
    }
  });

  it('--engine onnxruntime searches the same index with the same results (1e-5)', async () => {
    const tfjs = await searchJson(['--index', indexFile, '--k', '4', ...QUERIES]);
    const ort = await searchJson(['--index', indexFile, '--k', '4', '--engine', 'onnxruntime', ...QUERIES]);
    let worst = 0;
    ort.forEach((o, q) => {
      expect(o.results.map((r) => r.id)).toEqual(tfjs[q].results.map((r) => r.id));
      o.results.forEach((r, j) => {
        worst = Math.max(worst, Math.abs(r.score - tfjs[q].results[j].score));
      });
    });
    console.log(`[cli search] --engine onnxruntime vs tfjs: largest score difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
  });

  it('prints a table per query; --queries FILE; --k larger than the gallery gives all of it', async () => {
    const queries = join(dir, 'queries.txt');
    writeFileSync(queries, `${QUERIES[0]}\n\n  ${QUERIES[2]}  \r\n`);
    const { out } = await searchCli(checkpoint, ['--index', indexFile, '--k', '3', '--queries', queries, QUERIES[1]]);
    const json = await searchJson(['--index', indexFile, '--k', '3', '--queries', queries, QUERIES[1]]);
    expect(json.map((j) => j.query)).toEqual([QUERIES[1], QUERIES[0], QUERIES[2]]);
    const blocks = out.trimEnd().split('\n\n');
    expect(blocks).toHaveLength(3);
    blocks.forEach((block, q) => {
      const rows = block.split('\n');
      expect(rows[0]).toBe(`query ${q + 1}: ${json[q].query}`);
      expect(rows[1]).toBe('  rank   score  id');
      expect(rows.slice(2)).toEqual(
        json[q].results.map((r) => `  ${String(r.rank).padStart(4)}  ${r.score.toFixed(4).padStart(6)}  ${r.id}`),
      );
    });
    const all = await searchJson(['--index', indexFile, '--k', '100', QUERIES[0]]);
    expect(all[0].results).toHaveLength(ids.length);
    expect(all[0].results.map((r) => r.id).sort()).toEqual(ids);
    expect(all[0].results.map((r) => r.rank)).toEqual(ids.map((_, i) => i + 1));
  });

  it('errors: missing index, another checkpoint (fingerprint), empty query, empty folder, CLIP ids beyond the vocabulary', async () => {
    const search = (argv: string[]) => run(commandSearch, [...GEOMETRY, ...argv]);
    await expect(search(['--index', join(dir, 'nope.index'), '--checkpoint', checkpoint, 'q'])).rejects.toThrow(
      /search: --index: cannot read '.*nope\.index'/,
    );
    await expect(search(['--index', indexFile, '--checkpoint', otherCheckpoint, 'a red coat'])).rejects.toThrow(
      /search: --index '.*gallery\.index' was built with another model or preprocessing \(fingerprint [0-9a-f]+, this model's is [0-9a-f]+\)/,
    );
    await expect(search(['--index', indexFile, '--checkpoint', checkpoint, ''])).rejects.toThrow(
      /search: query 1 is empty/,
    );
    const blank = join(dir, 'blank.txt');
    writeFileSync(blank, '\n  \n');
    await expect(search(['--index', indexFile, '--checkpoint', checkpoint, '--queries', blank])).rejects.toThrow(
      /search: --queries: '.*blank\.txt' holds no query/,
    );
    await expect(search(['--index', checkpoint, '--checkpoint', checkpoint, 'q'])).rejects.toThrow(
      /search: --index '.*' is not an irra-tfjs index/,
    );
    const otherJson = join(dir, 'other.json');
    writeFileSync(otherJson, '{"format": "something else"}');
    await expect(search(['--index', otherJson, '--checkpoint', checkpoint, 'q'])).rejects.toThrow(
      /search: --index '.*other\.json' is not an irra-tfjs index pointer/,
    );
    // Binary bytes that happen to start with '{' are read as an index, not as a pointer.
    const brace = join(dir, 'brace.index');
    writeFileSync(brace, Uint8Array.of(0x7b, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe));
    await expect(search(['--index', brace, '--checkpoint', checkpoint, 'q'])).rejects.toThrow(
      /search: --index '.*brace\.index' is not an index file/,
    );
    await expect(
      run(commandIndex, ['--checkpoint', checkpoint, '--images', images, '--out', join(dir, 'no', 'such', 'g.index')]),
    ).rejects.toThrow(/index: --out: the folder of '.*no\/such\/g\.index' does not exist/);
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    await expect(indexCli(checkpoint, empty, ['--out', join(dir, 'e.index')])).rejects.toThrow(
      /index: --images: '.*empty' holds no \.jpg \.jpeg \.png \.webp files/,
    );
    await expect(indexCli(checkpoint, join(dir, 'absent'), ['--out', 'e.index'])).rejects.toThrow(
      /index: --images: '.*absent' does not exist/,
    );
    await expect(indexCli(join(dir, 'absent.pth'), images, ['--out', 'e.index'])).rejects.toThrow(
      /index: --checkpoint: IRRA\.load\('.*absent\.pth'\)/,
    );
    // The tiny_a fixture's text tower takes 512 ids: the shipped CLIP tokenizer does not fit it.
    await expect(indexCli(fixturePath('tiny_a.irra.pth'), images, ['--out', join(dir, 'e.index')])).rejects.toThrow(
      /index: --vocab: the tokenizer has 49408 ids .* takes 512; pass --vocab PATH/,
    );
  });

  it('the command exits non-zero with the message on stderr (child process)', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        CLI,
        'search',
        '--index',
        join(dir, 'missing.index'),
        '--checkpoint',
        checkpoint,
        'a red coat',
      ],
      { cwd: repo, encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/irra-tfjs: search: --index: cannot read '.*missing\.index'/);
    expect(r.stdout).toBe('');
  });

  it('draws a progress bar on a terminal: done/total, images/s, ETA', async () => {
    const tty = captureIO(true);
    await indexCli(checkpoint, images, ['--out', join(dir, 't.index')], tty);
    const text = tty.text();
    expect(text).toMatch(/index \[[█░]+\] 11\/11 images \| [\d.]+ images\/s \| ETA \d+s/);
  });

  it('indexes .webp with sharp', async () => {
    const webDir = join(dir, 'webp');
    mkdirSync(webDir, { recursive: true });
    const img = syntheticImage(5, 40, 20);
    writeFileSync(join(webDir, 'a.png'), pngBytes(img));
    await sharp(Buffer.from(img.data), { raw: { width: 20, height: 40, channels: 3 } })
      .webp({ lossless: true })
      .toFile(join(webDir, 'b.webp'));
    const out = join(dir, 'webp.index');
    await indexCli(checkpoint, webDir, ['--out', out]);
    // --vocab: a CLIP BPE file given explicitly (here the same vocabulary as the shipped one).
    const json = await searchJson(['--index', out, '--k', '5', '--vocab', vocabPath(), QUERIES[0]]);
    expect(json[0].results.map((r) => r.id).sort()).toEqual(['a.png', 'b.webp']);
    // Lossless WebP: the same pixels, the same feature.
    expect(json[0].results[0].score).toBeCloseTo(json[0].results[1].score, 6);
  });

  it('LanceDB: --store gives the memory index’s results; --out writes a pointer; another model is refused', async () => {
    const store = join(dir, 'lance');
    const pointer = join(dir, 'lance.json');
    const { out } = await indexCli(checkpoint, images, [
      '--store',
      `lancedb://${store}`,
      '--out',
      pointer,
      '--batch_size',
      '4',
    ]);
    expect(out).toMatch(/11 added in .*; 11 images → lancedb:\/\//);
    expect(JSON.parse(readFileSync(pointer, 'utf8'))).toMatchObject({
      format: 'irra-tfjs-index-pointer',
      store: `lancedb://${resolve(store)}`,
      images_root: resolve(images),
      dim: 128,
    });
    const memory = await searchJson(['--index', indexFile, '--k', '4', ...QUERIES]);
    for (const args of [
      ['--store', `lancedb://${store}`],
      ['--index', pointer],
    ]) {
      const lance = await searchJson([...args, '--k', '4', ...QUERIES]);
      lance.forEach((l, q) => {
        expect(l.results.map((r) => r.id)).toEqual(memory[q].results.map((r) => r.id));
        l.results.forEach((r, j) => {
          expect(Math.abs(r.score - memory[q].results[j].score)).toBeLessThan(1e-6);
        });
      });
    }
    await expect(searchCli(otherCheckpoint, ['--store', `lancedb://${store}`, 'q'])).rejects.toThrow(
      /search: --store lancedb:\/\/.* was built with another model or preprocessing/,
    );
    await expect(indexCli(otherCheckpoint, images, ['--store', `lancedb://${store}`])).rejects.toThrow(
      /index: --store lancedb:\/\/.* was built with another model or preprocessing/,
    );
    await expect(searchCli(checkpoint, ['--store', `lancedb://${join(dir, 'no-store')}`, 'q'])).rejects.toThrow(
      /search: --store lancedb:\/\/.*no-store: no such folder/,
    );
    // A second run stores nothing twice.
    const again = await indexCli(checkpoint, images, ['--store', `lancedb://${store}`]);
    expect(again.out).toMatch(/index: 0 added, 11 already stored in .*; 11 images → lancedb:/);
  });

  it('LanceDB: an index SIGKILLed midway resumes: every image stored exactly once, nothing lost', async () => {
    const big = join(dir, 'big');
    const many = writeGallery(big, 30, 9);
    const store = join(dir, 'lance-resume');
    const args = [
      'index',
      '--checkpoint',
      checkpoint,
      '--images',
      big,
      '--store',
      `lancedb://${store}`,
      '--batch_size',
      '2',
      ...GEOMETRY,
    ];
    const killed = await killMidway(CLI, args, {
      killWhen: (out) => /index: \d+\/30 images/.test(out),
      timeoutMs: 120_000,
      cwd: repo,
    });
    expect(killed.signal, `stdout: ${killed.stdout}\nstderr: ${killed.stderr}`).toBe('SIGKILL');
    expect(killed.stdout).not.toMatch(/added/);
    const partial = await lanceStore(store);
    const storedBefore = await partial.count();
    await partial.close();
    expect(storedBefore).toBeGreaterThan(0);
    expect(storedBefore).toBeLessThan(30);
    const rerun = await killMidway(CLI, args, { killWhen: () => false, timeoutMs: 120_000, cwd: repo });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain(`${30 - storedBefore} added, ${storedBefore} already stored`);
    console.log(
      `[cli search] SIGKILLed after ${storedBefore} of 30 images were stored; the rerun added ${30 - storedBefore}`,
    );
    const done = await lanceStore(store);
    try {
      const stored: string[] = [];
      for await (const block of done.rows()) stored.push(...block.ids);
      const want = many.paths.map((p) => p.slice(big.length + 1)).sort();
      expect(stored.length).toBe(30);
      expect([...stored].sort()).toEqual(want);
      expect(new Set(stored).size).toBe(30);
    } finally {
      await done.close();
    }
    // The resumed store searches like a memory index built in one go.
    const memory = join(dir, 'big.index');
    await indexCli(checkpoint, big, ['--out', memory]);
    const a = await searchJson(['--index', memory, '--k', '30', QUERIES[1]]);
    const b = await searchJson(['--store', `lancedb://${store}`, '--k', '30', QUERIES[1]]);
    expect(b[0].results.map((r) => r.id)).toEqual(a[0].results.map((r) => r.id));
  });

  describe('--html', () => {
    const html = join(dir, 'page.html');
    const k = 3;
    let json: JsonResult[];

    beforeAll(async () => {
      await searchCli(checkpoint, ['--index', indexFile, '--k', String(k), '--html', html, QUERIES[0], QUERIES[2]]);
      json = await searchJson(['--index', indexFile, '--k', String(k), QUERIES[0], QUERIES[2]]);
    });

    it('writes one self-contained page: inline thumbnails, the --json scores, a heat map per hit', () => {
      const page = readFileSync(html, 'utf8');
      expect(page).not.toMatch(/(src|href)="(?!data:)/);
      expect(page).not.toMatch(/url\(|@import|<script|<link/);
      expect(page.match(/<section class="query"/g)).toHaveLength(2);
      expect(page.match(/<img class="thumb" src="data:image\/png;base64,/g)).toHaveLength(2 * k);
      expect(page.match(/<img class="heatmap" src="data:image\/png;base64,/g)).toHaveLength(2 * k);
      for (const r of json.flatMap((j) => j.results)) expect(page).toContain(`data-score="${r.score}"`);
    });

    // Without Chromium, vitest.config.ts has printed one line saying how to install it.
    it.runIf(hasChromium())('Chromium: sections, hits, data: images, scores, heat maps; screenshot', async () => {
      const { chromium } = await import('playwright');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--use-angle=swiftshader'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        const requests: string[] = [];
        page.on('request', (r) => {
          if (!r.url().startsWith('data:') && !r.url().startsWith('file:')) requests.push(r.url());
        });
        await page.goto(`file://${html}`);
        const dom = await page.evaluate(() =>
          Array.from(document.querySelectorAll('section.query')).map((s) => ({
            query: s.getAttribute('data-query'),
            hits: Array.from(s.querySelectorAll('li.hit')).map((li) => {
              const thumb = li.querySelector('img.thumb') as HTMLImageElement | null;
              const heat = li.querySelector('img.heatmap') as HTMLImageElement | null;
              return {
                id: li.getAttribute('data-id'),
                score: li.getAttribute('data-score'),
                shown: li.querySelector('.score')?.textContent,
                thumb: thumb?.src.slice(0, 22),
                thumbLoaded: thumb ? thumb.complete && thumb.naturalWidth > 0 : false,
                heat: heat?.src.slice(0, 22),
                heatCoversThumb: heat && thumb ? heat.width === thumb.width && heat.height === thumb.height : false,
              };
            }),
          })),
        );
        expect(dom).toHaveLength(2);
        dom.forEach((section, q) => {
          expect(section.query).toBe(json[q].query);
          expect(section.hits).toHaveLength(k);
          section.hits.forEach((h, j) => {
            const want = json[q].results[j];
            expect(h).toEqual({
              id: want.id,
              score: String(want.score),
              shown: want.score.toFixed(4),
              thumb: 'data:image/png;base64,',
              thumbLoaded: true,
              heat: 'data:image/png;base64,',
              heatCoversThumb: true,
            });
          });
        });
        expect(requests).toEqual([]);
        mkdirSync(join(repo, 'test-results'), { recursive: true });
        await page.screenshot({ path: join(repo, 'test-results', 'cli_search_page.png'), fullPage: true });
      } finally {
        await browser.close();
      }
    });

    it('a CLIP-only checkpoint: the page says there is no heat map', async () => {
      const clipIndex = join(dir, 'clip.index');
      const clipHtml = join(dir, 'clip.html');
      const indexed = await indexCli(clipOnly, images, ['--out', clipIndex]);
      expect(indexed.io.warnings.join('\n')).toMatch(/CLIP towers only/);
      await searchCli(clipOnly, ['--index', clipIndex, '--k', '2', '--html', clipHtml, QUERIES[0]]);
      const page = readFileSync(clipHtml, 'utf8');
      expect(page).toContain('class="note no-heatmaps"');
      expect(page).toMatch(/CLIP towers only/);
      expect(page.match(/<img class="thumb"/g)).toHaveLength(2);
      expect(page).not.toContain('class="heatmap"');
    });

    it('--images overrides the recorded folder; images it lacks are marked on the page', async () => {
      const moved = join(dir, 'moved.html');
      await expect(
        searchCli(checkpoint, [
          '--index',
          indexFile,
          '--k',
          '1',
          '--images',
          join(dir, 'empty'),
          '--html',
          moved,
          QUERIES[0],
        ]),
      ).resolves.toMatchObject({ code: 0 });
      const page = readFileSync(moved, 'utf8');
      expect(page).toContain('class="frame missing"');
      expect(page).toMatch(/cannot read &#39;.*empty\/person_/);
    });
  });
});
