import { zipSync } from 'fflate';

/**
 * Test-only writer of small `torch.save`-style archives (protocol-2 pickle + stored ZIP), so tests
 * can build checkpoints that the fixtures do not cover: non-contiguous strides, other dtypes,
 * hostile globals, deep nesting.
 */
export class PickleWriter {
  private readonly bytes: number[] = [];

  op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  proto(): this {
    return this.op(0x80, 2);
  }
  mark(): this {
    return this.op(0x28);
  }
  str(s: string): this {
    const enc = new TextEncoder().encode(s);
    this.op(0x58, enc.length & 0xff, (enc.length >> 8) & 0xff, (enc.length >> 16) & 0xff, (enc.length >>> 24) & 0xff);
    return this.op(...enc);
  }
  int(n: number): this {
    return this.op(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  tuple(): this {
    return this.op(0x74);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  emptyTuple(): this {
    return this.op(0x29);
  }
  reduce(): this {
    return this.op(0x52);
  }
  setitem(): this {
    return this.op(0x73);
  }
  setitems(): this {
    return this.op(0x75);
  }
  stop(): this {
    return this.op(0x2e);
  }
  intTuple(xs: number[]): this {
    this.mark();
    for (const x of xs) this.int(x);
    return this.tuple();
  }
  /** Pushes `torch._utils._rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict())`. */
  tensor(t: TensorSpec): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', t.storageType).str(t.key).str('cpu').int(t.numel).tuple().op(0x51);
    this.int(t.offset).intTuple(t.shape).intTuple(t.stride).op(0x89);
    this.global('collections', 'OrderedDict').emptyTuple().reduce();
    return this.tuple().reduce();
  }
  build(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** One tensor of a test checkpoint. */
export interface TensorSpec {
  name: string;
  key: string;
  storageType: string;
  numel: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/** A pickled `{name: tensor, ...}` (optionally wrapped as `{wrap: {...}, "epoch": 3}`). */
export function stateDictPickle(tensors: TensorSpec[], wrap?: string): Uint8Array {
  const w = new PickleWriter().proto();
  if (wrap) w.emptyDict().mark().str(wrap);
  w.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const t of tensors) w.str(t.name).tensor(t);
  w.setitems();
  if (wrap) w.str('epoch').int(3).setitems();
  return w.stop().build();
}

/** A stored (uncompressed) ZIP laid out as torch.save writes it: `<prefix>/data.pkl`, `<prefix>/data/<key>`. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array>, prefix = 'archive'): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 }]> = { [`${prefix}/data.pkl`]: [pickle, { level: 0 }] };
  for (const [k, v] of Object.entries(storages)) files[`${prefix}/data/${k}`] = [v, { level: 0 }];
  files[`${prefix}/version`] = [new TextEncoder().encode('3\n'), { level: 0 }];
  return zipSync(files);
}

/** Little-endian bytes of a typed array. */
export const bytesOf = (a: Float32Array | Int32Array | BigInt64Array | Uint16Array | Float64Array): Uint8Array =>
  new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

/**
 * The bytes `torch.save({"model": state_dict, "epoch": 3}, path)` writes for a name → float32
 * tensor map (as IRRA saves `best.pth`): one float storage per tensor, contiguous.
 */
export function torchSaveStateDict(
  state: Map<string, { shape: number[]; dataSync(): ArrayLike<number> }>,
  wrap = 'model',
): Uint8Array {
  const specs: TensorSpec[] = [];
  const storages: Record<string, Uint8Array> = {};
  let key = 0;
  for (const [name, t] of state) {
    const shape = [...t.shape];
    const stride = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    const data = Float32Array.from(t.dataSync());
    specs.push({ name, key: String(key), storageType: 'FloatStorage', numel: data.length, offset: 0, shape, stride });
    storages[String(key)] = bytesOf(data);
    key++;
  }
  return torchZip(stateDictPickle(specs, wrap), storages);
}
