import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, readCheckpointRaw, readTorchArchive, serializeSafetensors } from '../src/weights/index';
import { fixturePath } from './helpers/fixtures';
import { bytesOf, PickleWriter, stateDictPickle, type TensorSpec, torchZip } from './helpers/torch_pickle';

/** Errors the readers raise on their own checks: every message starts with the module that found the problem. */
const CLEAN = /^(safetensors|zip|torch|pickle|readCheckpointRaw\(bytes\)|convertStateDict|detectFormat): /;

/** Runs `fn`; when it throws, the error must be one of the readers' own, with a clear message. */
function outcome(fn: () => unknown): 'ok' | 'error' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(CLEAN);
    return 'error';
  }
}

const sampleSafetensors = (): Uint8Array => {
  const map = new Map<string, tf.Tensor>([
    ['w', tf.tensor([1, 2, 3, 4, 5, 6], [2, 3])],
    ['ids', tf.tensor([1, 2], [2], 'int32')],
    ['b', tf.scalar(0.5)],
  ]);
  const bytes = serializeSafetensors(map, { note: 'fuzz' });
  for (const t of map.values()) t.dispose();
  return bytes;
};

const SPECS: TensorSpec[] = [
  { name: 'visual.proj', key: '0', storageType: 'FloatStorage', numel: 6, offset: 0, shape: [3, 2], stride: [1, 3] },
  { name: 'positional_embedding', key: '1', storageType: 'LongStorage', numel: 2, offset: 0, shape: [2], stride: [1] },
];
const sampleZip = (): Uint8Array =>
  torchZip(stateDictPickle(SPECS, 'model'), {
    '0': bytesOf(Float32Array.of(1, 2, 3, 4, 5, 6)),
    '1': bytesOf(BigInt64Array.of(3n, -4n)),
  });

/** A zip whose data.pkl is `pickle` and which has one float storage '0' of 4 elements. */
const zipWithPickle = (pickle: Uint8Array): Uint8Array => torchZip(pickle, { '0': new Uint8Array(16) });

/**
 * Two property tests of a reader on corrupted copies of a valid file `good`: every truncation
 * is rejected with a clear error, and flipped bytes never fail unclearly.
 */
function itRejectsCorruptedCopiesOf(good: Uint8Array, read: (bytes: Uint8Array) => unknown): void {
  it('rejects every truncation with a clear error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), (n) => {
        expect(outcome(() => read(good.slice(0, n)))).toBe('error');
      }),
      { numRuns: 300 },
    );
  });

  it('never fails unclearly on flipped bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        (flips) => {
          const b = good.slice();
          for (const [i, x] of flips) b[i] ^= x;
          outcome(() => read(b));
        },
      ),
      { numRuns: 500 },
    );
  });
}

/** Backend-agnostic (no tfjs kernels involved): run once, on the cpu project. */
const onCpu = describe.runIf(process.env.IRRA_TEST_BACKEND === 'cpu');

onCpu('safetensors reader under hostile input', () => {
  const good = sampleSafetensors();

  itRejectsCorruptedCopiesOf(good, parseSafetensors);

  it('rejects huge declared header lengths before allocating', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: BigInt(good.length - 7), max: (1n << 64n) - 1n }), (len) => {
        const b = good.slice();
        new DataView(b.buffer).setBigUint64(0, len, true);
        expect(() => parseSafetensors(b)).toThrow(
          /^safetensors: declared header length \d+ does not fit in a file of \d+ bytes/,
        );
      }),
      { numRuns: 200 },
    );
  });

  it('rejects shapes and offsets that the file cannot hold', () => {
    const header = (shape: number[], offsets: number[]): Uint8Array => {
      const json = new TextEncoder().encode(JSON.stringify({ t: { dtype: 'F32', shape, data_offsets: offsets } }));
      const b = new Uint8Array(8 + json.length + 16);
      new DataView(b.buffer).setBigUint64(0, BigInt(json.length), true);
      b.set(json, 8);
      return b;
    };
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { maxLength: 4 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (shape, a, b) => {
          const count = shape.reduce((x, y) => x * y, 1);
          const fits = a <= b && b <= 16 && count * 4 === b - a;
          expect(outcome(() => parseSafetensors(header(shape, [a, b])))).toBe(fits ? 'ok' : 'error');
        },
      ),
      { numRuns: 300 },
    );
  });
});

onCpu('PyTorch zip + pickle reader under hostile input', () => {
  const good = sampleZip();

  it('reads the sample archive (sanity check for the cases below)', () => {
    const { tensors } = readTorchArchive(good);
    expect([...(tensors.get('visual.proj')?.data ?? [])]).toEqual([1, 4, 2, 5, 3, 6]);
    expect([...(tensors.get('positional_embedding')?.data ?? [])]).toEqual([3, -4]);
  });

  itRejectsCorruptedCopiesOf(good, readCheckpointRaw);

  it('never fails unclearly on random pickle bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        outcome(() => readTorchArchive(zipWithPickle(Uint8Array.of(0x80, 2, ...junk))));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses any global outside the whitelist, naming it', () => {
    const ident = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.]{0,24}$/);
    fc.assert(
      fc.property(ident, ident, (module, name) => {
        fc.pre(!(module === 'collections' && name === 'OrderedDict') && !module.startsWith('torch'));
        const pkl = new PickleWriter().proto().global(module, name).emptyTuple().reduce().stop().build();
        expect(() => readTorchArchive(zipWithPickle(pkl))).toThrow(
          `'${module}.${name}', which this safe loader does not allow`,
        );
      }),
      { numRuns: 200 },
    );
    const os = new PickleWriter().proto().global('os', 'system').str('rm -rf /').op(0x85).reduce().stop().build();
    expect(() => readTorchArchive(zipWithPickle(os))).toThrow(
      /global 'os.system', which this safe loader does not allow/,
    );
    const jit = new PickleWriter().proto().global('__torch__', 'Evil').emptyTuple().op(0x81).stop().build();
    expect(() => readTorchArchive(zipWithPickle(jit))).toThrow(
      /'__torch__.Evil', which this safe loader does not allow/,
    );
  });

  it('stops deep nesting with a clear error and no stack overflow', () => {
    const marks = new PickleWriter().proto();
    for (let i = 0; i < 5000; i++) marks.mark();
    expect(() => readTorchArchive(zipWithPickle(marks.stop().build()))).toThrow(
      /^pickle: nesting deeper than 1000 MARKs/,
    );

    const dicts = new PickleWriter().proto();
    for (let i = 0; i < 100; i++) dicts.emptyDict().str('a');
    dicts.global('torch._utils', '_rebuild_tensor_v2').mark();
    dicts.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(4).tuple().op(0x51);
    dicts.int(0).intTuple([4]).intTuple([1]).op(0x89).emptyDict().tuple().reduce();
    for (let i = 0; i < 100; i++) dicts.setitem();
    expect(() => readTorchArchive(zipWithPickle(dicts.stop().build()))).toThrow(
      /^torch: checkpoint dicts nest deeper than 64 levels/,
    );

    const lists = new PickleWriter().proto();
    for (let i = 0; i < 100_000; i++) lists.op(0x5d);
    for (let i = 1; i < 100_000; i++) lists.op(0x61);
    expect(() => readTorchArchive(zipWithPickle(lists.stop().build()))).toThrow(
      /^torch: the checkpoint holds no tensors/,
    );
  });

  it('checks declared lengths against the bytes left before allocating', () => {
    const huge = (op: number, len: number[]) => Uint8Array.of(0x80, 2, op, ...len, 0x2e);
    expect(() => readTorchArchive(zipWithPickle(huge(0x58, [0xf0, 0xff, 0xff, 0xff])))).toThrow(
      /^pickle: truncated: needs 4294967280 more bytes/,
    );
    expect(() => readTorchArchive(zipWithPickle(huge(0x8d, [0, 0, 0, 0, 0, 0, 0, 0x7f])))).toThrow(
      /^pickle: declared length \d+ exceeds the pickle size/,
    );
    expect(() => readTorchArchive(zipWithPickle(huge(0x8b, [0xff, 0xff, 0xff, 0x7f])))).toThrow(/^pickle: truncated/);
    const bigStorage = stateDictPickle([
      {
        name: 'w',
        key: '0',
        storageType: 'FloatStorage',
        numel: 2 ** 30,
        offset: 0,
        shape: [2 ** 15, 2 ** 15],
        stride: [2 ** 15, 1],
      },
    ]);
    expect(() => readTorchArchive(zipWithPickle(bigStorage))).toThrow(
      /^torch: storage '0' declares 1073741824 F32 elements \(4294967296 bytes\) but its entry holds 16/,
    );
    const zip = sampleZip();
    const cd = findCentralEntry(zip, 'archive/data.pkl');
    new DataView(zip.buffer).setUint32(cd + 20, 0xfffffff0, true);
    new DataView(zip.buffer).setUint32(cd + 24, 0xfffffff0, true);
    expect(() => readTorchArchive(zip)).toThrow(
      /^zip: data of 'archive\/data.pkl' at bytes \[\d+, \d+\) falls outside the archive/,
    );
  });

  it('reads the real fixtures with flipped bytes in their pickle without unclear failures', () => {
    const real = new Uint8Array(readFileSync(fixturePath('tiny_overlap.clip_state_dict.pt')));
    const cd = findCentralEntry(real, 'tiny_overlap.clip_state_dict/data.pkl');
    const view = new DataView(real.buffer);
    const local = view.getUint32(cd + 42, true);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const size = view.getUint32(cd + 20, true);
    fc.assert(
      fc.property(fc.nat(size - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const b = real.slice();
        b[start + i] ^= x;
        outcome(() => readCheckpointRaw(b));
      }),
      { numRuns: 200 },
    );
  });
});

/** Offset of the central-directory record of `name` in a ZIP. */
function findCentralEntry(zip: Uint8Array, name: string): number {
  const view = new DataView(zip.buffer, zip.byteOffset);
  const enc = new TextEncoder().encode(name);
  for (let p = 0; p + 46 < zip.length; p++) {
    if (view.getUint32(p, true) !== 0x02014b50) continue;
    const n = view.getUint16(p + 28, true);
    if (n === enc.length && enc.every((c, i) => zip[p + 46 + i] === c)) return p;
  }
  throw new Error(`no central directory entry ${name}`);
}
