import { type ByteDtype, DTYPE_BYTES, decodeBytes } from './dtypes';
import { describe, type PickleValue, PyCallable, PyObject, unpickle } from './pickle';
import type { RawTensor } from './safetensors';
import { isZip, ZipArchive, type ZipByteSource } from './zip';

/** Limits of the PyTorch archive reader. */
export const TORCH_DEFAULTS = {
  /** Deepest nesting of dicts / modules walked when collecting tensors. */
  maxWalkDepth: 64,
  /** Largest TorchScript `code/*.py` entry read to learn which attributes are parameters/buffers. */
  maxCodeBytes: 16 * 1024 * 1024,
  /** Keys, in order of preference, under which a checkpoint dict nests its state_dict. */
  stateDictKeys: ['state_dict', 'model', 'model_state_dict', 'module'] as readonly string[],
} as const;

/** PyTorch storage classes and the element type of their bytes. */
const STORAGE_TYPES: Readonly<Record<string, ByteDtype>> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

class StorageType extends PyCallable {
  constructor(
    qualname: string,
    readonly dtype: ByteDtype,
  ) {
    super(qualname, () => {
      throw new Error(`torch: storage type ${qualname} cannot be called in a checkpoint`);
    });
  }
}

class TorchStorage {
  constructor(
    readonly key: string,
    readonly dtype: ByteDtype,
    readonly numel: number,
  ) {}
}

class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const isIntList = (v: PickleValue): v is number[] =>
  Array.isArray(v) && v.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0);

function rebuildTensor(qualname: string, args: PickleValue[]): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage))
    throw new Error(`torch: ${qualname} expects a storage, got a ${describe(storage)}`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new Error(`torch: ${qualname} storage offset must be a non-negative integer, got ${String(offset)}`);
  }
  if (!isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
    throw new Error(`torch: ${qualname} size and stride must be equal-length lists of non-negative integers`);
  }
  let last = offset;
  let count = 1;
  for (let i = 0; i < size.length; i++) {
    count *= size[i];
    if (size[i] > 0) last += (size[i] - 1) * stride[i];
  }
  if (count > storage.numel) {
    throw new Error(
      `torch: tensor of size [${size}] stride [${stride}] has ${count} elements but views a storage of ${storage.numel} (an expanded view); materialising it would allocate more than the file holds`,
    );
  }
  if (count > 0 && last >= storage.numel) {
    throw new Error(
      `torch: tensor of size [${size}] stride [${stride}] offset ${offset} reaches element ${last} of a storage of ${storage.numel}`,
    );
  }
  return new TorchTensor(storage, offset, size, stride);
}

const identity = (qualname: string) => new PyCallable(qualname, (args) => args[0] ?? null);

function ordered(args: PickleValue[]): Map<PickleValue, PickleValue> {
  const m = new Map<PickleValue, PickleValue>();
  const items = args[0];
  if (Array.isArray(items)) {
    for (const kv of items) if (Array.isArray(kv) && kv.length === 2) m.set(kv[0], kv[1]);
  }
  return m;
}

/** Functions a checkpoint may call: each a pure JavaScript stand-in that builds data. */
const CALLABLES: Readonly<Record<string, (qualname: string) => PyCallable>> = {
  'torch._utils._rebuild_tensor_v2': (q) => new PyCallable(q, (a) => rebuildTensor(q, a)),
  'torch._utils._rebuild_tensor': (q) => new PyCallable(q, (a) => rebuildTensor(q, a)),
  'torch._utils._rebuild_parameter': (q) =>
    new PyCallable(q, (a) => {
      if (!(a[0] instanceof TorchTensor)) throw new Error(`torch: ${q} expects a tensor, got a ${describe(a[0])}`);
      return a[0];
    }),
  'torch._utils._rebuild_parameter_with_state': (q) =>
    new PyCallable(q, (a) => {
      if (!(a[0] instanceof TorchTensor)) throw new Error(`torch: ${q} expects a tensor, got a ${describe(a[0])}`);
      return a[0];
    }),
  'collections.OrderedDict': (q) => new PyCallable(q, ordered),
  'torch.jit._pickle.build_intlist': identity,
  'torch.jit._pickle.build_doublelist': identity,
  'torch.jit._pickle.build_boollist': identity,
  'torch.jit._pickle.build_tensorlist': identity,
  'torch.jit._pickle.build_stringlist': identity,
  'torch.jit._pickle.restore_type_tag': identity,
};

/** Every global a checkpoint may name, for error messages. */
export const ALLOWED_GLOBALS: readonly string[] = [
  ...Object.keys(CALLABLES),
  ...Object.keys(STORAGE_TYPES).map((s) => `torch.${s}`),
];

function resolver(torchScript: boolean) {
  return (module: string, name: string): PyCallable => {
    const q = `${module}.${name}`;
    if (module === 'torch' && Object.hasOwn(STORAGE_TYPES, name)) return new StorageType(q, STORAGE_TYPES[name]);
    if (Object.hasOwn(CALLABLES, q)) return CALLABLES[q](q);
    if (torchScript && (module === '__torch__' || module.startsWith('__torch__.'))) {
      return new PyCallable(q, () => new PyObject(q));
    }
    throw new Error(
      `torch: the checkpoint names the Python global '${q}', which this safe loader does not allow (allowed: ${ALLOWED_GLOBALS.join(', ')}${torchScript ? ', TorchScript __torch__.* classes' : ''})`,
    );
  };
}

/** The result of {@link readTorchArchive}. */
export interface TorchArchiveContents {
  /** Tensors by dotted name, as `state_dict()` would name them. */
  tensors: Map<string, RawTensor>;
  /** `'torchscript'` for a `torch.jit.save` archive, `'pickle'` for a `torch.save` one. */
  format: 'torchscript' | 'pickle';
}

/**
 * Reads a PyTorch zip archive — `torch.save` (PyTorch ≥ 1.6) or a TorchScript `torch.jit.save`
 * file such as OpenAI's released CLIP `.pt` — without executing anything, and returns its tensors.
 *
 * - `torch.save`: the pickled object is unwrapped from `state_dict` / `model` / ... keys (see
 *   {@link TORCH_DEFAULTS}); nested dicts become dotted names.
 * - TorchScript: the module tree's parameters and buffers under their module paths, as
 *   `model.state_dict()` lists them (int64 buffers such as `input_resolution` included).
 *
 * Tensors are rebuilt from their storages with offset and strides (non-contiguous views are
 * gathered); float16/bfloat16/float64 become float32, int64 becomes int32 (an error when out of
 * range). Contiguous, aligned float32 tensors are views of `bytes` (no copy). Given a
 * {@link ZipByteSource} (a file on disk), only the directory and the pickle are read at once;
 * each tensor's `data` is read from the source when it is accessed (again at every access), so a
 * caller that converts tensors one by one never holds the file whole.
 *
 * @throws Error naming the problem: not a ZIP, truncated, a disallowed global, a storage that is
 * missing or too short, a tensor reaching past its storage.
 */
export function readTorchArchive(bytes: Uint8Array | ArrayBuffer | ZipByteSource): TorchArchiveContents {
  const buf =
    bytes instanceof Uint8Array || bytes instanceof ArrayBuffer
      ? bytes instanceof Uint8Array
        ? bytes
        : new Uint8Array(bytes)
      : bytes;
  const head = buf instanceof Uint8Array ? buf : buf.readSlice(0, Math.min(4, buf.byteLength));
  if (!isZip(head)) {
    if (head[0] === 0x80) {
      throw new Error(
        'torch: this is a bare pickle (the legacy torch.save format of PyTorch < 1.6), which is not supported; re-save it with a current PyTorch',
      );
    }
    throw new Error('torch: not a PyTorch zip archive (missing the PK\\x03\\x04 signature)');
  }
  const zip = new ZipArchive(buf);
  const pkl = zip.names().find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl)
    throw new Error(`torch: archive has no <name>/data.pkl entry (entries: ${zip.names().slice(0, 8).join(', ')})`);
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const torchScript =
    zip.entries.has(`${prefix}constants.pkl`) || zip.names().some((n) => n.startsWith(`${prefix}code/`));
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PickleValue): PickleValue => {
    if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') {
      throw new Error(
        `torch: unsupported persistent id (expected ('storage', type, key, location, numel)), got a ${describe(pid)}`,
      );
    }
    const [, type, key, , numel] = pid;
    if (!(type instanceof StorageType))
      throw new Error(`torch: persistent id names a ${describe(type)}, not a storage type`);
    if (typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
      throw new Error('torch: persistent id has an invalid storage key or element count');
    }
    const entry = zip.entries.get(`${prefix}data/${key}`);
    if (!entry) throw new Error(`torch: storage '${key}' has no entry ${prefix}data/${key}`);
    if (entry.size < numel * DTYPE_BYTES[type.dtype]) {
      throw new Error(
        `torch: storage '${key}' declares ${numel} ${type.dtype} elements (${numel * DTYPE_BYTES[type.dtype]} bytes) but its entry holds ${entry.size}`,
      );
    }
    let s = storages.get(key);
    if (!s) {
      s = new TorchStorage(key, type.dtype, numel);
      storages.set(key, s);
    }
    return s;
  };
  const root = unpickle(zip.read(pkl), { resolveGlobal: resolver(torchScript), persistentLoad });
  const refs = new Map<string, TorchTensor>();
  if (root instanceof PyObject) {
    walkModule(root, '', refs, torchScriptMembers(zip, prefix), 0);
  } else {
    walkDict(unwrapStateDict(root), '', refs, 0);
  }
  if (refs.size === 0) throw new Error('torch: the checkpoint holds no tensors');
  const storageBytes = new Map<string, Uint8Array>();
  const tensors = new Map<string, RawTensor>();
  if (!(buf instanceof Uint8Array)) {
    // From a file: each tensor's storage is read when its data is asked for, into a new array that
    // becomes garbage as soon as the caller is done with it (the file is never held whole).
    for (const [name, t] of refs) {
      const entry = `${prefix}data/${t.storage.key}`;
      tensors.set(name, {
        dtype: t.storage.dtype,
        shape: [...t.shape],
        get data() {
          return materialize(name, t, zip.read(entry)).data;
        },
      });
    }
    return { tensors, format: torchScript ? 'torchscript' : 'pickle' };
  }
  for (const [name, t] of refs) {
    let sb = storageBytes.get(t.storage.key);
    if (!sb) {
      sb = zip.read(`${prefix}data/${t.storage.key}`);
      storageBytes.set(t.storage.key, sb);
    }
    tensors.set(name, materialize(name, t, sb));
  }
  return { tensors, format: torchScript ? 'torchscript' : 'pickle' };
}

function containsTensor(v: PickleValue, depth: number): boolean {
  if (v instanceof TorchTensor) return true;
  if (depth > 2 || !(v instanceof Map)) return false;
  for (const x of v.values()) if (containsTensor(x, depth + 1)) return true;
  return false;
}

function unwrapStateDict(root: PickleValue): PickleValue {
  let v = root;
  for (let depth = 0; depth < 4 && v instanceof Map; depth++) {
    const m: Map<PickleValue, PickleValue> = v;
    const key = TORCH_DEFAULTS.stateDictKeys.find(
      (k) => m.get(k) instanceof Map && containsTensor(m.get(k) as PickleValue, 0),
    );
    if (key === undefined) break;
    v = m.get(key) as PickleValue;
  }
  return v;
}

function walkDict(v: PickleValue, prefix: string, out: Map<string, TorchTensor>, depth: number): void {
  if (depth > TORCH_DEFAULTS.maxWalkDepth) {
    throw new Error(`torch: checkpoint dicts nest deeper than ${TORCH_DEFAULTS.maxWalkDepth} levels`);
  }
  if (!(v instanceof Map)) {
    if (v instanceof TorchTensor && prefix === '')
      throw new Error('torch: the checkpoint is a single tensor, not a state_dict');
    return;
  }
  for (const [k, x] of v) {
    if (typeof k !== 'string' && typeof k !== 'number') continue;
    const name = prefix + String(k);
    if (x instanceof TorchTensor) out.set(name, x);
    else if (x instanceof Map) walkDict(x, `${name}.`, out, depth + 1);
  }
}

/** Class (`module.Name`) → names of its parameters and buffers, from the archive's `code/`. */
function torchScriptMembers(zip: ZipArchive, prefix: string): Map<string, Set<string>> {
  const members = new Map<string, Set<string>>();
  const codeDir = `${prefix}code/`;
  const classRe = /^class (\w+)\([\w.]+\):\n\s+__parameters__ = \[([^\]]*)\]\n\s+__buffers__ = \[([^\]]*)\]/gm;
  for (const [name, entry] of zip.entries) {
    if (!name.startsWith(codeDir) || !name.endsWith('.py') || entry.size > TORCH_DEFAULTS.maxCodeBytes) continue;
    const module = name.slice(codeDir.length, -3).replaceAll('/', '.');
    const text = new TextDecoder().decode(zip.read(name));
    for (const m of text.matchAll(classRe)) {
      const names = `${m[2]},${m[3]}`.match(/"[^"]*"/g) ?? [];
      members.set(`${module}.${m[1]}`, new Set(names.map((s) => s.slice(1, -1))));
    }
  }
  return members;
}

function walkModule(
  obj: PyObject,
  prefix: string,
  out: Map<string, TorchTensor>,
  members: Map<string, Set<string>>,
  depth: number,
): void {
  if (depth > TORCH_DEFAULTS.maxWalkDepth) {
    throw new Error(`torch: TorchScript modules nest deeper than ${TORCH_DEFAULTS.maxWalkDepth} levels`);
  }
  const declared = members.get(obj.className);
  for (const [k, v] of obj.attrs) {
    if (v instanceof TorchTensor && (declared === undefined || declared.has(k))) out.set(prefix + k, v);
  }
  for (const [k, v] of obj.attrs) {
    if (v instanceof PyObject) walkModule(v, `${prefix + k}.`, out, members, depth + 1);
  }
}

function materialize(name: string, t: TorchTensor, bytes: Uint8Array): RawTensor {
  const { dtype } = t.storage;
  const eb = DTYPE_BYTES[dtype];
  const count = t.shape.reduce((a, b) => a * b, 1);
  const shape = [...t.shape];
  if (count === 0) return { dtype, shape, data: decodeBytes(bytes.subarray(0, 0), dtype, name, 'torch') };
  let contiguous = true;
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= shape[i];
  }
  if (contiguous) {
    return {
      dtype,
      shape,
      data: decodeBytes(bytes.subarray(t.offset * eb, (t.offset + count) * eb), dtype, name, 'torch'),
    };
  }
  let last = t.offset;
  for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * t.stride[i];
  const span = decodeBytes(bytes.subarray(t.offset * eb, (last + 1) * eb), dtype, name, 'torch');
  const data = span instanceof Float32Array ? new Float32Array(count) : new Int32Array(count);
  const idx = new Array<number>(shape.length).fill(0);
  let src = 0;
  for (let i = 0; i < count; i++) {
    data[i] = span[src];
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      src += t.stride[d];
      if (idx[d] < shape[d]) break;
      src -= t.stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return { dtype, shape, data };
}
