import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IRRA,
  type IRRAConfig,
  type LoadProgress,
  loadCheckpoint,
  resizePosEmbed,
  saveSafetensors,
  saveWeights,
  serializeTrainerCheckpoint,
} from '../src/index';
import { fixtureKeys, fixturePath, fixtureTensor } from './helpers/fixtures';

const TINY_A = { imageSize: [32, 16] as [number, number], strideSize: 8 };
const dir = mkdtempSync(join(tmpdir(), 'irra-load-'));
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const name = (req.url ?? '/').slice(1);
    try {
      const body = readFileSync(join(dir, name));
      res.writeHead(200, { 'content-length': body.byteLength, connection: 'close' });
      res.end(body);
    } catch {
      res.writeHead(404, { connection: 'close' });
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every parameter of `model` equals `step2.<name>` of tiny_a (what the .pth files hold), bit for bit. */
function expectStep2(model: IRRA, prefix = ''): void {
  const state = model.stateDict();
  try {
    const keys = fixtureKeys('tiny_a.safetensors', `step2.${prefix}`);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      const name = k.slice('step2.'.length);
      const want = fixtureTensor('tiny_a.safetensors', k);
      const got = state.get(name);
      expect(got, name).toBeDefined();
      expect(Array.from(got!.dataSync())).toEqual(Array.from(want.dataSync()));
      want.dispose();
    }
  } finally {
    for (const t of state.values()) t.dispose();
  }
}

/** Runs `f` and checks it leaves no tensor beyond the model it returns (disposed here). */
async function loadsWithoutLeak(f: () => Promise<IRRA>, check: (m: IRRA) => void): Promise<void> {
  const before = tf.memory().numTensors;
  const model = await f();
  try {
    expect(tf.memory().numTensors - before).toBe(model.countTensors());
    check(model);
  } finally {
    model.dispose();
  }
  expect(tf.memory().numTensors).toBe(before);
}

describe('IRRA.load', () => {
  it('reads an IRRA best.pth from a path, a file: URL, bytes, an ArrayBuffer and a Blob', async () => {
    const path = fixturePath('tiny_a.irra.pth');
    const bytes = new Uint8Array(readFileSync(path));
    for (const source of [
      path,
      `file://${path}`,
      new URL(`file://${path}`),
      bytes,
      bytes.slice().buffer,
      new Blob([bytes]),
    ]) {
      await loadsWithoutLeak(
        () => IRRA.load(source, TINY_A),
        (m) => {
          expect(m.config.lossNames).toEqual(['sdm', 'id', 'mlm']);
          expect(m.warnings).toEqual([]);
          expectStep2(m);
        },
      );
    }
  });

  it('reads CLIP-only checkpoints (state dict, Hugging Face) as the towers with sdm, and says so', async () => {
    for (const f of ['tiny_a.clip_state_dict.pt', 'tiny_a.hf.safetensors']) {
      const messages: string[] = [];
      await loadsWithoutLeak(
        () => IRRA.load(fixturePath(f), { ...TINY_A, onProgress: (p) => p.message && messages.push(p.message) }),
        (m) => {
          expect(m.config.lossNames).toEqual(['sdm']);
          expect(m.crossModal).toBeNull();
          expect(m.warnings).toHaveLength(1);
          expect(m.warnings[0]).toMatch(/CLIP towers only/);
          expect(messages).toEqual(m.warnings);
          expectStep2(m, 'base_model.');
        },
      );
    }
  });

  it('resizes a square CLIP grid to the default 384×128 / stride 16 geometry (TorchScript)', async () => {
    await loadsWithoutLeak(
      () => IRRA.load(fixturePath('clip_square.jit.pt')),
      (m) => {
        expect(m.config.imageSize).toEqual([384, 128]);
        expect(m.config.strideSize).toBe(16);
        expect(m.warnings.join('\n')).toMatch(/resized from a \d+×\d+ grid to 24×8/);
        const expected = fixtureTensor(
          'clip_square.expected.safetensors',
          'visual.positional_embedding',
        ) as tf.Tensor2D;
        const side = Math.round(Math.sqrt(expected.shape[0] - 1));
        const want = resizePosEmbed(expected, [side, side], [24, 8]);
        const got = m.stateDict();
        expect(Array.from(got.get('base_model.visual.positional_embedding')!.dataSync())).toEqual(
          Array.from(want.dataSync()),
        );
        for (const t of got.values()) t.dispose();
        tf.dispose([expected, want]);
      },
    );
  });

  it('downloads from http(s) with progress, and keeps the download in the Cache API with cache: true', async () => {
    writeFileSync(join(dir, 'best.pth'), readFileSync(fixturePath('tiny_a.irra.pth')));
    const progress: LoadProgress[] = [];
    await loadsWithoutLeak(
      () => IRRA.load(`${base}/best.pth`, { ...TINY_A, onProgress: (p) => progress.push(p) }),
      (m) => expectStep2(m),
    );
    const size = readFileSync(join(dir, 'best.pth')).byteLength;
    const downloads = progress.filter((p) => p.phase === 'download');
    expect(downloads.at(-1)).toEqual({ phase: 'download', loaded: size, total: size });
    const builds = progress.filter((p) => p.phase === 'build');
    expect(builds.at(-1)?.loaded).toBe(builds.at(-1)?.total);
    expect(builds.length).toBe(builds.at(-1)?.total);

    // A Cache API stand-in (Node has none): the second load is served from it.
    const store = new Map<string, Response>();
    const g = globalThis as { caches?: unknown };
    g.caches = {
      open: async () => ({
        match: async (url: string) => store.get(url)?.clone(),
        put: async (url: string, res: Response) => void store.set(url, res),
      }),
    };
    try {
      await loadsWithoutLeak(
        () => IRRA.load(`${base}/best.pth`, { ...TINY_A, cache: true }),
        (m) => expectStep2(m),
      );
      expect([...store.keys()]).toEqual([`${base}/best.pth`]);
      rmSync(join(dir, 'best.pth'));
      await loadsWithoutLeak(
        () => IRRA.load(`${base}/best.pth`, { ...TINY_A, cache: true }),
        (m) => expectStep2(m),
      );
      await expect(IRRA.load(`${base}/best.pth`, TINY_A)).rejects.toThrow(
        /IRRA\.load\('http:.*best\.pth'\): download: HTTP 404/,
      );
    } finally {
      delete g.caches;
    }
  });

  it('reads saveSafetensors output, a Map, the tfjs format (folder, model.json, URL) and a train checkpoint', async () => {
    const reference = await IRRA.load(fixturePath('tiny_a.irra.pth'), TINY_A);
    try {
      writeFileSync(join(dir, 'w.safetensors'), saveSafetensors(reference));
      await loadsWithoutLeak(
        () => IRRA.load(join(dir, 'w.safetensors'), TINY_A),
        (m) => expectStep2(m),
      );
      const map = reference.stateDict();
      await loadsWithoutLeak(
        () => IRRA.load(map, TINY_A),
        (m) => expectStep2(m),
      );
      expect([...map.values()].every((t) => !t.isDisposed)).toBe(true);
      for (const t of map.values()) t.dispose();
      await saveWeights(reference, `file://${join(dir, 'tfjs')}`);
      for (const source of [join(dir, 'tfjs'), join(dir, 'tfjs', 'model.json'), `${base}/tfjs/model.json`]) {
        await loadsWithoutLeak(
          () => IRRA.load(source, TINY_A),
          (m) => expectStep2(m),
        );
      }
      const weights = reference.stateDict();
      const bytes = serializeTrainerCheckpoint(
        { epoch: 3, bestR1: 1, bestEpoch: 2, weights, optimizer: { optimizer: 'Adam', step: 0, lrs: [], params: {} } },
        { config: reference.config },
      );
      for (const t of weights.values()) t.dispose();
      // The stored config gives the geometry: no imageSize needed.
      await loadsWithoutLeak(
        () => IRRA.load(bytes),
        (m) => {
          expect(m.config).toEqual(reference.config as IRRAConfig);
          expectStep2(m);
        },
      );
    } finally {
      reference.dispose();
    }
  });

  it('gives the same model as loadCheckpoint + fromStateDict', async () => {
    const weights = await loadCheckpoint(fixturePath('tiny_overlap.irra.pth'));
    const a = IRRA.fromStateDict(weights, { imageSize: [40, 24], strideSize: 6 });
    for (const t of weights.values()) t.dispose();
    const b = await IRRA.load(fixturePath('tiny_overlap.irra.pth'), { imageSize: [40, 24], strideSize: 6 });
    const sa = a.stateDict();
    const sb = b.stateDict();
    expect([...sb.keys()]).toEqual([...sa.keys()]);
    for (const [k, t] of sa) expect(Array.from(sb.get(k)!.dataSync()), k).toEqual(Array.from(t.dataSync()));
    tf.dispose([...sa.values(), ...sb.values()]);
    a.dispose();
    b.dispose();
  });

  it('fails with the source and the step named, and leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const pth = new Uint8Array(readFileSync(fixturePath('tiny_a.irra.pth')));
    const cases: Array<[Parameters<typeof IRRA.load>[0], Parameters<typeof IRRA.load>[1], RegExp]> = [
      ['/nonexistent/best.pth', {}, /IRRA\.load\('\/nonexistent\/best\.pth'\): read: .*ENOENT/],
      [new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), {}, /IRRA\.load\(10 bytes\): parse: .*neither safetensors/],
      [pth.subarray(0, pth.byteLength - 100), TINY_A, /IRRA\.load\(\d+ bytes\): parse: /],
      [
        fixturePath('tiny_a.irra.pth'),
        {},
        /config: the image positional embedding has 9 rows.*pass the imageSize and strideSize/,
      ],
      [fixturePath('tiny_a.irra.pth'), { ...TINY_A, strideSize: 0 }, /options\.strideSize must be a positive integer/],
      [42 as unknown as string, {}, /IRRA\.load\(\[object Number\]\): read: expected a path, a URL/],
    ];
    for (const [source, options, message] of cases) {
      await expect(IRRA.load(source, options)).rejects.toThrow(message);
    }
    const map = await loadCheckpoint(fixturePath('tiny_a.irra.pth'));
    const extra = tf.zeros([2]);
    map.set('extra.weight', extra);
    await expect(IRRA.load(map, TINY_A)).rejects.toThrow(
      /build: 1 weight\(s\) are not parameters of the inferred model: extra\.weight/,
    );
    const misshapen = map.get('base_model.ln_final.bias') as tf.Tensor;
    map.delete('extra.weight');
    map.set('base_model.ln_final.bias', tf.zeros([3]));
    await expect(IRRA.load(map, TINY_A)).rejects.toThrow(/IRRA\.load\(a state dict \(Map\)\): build: /);
    tf.dispose([...map.values(), misshapen, extra]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
