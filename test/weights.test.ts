import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  adaptStateDict,
  convertStateDict,
  detectFormat,
  fileSystemHandler,
  loadCheckpoint,
  loadWeights,
  parseSafetensors,
  parseSafetensorsFile,
  type RawTensor,
  readCheckpointRaw,
  readSafetensors,
  readSafetensorsFile,
  readTorchArchive,
  resizePosEmbed,
  saveSafetensors,
  saveWeights,
  serializeSafetensors,
  truncateTextPosEmbed,
} from '../src/weights/index';
import { PyCallable, unpickle } from '../src/weights/pickle';
import { expectClose } from './helpers/compare';
import { fixtureJson, fixturePath, fixtureRaw, loadFixtureRaw } from './helpers/fixtures';
import { bytesOf, stateDictPickle, torchZip } from './helpers/torch_pickle';

const tmp = mkdtempSync(join(tmpdir(), 'irra-weights-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Asserts bit-identical names, shapes and values of `actual` against `expected` raw tensors. */
function expectSameWeights(actual: Map<string, tf.Tensor>, expected: Map<string, RawTensor>, label: string): void {
  expect([...actual.keys()].sort(), `${label}: names`).toEqual([...expected.keys()].sort());
  for (const [name, e] of expected) {
    const a = actual.get(name) as tf.Tensor;
    expect(a.shape, `${label}: shape of ${name}`).toEqual(e.shape);
    expect(a.dtype, `${label}: dtype of ${name}`).toBe(e.data instanceof Float32Array ? 'float32' : 'int32');
    const av = a.dataSync();
    for (let i = 0; i < e.data.length; i++) {
      if (!Object.is(av[i], e.data[i])) {
        throw new Error(`${label}: ${name}[${i}] is ${av[i]}, expected ${e.data[i]}`);
      }
    }
  }
}

/**
 * The weights the fixture checkpoints hold. Measured: every tensor of `*.irra.pth`,
 * `*.clip_state_dict.pt` and `*.hf.safetensors` is bit-identical to `step2.*` (the weights after
 * the two reference Adam steps), not to `param.*` (which differ by ~2e-3): the fixture generator
 * saved the checkpoints after stepping. `step2.*` is therefore the exact expectation.
 */
const CHECKPOINT_STATE = 'step2.';

function paramsOf(file: string, under = ''): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  const prefix = CHECKPOINT_STATE + under;
  for (const [k, v] of loadFixtureRaw(file)) if (k.startsWith(prefix)) out.set(k.slice(CHECKPOINT_STATE.length), v);
  return out;
}

const dispose = (m: Map<string, tf.Tensor>): void => {
  for (const t of m.values()) t.dispose();
};

describe('loadCheckpoint on the reference fixtures', () => {
  for (const model of ['tiny_a', 'tiny_overlap']) {
    it(`${model}.irra.pth yields exactly the checkpointed (step2.*) tensors, every name`, async () => {
      const before = tf.memory().numTensors;
      const got = await loadCheckpoint(readFileSync(fixturePath(`${model}.irra.pth`)));
      expectSameWeights(got, paramsOf(`${model}.safetensors`), `${model}.irra.pth`);
      dispose(got);
      expect(tf.memory().numTensors).toBe(before);
    });
    it(`${model}.clip_state_dict.pt (OpenAI names) yields exactly the base_model.* subset`, async () => {
      const got = await loadCheckpoint(fixturePath(`${model}.clip_state_dict.pt`));
      expectSameWeights(got, paramsOf(`${model}.safetensors`, 'base_model.'), `${model}.clip_state_dict.pt`);
      dispose(got);
    });
    it(`${model}.hf.safetensors (Hugging Face names) yields exactly the base_model.* subset`, async () => {
      const fromBytes = await loadCheckpoint(readFileSync(fixturePath(`${model}.hf.safetensors`)));
      expectSameWeights(fromBytes, paramsOf(`${model}.safetensors`, 'base_model.'), `${model}.hf.safetensors`);
      dispose(fromBytes);
      const fromPath = await loadCheckpoint(fixturePath(`${model}.hf.safetensors`));
      expectSameWeights(fromPath, paramsOf(`${model}.safetensors`, 'base_model.'), `${model}.hf.safetensors (path)`);
      dispose(fromPath);
    });
  }

  it('clip_square.jit.pt (TorchScript) yields exactly clip_square.expected.safetensors, int64 buffers included', async () => {
    const raw = await loadCheckpoint(fixturePath('clip_square.jit.pt'), { format: 'raw' });
    const expected = loadFixtureRaw('clip_square.expected.safetensors');
    expectSameWeights(raw, expected, 'clip_square.jit.pt');
    expect(raw.get('vocab_size')?.dataSync()[0]).toBe(1000);
    dispose(raw);
    expect(readTorchArchive(readFileSync(fixturePath('clip_square.jit.pt'))).format).toBe('torchscript');
  });

  it('adapts positional embeddings on load when asked', async () => {
    const got = await loadCheckpoint(fixturePath('clip_square.jit.pt'), { adapt: { grid: [4, 2], contextLength: 16 } });
    expect(got.get('base_model.visual.positional_embedding')?.shape).toEqual([9, 64]);
    expect(got.get('base_model.positional_embedding')?.shape).toEqual([16, 64]);
    dispose(got);
  });

  it('clip_square.jit.pt maps to base_model.* and drops logit_scale and the int64 buffers', async () => {
    const got = await loadCheckpoint(fixturePath('clip_square.jit.pt'));
    const expected = new Map<string, RawTensor>();
    for (const [k, v] of loadFixtureRaw('clip_square.expected.safetensors')) {
      if (!['logit_scale', 'input_resolution', 'context_length', 'vocab_size'].includes(k))
        expected.set(`base_model.${k}`, v);
    }
    expectSameWeights(got, expected, 'clip_square.jit.pt mapped');
    dispose(got);
  });

  it('readCheckpointRaw tells the containers apart and rejects other bytes', () => {
    expect(readCheckpointRaw(readFileSync(fixturePath('tiny_a.irra.pth'))).container).toBe('pickle');
    expect(readCheckpointRaw(readFileSync(fixturePath('clip_square.jit.pt'))).container).toBe('torchscript');
    expect(readCheckpointRaw(readFileSync(fixturePath('posembed.safetensors'))).container).toBe('safetensors');
    expect(() => readCheckpointRaw(new TextEncoder().encode('hello world, not weights'))).toThrow(
      /neither safetensors .* nor a PyTorch zip/,
    );
    expect(() => readCheckpointRaw(Uint8Array.of(0x80, 2, 0x7d, 0x2e))).toThrow(/legacy torch.save format/);
    expect(() => readCheckpointRaw('x' as unknown as Uint8Array)).toThrow(/expected a Uint8Array or ArrayBuffer/);
  });
});

describe('name maps', () => {
  const raw = (shape: number[]): RawTensor => ({
    dtype: 'F32',
    shape,
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
  });

  it('detects the format from the keys and names the keys when none fits', () => {
    expect(detectFormat(['base_model.visual.proj'])).toBe('irra');
    expect(detectFormat(['vision_model.embeddings.class_embedding'])).toBe('hf');
    expect(detectFormat(['visual.proj'])).toBe('openai');
    expect(() => detectFormat(['encoder.weight'])).toThrow(/no known checkpoint layout .*'encoder.weight'/);
  });

  it('fails on a key that no rule uses and no ignore entry lists', () => {
    const m = new Map([
      ['visual.proj', raw([2, 2])],
      ['visual.extra_head.weight', raw([2])],
    ]);
    expect(() => convertStateDict(m)).toThrow(/match no rule and are not ignored: 'visual.extra_head.weight'/);
  });

  it('fails when a q/k/v split is incomplete', () => {
    const m = new Map([
      ['vision_model.encoder.layers.0.self_attn.q_proj.weight', raw([2, 2])],
      ['vision_model.encoder.layers.0.self_attn.k_proj.weight', raw([2, 2])],
    ]);
    expect(() => convertStateDict(m)).toThrow(/missing vision_model.encoder.layers.0.self_attn.v_proj.weight/);
  });

  it('strips a DataParallel module. prefix and drops ignored keys', () => {
    const m = new Map([
      ['module.visual.proj', raw([2, 3])],
      ['module.logit_scale', raw([])],
    ]);
    const { tensors, format } = convertStateDict(m);
    expect(format).toBe('openai');
    expect([...tensors.keys()]).toEqual(['base_model.visual.proj']);
  });

  it('concatenates q, k, v on the first axis and transposes projections', () => {
    const t = (v: number[], shape: number[]): RawTensor => ({ dtype: 'F32', shape, data: Float32Array.from(v) });
    const m = new Map([
      ['text_model.encoder.layers.3.self_attn.q_proj.bias', t([1, 2], [2])],
      ['text_model.encoder.layers.3.self_attn.k_proj.bias', t([3, 4], [2])],
      ['text_model.encoder.layers.3.self_attn.v_proj.bias', t([5, 6], [2])],
      ['text_projection.weight', t([1, 2, 3, 4, 5, 6], [2, 3])],
    ]);
    const { tensors } = convertStateDict(m, 'hf');
    expect([...(tensors.get('base_model.transformer.resblocks.3.attn.in_proj_bias') as RawTensor).data]).toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
    const p = tensors.get('base_model.text_projection') as RawTensor;
    expect(p.shape).toEqual([3, 2]);
    expect([...p.data]).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('rejects an unknown format name', () => {
    expect(() => convertStateDict(new Map(), 'timm' as 'hf')).toThrow(
      /expected 'irra', 'openai', 'hf' or 'auto', got "timm"/,
    );
  });
});

describe('resizePosEmbed', () => {
  const { cases } = fixtureJson<{
    cases: { prefix: string; old_grid: number; new_height: number; new_width: number }[];
  }>('posembed.json');
  for (const c of cases) {
    it(`matches the reference resize_pos_embed, ${c.old_grid}² → ${c.new_height}×${c.new_width}`, () => {
      const o = fixtureRaw('posembed.safetensors', `${c.prefix}old`);
      const e = fixtureRaw('posembed.safetensors', `${c.prefix}new`);
      const old = tf.tensor2d(o.data as Float32Array, o.shape as [number, number]);
      const before = tf.memory().numTensors;
      const got = resizePosEmbed(old, [c.old_grid, c.old_grid], [c.new_height, c.new_width]);
      expect(tf.memory().numTensors - before).toBe(1);
      expect(got.shape).toEqual(e.shape);
      expectClose(got, e.data, { kind: 'forward', label: `posembed ${c.prefix}`, group: 'posembed' });
      tf.dispose([old, got]);
    });
  }

  it('keeps the class token and the identity resize unchanged', () => {
    const x = tf.randomNormal([1 + 6, 4]) as tf.Tensor2D;
    const y = resizePosEmbed(x, [2, 3], [2, 3]);
    expect(y.dataSync()).toEqual(x.dataSync());
    tf.dispose([x, y]);
  });

  it('rejects bad arguments naming them', () => {
    const x = tf.zeros([10, 4]) as tf.Tensor2D;
    expect(() => resizePosEmbed(x, [2, 2], [3, 3])).toThrow(/10 rows do not match 1 prefix token\(s\) \+ a 2×2 grid/);
    expect(() => resizePosEmbed(x, [3, 3], [0, 3])).toThrow(
      /newGrid\): expected \[height, width\] of positive integers/,
    );
    expect(() => resizePosEmbed(x, [3, 3] as [number, number], [2, 2], -1)).toThrow(/numPrefixTokens/);
    expect(() => resizePosEmbed(tf.zeros([10]) as unknown as tf.Tensor2D, [3, 3], [2, 2])).toThrow(
      /expected a 2-D tensor/,
    );
    expect(() => truncateTextPosEmbed(x, 11)).toThrow(/contextLength\): expected an integer in \[1, 10\]/);
    tf.dispose(x);
  });

  it('truncates the text positional embedding to a shorter context', () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const y = truncateTextPosEmbed(x, 2);
    expect(y.arraySync()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    tf.dispose([x, y]);
  });
});

describe('adaptStateDict', () => {
  it('resizes a square CLIP grid to the person grid and truncates the context, disposing what it replaces', () => {
    const c = { grid: 14, dim: 32 };
    const o = fixtureRaw('posembed.safetensors', 'case0.old');
    const e = fixtureRaw('posembed.safetensors', 'case0.new');
    const before = tf.memory().numTensors;
    const map = new Map<string, tf.Tensor>([
      ['base_model.visual.positional_embedding', tf.tensor2d(o.data as Float32Array, [1 + c.grid * c.grid, c.dim])],
      ['base_model.positional_embedding', tf.randomNormal([77, 8])],
      ['base_model.visual.proj', tf.zeros([4, 4])],
    ]);
    const proj = map.get('base_model.visual.proj');
    const out = adaptStateDict(map, { grid: [24, 8], contextLength: 64 });
    expect(out.get('base_model.visual.proj')).toBe(proj);
    expect(out.get('base_model.positional_embedding')?.shape).toEqual([64, 8]);
    expectClose(out.get('base_model.visual.positional_embedding') as tf.Tensor, e.data, {
      kind: 'forward',
      label: 'adaptStateDict posembed',
      group: 'posembed',
    });
    expect(tf.memory().numTensors - before).toBe(3);
    dispose(out);
  });

  it('needs sourceGrid for a non-square grid and refuses a longer context', () => {
    const map = new Map<string, tf.Tensor>([['base_model.visual.positional_embedding', tf.zeros([1 + 6, 4])]]);
    expect(() => adaptStateDict(map, { grid: [2, 2], contextLength: 77 })).toThrow(
      /not 1 \+ a square grid; pass target.sourceGrid/,
    );
    const out = adaptStateDict(map, { grid: [4, 2], contextLength: 77, sourceGrid: [3, 2] });
    expect(out.get('base_model.visual.positional_embedding')?.shape).toEqual([9, 4]);
    dispose(out);
    const txt = new Map<string, tf.Tensor>([['base_model.positional_embedding', tf.zeros([16, 4])]]);
    expect(() => adaptStateDict(txt, { grid: [2, 2], contextLength: 77 })).toThrow(
      /16 rows, fewer than target.contextLength 77/,
    );
    expect(() => adaptStateDict(txt, { grid: [2, 2], contextLength: 0 })).toThrow(
      /contextLength\): expected a positive integer/,
    );
    dispose(txt);
  });
});

describe('safetensors', () => {
  it('round-trips float32, int32 (as I64 and I32) and bool bit-exactly, with metadata', () => {
    const map = new Map<string, tf.Tensor>([
      ['a.weight', tf.tensor([1.5, -0, Number.NaN, 3.4e38, 1e-45, -7], [2, 3])],
      ['b', tf.tensor([-5, 2147483647, -2147483648], [3], 'int32')],
      ['c', tf.tensor([true, false], [2], 'bool')],
      ['scalar', tf.scalar(2.5)],
      ['empty', tf.zeros([0, 4])],
    ]);
    for (const intDtype of ['I64', 'I32'] as const) {
      const bytes = serializeSafetensors(map, { format: 'pt' }, { intDtype });
      const parsed = parseSafetensors(bytes);
      expect(parsed.metadata).toEqual({ format: 'pt' });
      expect(parsed.tensors.get('b')?.dtype).toBe(intDtype);
      const back = readSafetensors(bytes);
      expect([...back.keys()]).toEqual([...map.keys()]);
      for (const [k, t] of map) {
        const r = back.get(k) as tf.Tensor;
        expect(r.shape).toEqual(t.shape);
        expect(Array.from(r.dataSync()).map(String)).toEqual(Array.from(t.dataSync()).map(String));
      }
      dispose(back);
    }
    dispose(map);
  });

  it('saveSafetensors takes a Map or a model with stateDict(), disposing only what it created', () => {
    const w = tf.tensor([1, 2, 3]);
    const fake = { stateDict: () => new Map<string, tf.Tensor>([['x', tf.clone(w)]]) };
    const before = tf.memory().numTensors;
    const bytes = saveSafetensors(fake);
    expect(tf.memory().numTensors).toBe(before);
    expect(parseSafetensors(bytes).tensors.get('x')?.data).toEqual(Float32Array.of(1, 2, 3));
    expect(saveSafetensors(new Map([['x', w]]))).toEqual(bytes);
    expect(w.isDisposed).toBe(false);
    expect(() => saveSafetensors({} as never)).toThrow(/expected a model with stateDict\(\) or a Map/);
    w.dispose();
  });

  it('rejects bad writer input naming it', () => {
    const s = tf.tensor(['a'], [1], 'string');
    expect(() => serializeSafetensors(new Map([['s', s]]))).toThrow(/'s' has dtype string/);
    expect(() => serializeSafetensors(new Map([['__metadata__', tf.zeros([1])]]))).toThrow(/invalid tensor name/);
    expect(() => serializeSafetensors(new Map([['x', s]]), { a: 1 as unknown as string })).toThrow(
      /value of 'a' must be a string/,
    );
    expect(() => serializeSafetensors(new Map(), undefined, { intDtype: 'I16' as 'I32' })).toThrow(/intDtype/);
    const d = tf.zeros([1]);
    d.dispose();
    expect(() => serializeSafetensors(new Map([['d', d]]))).toThrow(/'d' is not a live tf.Tensor/);
    s.dispose();
  });

  it('decodes F16, BF16, F64, I64 to float32 / int32', () => {
    const header = {
      h: { dtype: 'F16', shape: [5], data_offsets: [0, 10] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [10, 14] },
      d: { dtype: 'F64', shape: [1], data_offsets: [14, 22] },
      l: { dtype: 'I64', shape: [2], data_offsets: [22, 38] },
    };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const buf = new Uint8Array(8 + json.length + 38);
    new DataView(buf.buffer).setBigUint64(0, BigInt(json.length), true);
    buf.set(json, 8);
    const data = new DataView(buf.buffer, 8 + json.length);
    for (const [i, h] of [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00].entries()) data.setUint16(2 * i, h, true);
    data.setUint16(10, 0x3f80, true);
    data.setUint16(12, 0xc040, true);
    data.setFloat64(14, 0.1, true);
    data.setBigInt64(22, -3n, true);
    data.setBigInt64(30, 2147483647n, true);
    const t = parseSafetensors(buf).tensors;
    expect([...(t.get('h') as RawTensor).data]).toEqual([1, -2, 65504, 2 ** -24, Number.POSITIVE_INFINITY]);
    expect([...(t.get('b') as RawTensor).data]).toEqual([1, -3]);
    expect((t.get('d') as RawTensor).data[0]).toBe(Math.fround(0.1));
    expect([...(t.get('l') as RawTensor).data]).toEqual([-3, 2147483647]);
    data.setBigInt64(30, 2147483648n, true);
    expect(() => parseSafetensors(buf)).toThrow(/'l' holds int64 value 2147483648, outside the int32 range/);
  });

  it('returns aligned F32 data as a view of the file bytes, and copies unaligned data', () => {
    const bytes = serializeSafetensors(new Map([['x', tf.tensor([1, 2, 3, 4])]]));
    const view = parseSafetensors(bytes).tensors.get('x') as RawTensor;
    expect(view.data.buffer).toBe(bytes.buffer);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const copy = parseSafetensors(shifted.subarray(1)).tensors.get('x') as RawTensor;
    expect(copy.data.buffer).not.toBe(shifted.buffer);
    expect([...copy.data]).toEqual([1, 2, 3, 4]);
    const nodeBuffer = Buffer.alloc(bytes.length + 3);
    nodeBuffer.set(bytes, 3);
    const fromBuffer = parseSafetensors(nodeBuffer.subarray(3)).tensors.get('x') as RawTensor;
    expect([...fromBuffer.data]).toEqual([1, 2, 3, 4]);
  });

  it('reads a file path header first with the same result as reading the bytes', async () => {
    const file = fixturePath('tiny_overlap.safetensors');
    const fromFile = await parseSafetensorsFile(file);
    const fromBytes = parseSafetensors(readFileSync(file));
    expect([...fromFile.tensors.keys()]).toEqual([...fromBytes.tensors.keys()]);
    for (const [k, v] of fromBytes.tensors) {
      const d = fromFile.tensors.get(k)?.data as Float32Array | Int32Array;
      expect(
        Buffer.compare(
          new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
          new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength),
        ),
        k,
      ).toBe(0);
    }
    const tensors = await readSafetensorsFile(file);
    expect(tensors.size).toBe(fromBytes.tensors.size);
    dispose(tensors);
    const short = join(tmp, 'short.safetensors');
    writeFileSync(short, readFileSync(file).subarray(0, 1000));
    await expect(parseSafetensorsFile(short)).rejects.toThrow(/fall outside the data section|header length/);
    await expect(parseSafetensorsFile(42 as unknown as string)).rejects.toThrow(/expected a string/);
  });

  it('rejects overlapping tensors and a non-object header', () => {
    const mk = (header: unknown, dataLen: number): Uint8Array => {
      const json = new TextEncoder().encode(JSON.stringify(header));
      const buf = new Uint8Array(8 + json.length + dataLen);
      new DataView(buf.buffer).setBigUint64(0, BigInt(json.length), true);
      buf.set(json, 8);
      return buf;
    };
    const overlap = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    expect(() => parseSafetensors(mk(overlap, 12))).toThrow(/'a' and 'b' overlap/);
    expect(() => parseSafetensors(mk([1, 2], 0))).toThrow(/header must be a JSON object, got an array/);
    expect(() => parseSafetensors(mk({ a: { dtype: 'C64', shape: [], data_offsets: [0, 8] } }, 8))).toThrow(
      /unsupported dtype "C64"/,
    );
    expect(() => parseSafetensors(mk({ __metadata__: { a: 1 } }, 0))).toThrow(
      /__metadata__ must be an object of string values/,
    );
  });
});

describe('PyTorch archives built here (strides, dtypes, wrapping)', () => {
  it('rebuilds a transposed (non-contiguous) view and a storage offset', async () => {
    const storage = Float32Array.from({ length: 12 }, (_, i) => i);
    const pkl = stateDictPickle(
      [
        {
          name: 'visual.proj',
          key: '0',
          storageType: 'FloatStorage',
          numel: 12,
          offset: 0,
          shape: [4, 3],
          stride: [1, 4],
        },
        {
          name: 'positional_embedding',
          key: '0',
          storageType: 'FloatStorage',
          numel: 12,
          offset: 6,
          shape: [2, 3],
          stride: [3, 1],
        },
      ],
      'state_dict',
    );
    const got = await loadCheckpoint(torchZip(pkl, { '0': bytesOf(storage) }));
    expect((got.get('base_model.visual.proj') as tf.Tensor).arraySync()).toEqual([
      [0, 4, 8],
      [1, 5, 9],
      [2, 6, 10],
      [3, 7, 11],
    ]);
    expect((got.get('base_model.positional_embedding') as tf.Tensor).arraySync()).toEqual([
      [6, 7, 8],
      [9, 10, 11],
    ]);
    dispose(got);
  });

  it('converts HalfStorage, BFloat16Storage, DoubleStorage and LongStorage', () => {
    const pkl = stateDictPickle([
      { name: 'h', key: 'h', storageType: 'HalfStorage', numel: 2, offset: 0, shape: [2], stride: [1] },
      { name: 'b', key: 'b', storageType: 'BFloat16Storage', numel: 1, offset: 0, shape: [], stride: [] },
      { name: 'd', key: 'd', storageType: 'DoubleStorage', numel: 1, offset: 0, shape: [1], stride: [1] },
      { name: 'l', key: 'l', storageType: 'LongStorage', numel: 3, offset: 1, shape: [2], stride: [1] },
    ]);
    const { tensors } = readTorchArchive(
      torchZip(pkl, {
        h: bytesOf(Uint16Array.of(0x3c00, 0xbc00)),
        b: bytesOf(Uint16Array.of(0x4040)),
        d: bytesOf(Float64Array.of(2.5)),
        l: bytesOf(BigInt64Array.of(7n, -1n, 9n)),
      }),
    );
    expect([...(tensors.get('h') as RawTensor).data]).toEqual([1, -1]);
    expect([...(tensors.get('b') as RawTensor).data]).toEqual([3]);
    expect([...(tensors.get('d') as RawTensor).data]).toEqual([2.5]);
    expect([...(tensors.get('l') as RawTensor).data]).toEqual([-1, 9]);
    expect((tensors.get('l') as RawTensor).data).toBeInstanceOf(Int32Array);
  });

  it('rejects a view reaching past its storage and a storage shorter than declared', () => {
    const past = stateDictPickle([
      { name: 'w', key: '0', storageType: 'FloatStorage', numel: 4, offset: 2, shape: [2, 2], stride: [2, 1] },
    ]);
    expect(() => readTorchArchive(torchZip(past, { '0': new Uint8Array(16) }))).toThrow(
      /reaches element 5 of a storage of 4/,
    );
    const expanded = stateDictPickle([
      { name: 'w', key: '0', storageType: 'FloatStorage', numel: 1, offset: 0, shape: [65536, 65536], stride: [0, 0] },
    ]);
    expect(() => readTorchArchive(torchZip(expanded, { '0': new Uint8Array(4) }))).toThrow(
      /has 4294967296 elements but views a storage of 1 \(an expanded view\)/,
    );
    const short = stateDictPickle([
      { name: 'w', key: '0', storageType: 'FloatStorage', numel: 4, offset: 0, shape: [4], stride: [1] },
    ]);
    expect(() => readTorchArchive(torchZip(short, { '0': new Uint8Array(8) }))).toThrow(
      /declares 4 F32 elements \(16 bytes\) but its entry holds 8/,
    );
    expect(() => readTorchArchive(torchZip(short, {}))).toThrow(/storage '0' has no entry archive\/data\/0/);
  });
});

describe('pickle reader', () => {
  // pickle.dumps({'a': [1, 2.5, -3, 2**70, -2**70, (1,), (1, 2, 3), b'xy', None, True, False, 'é',
  //   65535, -1, 1 << 31], 'b': {}, 'c': OrderedDict([('x', 1)])}, protocol=4), by CPython 3.
  const P4 =
    '8004958d000000000000007d94288c0161945d94284b014740040000000000004afdffffff8a090000000000000000408a09000000000000' +
    '0000c04b0185944b014b024b03879443027879944e88898c02c3a9944dffff4affffffff8a050000008000658c0162947d948c0163948c0b' +
    '636f6c6c656374696f6e73948c0b4f726465726564446963749493942952948c0178944b0173752e';
  const resolveGlobal = (module: string, name: string): PyCallable => {
    if (module === 'collections' && name === 'OrderedDict') return new PyCallable('OrderedDict', () => new Map());
    throw new Error(`pickle test: global ${module}.${name} not allowed`);
  };

  it('decodes protocol-4 opcodes (FRAME, MEMOIZE, STACK_GLOBAL, LONG1, BINFLOAT, tuples, bytes)', () => {
    const v = unpickle(Buffer.from(P4, 'hex'), { resolveGlobal }) as Map<string, unknown>;
    expect(v.get('a')).toEqual([
      1,
      2.5,
      -3,
      2n ** 70n,
      -(2n ** 70n),
      [1],
      [1, 2, 3],
      Uint8Array.of(0x78, 0x79),
      null,
      true,
      false,
      'é',
      65535,
      -1,
      2147483648,
    ]);
    expect(v.get('b')).toEqual(new Map());
    expect(v.get('c')).toEqual(new Map([['x', 1]]));
  });

  it('names the first disallowed global of a protocol-2 pickle (bytes go through _codecs.encode)', () => {
    const p2 = Buffer.from(
      '80027d71002858010000006171015d7102284b014740040000000000004afdffffff8a09000000000000000040' +
        '8a090000000000000000c04b018571034b014b024b03877104635f636f646563730a656e636f64650a7105',
      'hex',
    );
    expect(() => unpickle(p2, { resolveGlobal })).toThrow(/global _codecs.encode not allowed/);
  });

  it('rejects truncation, unknown opcodes and a stack underflow with the byte offset', () => {
    const p4 = Buffer.from(P4, 'hex');
    expect(() => unpickle(p4.subarray(0, 60), { resolveGlobal })).toThrow(
      /^pickle: declared length 141 exceeds the pickle size/,
    );
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0xff), { resolveGlobal })).toThrow(
      /unsupported opcode 0xff \(at byte 3 of 3\)/,
    );
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x73, 0x2e), { resolveGlobal })).toThrow(/^pickle: stack underflow/);
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x68, 5, 0x2e), { resolveGlobal })).toThrow(
      /memo key 5 was never stored/,
    );
    expect(() => unpickle(Uint8Array.of(0x80, 2, 0x4e, 0x51, 0x2e), { resolveGlobal })).toThrow(
      /BINPERSID in a pickle that has no persistent storage/,
    );
  });
});

describe('tfjs-format save and load', () => {
  const sample = (): Map<string, tf.Tensor> =>
    new Map<string, tf.Tensor>([
      ['base_model.visual.proj', tf.tensor([1.1, -2.2, Number.NaN, 3e38, 1e-40, 0.1], [2, 3])],
      ['ids', tf.tensor([1, -2, 3], [3], 'int32')],
      ['flag', tf.tensor([true, false, true], [3], 'bool')],
    ]);

  it('round-trips a Map bit-exactly through tf.io.withSaveHandler / fromMemory', async () => {
    const map = sample();
    let saved: tf.io.ModelArtifacts | undefined;
    await saveWeights(
      map,
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const back = await loadWeights(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
    expect([...back.keys()]).toEqual([...map.keys()]);
    for (const [k, t] of map) {
      expect(back.get(k)?.dtype).toBe(t.dtype);
      expect(new Uint8Array((back.get(k) as tf.Tensor).dataSync().buffer)).toEqual(new Uint8Array(t.dataSync().buffer));
    }
    dispose(back);
    dispose(map);
  });

  it('round-trips through file:// in Node, and float16 shards are lossy within 2^-11 relative', async () => {
    const map = sample();
    const dir = join(tmp, 'tfjs');
    await saveWeights(map, `file://${dir}`);
    const back = await loadWeights(`file://${dir}`);
    for (const [k, t] of map)
      expect(Array.from((back.get(k) as tf.Tensor).dataSync()).map(String)).toEqual(
        Array.from(t.dataSync()).map(String),
      );
    dispose(back);
    const w = tf.randomNormal([1000], 0, 3);
    const half = new Map([['w', w]]);
    await saveWeights(half, fileSystemHandler(join(tmp, 'half')), { float16: true });
    expect(readFileSync(join(tmp, 'half', 'group1-shard1of1.bin')).byteLength).toBe(2000);
    const h = await loadWeights(fileSystemHandler(join(tmp, 'half')));
    const a = (h.get('w') as tf.Tensor).dataSync();
    const e = w.dataSync();
    for (let i = 0; i < e.length; i++)
      expect(Math.abs(a[i] - e[i])).toBeLessThanOrEqual(Math.abs(e[i]) * 2 ** -11 + 2 ** -24);
    dispose(h);
    w.dispose();
    dispose(map);
  });

  it('writes tfjs-converter shards that load back from disk and over HTTP (tf.io.http)', async () => {
    const w = tf.randomNormal([10, 100]);
    const ids = tf.tensor([7, 8, 9], [3], 'int32');
    const map = new Map<string, tf.Tensor>([
      ['w', w],
      ['ids', ids],
    ]);
    const dir = join(tmp, 'shards');
    await saveWeights(map, fileSystemHandler(dir, 1000));
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(manifest.weightsManifest[0].paths).toEqual([1, 2, 3, 4, 5].map((i) => `group1-shard${i}of5.bin`));
    const server = createServer((req, res) => {
      try {
        res.end(readFileSync(join(dir, (req.url ?? '').replace(/^\//, ''))));
      } catch {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      for (const source of [`file://${dir}`, `http://127.0.0.1:${port}/model.json`]) {
        const back = await loadWeights(source);
        expect(Buffer.from((back.get('w') as tf.Tensor).dataSync().buffer)).toEqual(Buffer.from(w.dataSync().buffer));
        expect([...(back.get('ids') as tf.Tensor).dataSync()]).toEqual([7, 8, 9]);
        dispose(back);
      }
    } finally {
      server.close();
    }
    expect(() => fileSystemHandler(dir, 0)).toThrow(/shardBytes\): expected a positive integer, got 0/);
    dispose(map);
  });

  it('saves a model through stateDict() and disposes what it asked for', async () => {
    const fake = { stateDict: () => new Map<string, tf.Tensor>([['x', tf.ones([2])]]) };
    const before = tf.memory().numTensors;
    await saveWeights(fake, `file://${join(tmp, 'fake')}`);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects weight data that does not match its specs, and unknown destinations', async () => {
    const bad = tf.io.fromMemory({
      weightSpecs: [{ name: 'x', shape: [1000], dtype: 'float32' }],
      weightData: new ArrayBuffer(16),
    });
    await expect(loadWeights(bad)).rejects.toThrow(/describe 4000 bytes but the weight data holds 16/);
    await expect(loadWeights('ftp://x')).rejects.toThrow(/no tf.io handler for "ftp:\/\/x"/);
    await expect(loadWeights(`file://${join(tmp, 'missing')}`)).rejects.toThrow(/cannot read .*model.json/);
    await expect(saveWeights(new Map(), 42 as unknown as string)).rejects.toThrow(
      /expected a URL string or a tf.io.IOHandler/,
    );
  });
});
