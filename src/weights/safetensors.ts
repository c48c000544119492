import * as tf from '@tensorflow/tfjs-core';
import { nodeFs } from '../util/node';
import { type ByteDtype, DTYPE_BYTES, decodeBytes } from './dtypes';
import type { ZipByteSource } from './zip';

/** Element types a safetensors file may hold that this reader understands. */
export type SafetensorsDtype = ByteDtype;

/** One tensor of a safetensors file (or of a PyTorch checkpoint), decoded to a JavaScript typed array. */
export interface RawTensor {
  /** The dtype as stored in the file. */
  dtype: SafetensorsDtype;
  /** Shape, C order. */
  shape: number[];
  /**
   * Values: float types become `Float32Array`; `I64` becomes `Int32Array` (values outside the
   * int32 range are an error); `I32`, `I16`, `I8`, `U8` and `BOOL` become `Int32Array`.
   * For `F32` data this may be a view into the bytes that were read (no copy).
   */
  data: Float32Array | Int32Array;
}

/** Limits and defaults of the safetensors reader and writer. */
export const SAFETENSORS_DEFAULTS = {
  /** Largest header accepted, in bytes (the format caps it at 100 MB). */
  maxHeaderBytes: 100_000_000,
  /** Header alignment the writer pads to, so that tensor data starts 8-byte aligned. */
  headerAlignment: 8,
  /** safetensors dtype the writer uses for int32 tensors (PyTorch's integer default is int64). */
  intDtype: 'I64' as 'I64' | 'I32',
} as const;

/**
 * Decodes `count` little-endian elements of `dtype` starting at byte `offset` of `bytes`.
 * `name` is used in error messages only. Aligned `F32` data is returned as a view of `bytes`
 * (no copy); every other case allocates a new array.
 */
export function decodeElements(
  bytes: Uint8Array,
  offset: number,
  count: number,
  dtype: SafetensorsDtype,
  name: string,
): Float32Array | Int32Array {
  const n = count * DTYPE_BYTES[dtype];
  if (!(offset >= 0 && offset + n <= bytes.byteLength)) {
    throw new Error(
      `decodeElements: tensor '${name}' needs bytes [${offset}, ${offset + n}) but only ${bytes.byteLength} are available`,
    );
  }
  return decodeBytes(bytes.subarray(offset, offset + n), dtype, name, 'safetensors');
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function toUint8(bytes: Uint8Array | ArrayBuffer, arg: string): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  throw new Error(`${arg}: expected a Uint8Array or ArrayBuffer, got ${Object.prototype.toString.call(bytes)}`);
}

function readHeaderLength(first8: Uint8Array, fileLength: number): number {
  if (fileLength < 8) {
    throw new Error(`safetensors: file is ${fileLength} bytes, shorter than the 8-byte header length`);
  }
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const headerLen = dv.getBigUint64(0, true);
  if (headerLen > BigInt(SAFETENSORS_DEFAULTS.maxHeaderBytes) || 8n + headerLen > BigInt(fileLength)) {
    throw new Error(
      `safetensors: declared header length ${headerLen} does not fit in a file of ${fileLength} bytes (limit ${SAFETENSORS_DEFAULTS.maxHeaderBytes})`,
    );
  }
  return Number(headerLen);
}

/** Parses and validates the JSON header against a data section of `dataLen` bytes. */
function parseHeader(
  headerBytes: Uint8Array,
  dataLen: number,
): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new Error(`safetensors: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new Error(
      `safetensors: header must be a JSON object, got ${Array.isArray(header) ? 'an array' : typeof header}`,
    );
  }
  const entries: HeaderEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (
        entry === null ||
        typeof entry !== 'object' ||
        Array.isArray(entry) ||
        !Object.values(entry).every((v) => typeof v === 'string')
      ) {
        throw new Error('safetensors: __metadata__ must be an object of string values');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (entry === null || typeof entry !== 'object') {
      throw new Error(`safetensors: entry '${name}' must be an object with dtype, shape, data_offsets`);
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = e.dtype as SafetensorsDtype;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
      throw new Error(
        `safetensors: tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)} (expected one of ${Object.keys(DTYPE_BYTES).join(', ')})`,
      );
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`safetensors: tensor '${name}' has invalid shape ${JSON.stringify(shape)}`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new Error(`safetensors: tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end || end > dataLen) {
      throw new Error(
        `safetensors: tensor '${name}' data_offsets [${begin}, ${end}] fall outside the data section of ${dataLen} bytes`,
      );
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (count * DTYPE_BYTES[dtype] !== end - begin) {
      throw new Error(
        `safetensors: tensor '${name}' of shape [${shape}] ${dtype} needs ${count * DTYPE_BYTES[dtype]} bytes, data_offsets give ${end - begin}`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new Error(
        `safetensors: tensors '${sorted[i - 1].name}' and '${sorted[i].name}' overlap (data_offsets [${sorted[i - 1].begin}, ${sorted[i - 1].end}] and [${sorted[i].begin}, ${sorted[i].end}])`,
      );
    }
  }
  return { entries, metadata };
}

/**
 * Parses a safetensors file held in memory into name → {@link RawTensor}. Validates the header
 * (length, JSON, dtypes, shapes, offsets inside the data section, sizes matching shapes, no
 * overlaps) before decoding anything, and throws an Error naming the first problem. No tfjs
 * tensors are created. Aligned `F32` tensors are views of `bytes` (no copy).
 *
 * @param bytes the whole file.
 * @returns tensors in file order, plus `__metadata__` (string map; empty when absent).
 */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer): {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
} {
  const buf = toUint8(bytes, 'parseSafetensors(bytes)');
  const headerLen = readHeaderLength(buf, buf.byteLength);
  const dataStart = 8 + headerLen;
  const { entries, metadata } = parseHeader(buf.subarray(8, dataStart), buf.byteLength - dataStart);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      data: decodeBytes(buf.subarray(dataStart + e.begin, dataStart + e.end), e.dtype, e.name, 'safetensors'),
    });
  }
  return { tensors, metadata };
}

/** Turns raw tensors into tfjs tensors (float types as float32, integer types as int32). */
export function rawToTensors(raw: Map<string, RawTensor>): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, t] of raw) {
    out.set(name, tf.tensor(t.data, t.shape, t.data instanceof Float32Array ? 'float32' : 'int32'));
  }
  return out;
}

/**
 * Reads a safetensors file into a Map of name → new tfjs tensor (float types as float32, integer
 * types as int32). The caller owns every returned tensor. Aligned F32 data is handed to tfjs as a
 * view of `bytes`; backends that keep the arrays they are given (cpu) then share that memory, so
 * do not modify `bytes` afterwards.
 *
 * @example
 * const weights = readSafetensors(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 */
export function readSafetensors(bytes: Uint8Array | ArrayBuffer): Map<string, tf.Tensor> {
  return rawToTensors(parseSafetensors(bytes).tensors);
}

/**
 * Parses a safetensors file behind a random-access source (e.g. a file on disk): the header is read
 * and validated now; each tensor's `data` is read from the source and decoded when it is accessed
 * (again at every access), so a caller that converts tensors one by one never holds the file whole.
 */
export function parseSafetensorsSource(source: ZipByteSource): {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
} {
  const size = source.byteLength;
  const headerLen = readHeaderLength(size >= 8 ? source.readSlice(0, 8) : new Uint8Array(8), size);
  const dataStart = 8 + headerLen;
  const { entries, metadata } = parseHeader(source.readSlice(8, headerLen), size - dataStart);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    tensors.set(e.name, {
      dtype: e.dtype,
      shape: e.shape,
      get data() {
        return decodeBytes(source.readSlice(dataStart + e.begin, e.end - e.begin), e.dtype, e.name, 'safetensors');
      },
    });
  }
  return { tensors, metadata };
}

/**
 * Node only: reads a safetensors file from `path` without holding the file twice: the header is
 * read first and validated against the file size, then each tensor's bytes are read straight
 * into its own typed array. Returns raw tensors (no tfjs tensors are created).
 */
export async function parseSafetensorsFile(
  path: string,
): Promise<{ tensors: Map<string, RawTensor>; metadata: Record<string, string> }> {
  if (typeof path !== 'string') throw new Error(`parseSafetensorsFile(path): expected a string, got ${typeof path}`);
  const fs = await nodeFs();
  const fh = await fs.open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const first8 = new Uint8Array(8);
    if (size >= 8) await readFully(fh, first8, 0);
    const headerLen = readHeaderLength(first8, size);
    const headerBytes = new Uint8Array(headerLen);
    await readFully(fh, headerBytes, 8);
    const dataStart = 8 + headerLen;
    const { entries, metadata } = parseHeader(headerBytes, size - dataStart);
    const tensors = new Map<string, RawTensor>();
    for (const e of entries) {
      const n = e.end - e.begin;
      if (e.dtype === 'F32') {
        const data = new Float32Array(n / 4);
        await readFully(fh, new Uint8Array(data.buffer), dataStart + e.begin);
        tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
      } else {
        const bytes = new Uint8Array(n);
        await readFully(fh, bytes, dataStart + e.begin);
        tensors.set(e.name, {
          dtype: e.dtype,
          shape: e.shape,
          data: decodeBytes(bytes, e.dtype, e.name, 'safetensors'),
        });
      }
    }
    return { tensors, metadata };
  } finally {
    await fh.close();
  }
}

interface ReadableHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

async function readFully(fh: ReadableHandle, into: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    const { bytesRead } = await fh.read(into, done, into.byteLength - done, position + done);
    if (bytesRead === 0) {
      throw new Error(
        `safetensors: file ended after ${position + done} bytes while reading ${into.byteLength} bytes at ${position}`,
      );
    }
    done += bytesRead;
  }
}

/**
 * Node only: reads a safetensors file at `path` into name → new tfjs tensor (see
 * {@link parseSafetensorsFile}). The caller owns every returned tensor.
 */
export async function readSafetensorsFile(path: string): Promise<Map<string, tf.Tensor>> {
  return rawToTensors((await parseSafetensorsFile(path)).tensors);
}

/** Options of {@link serializeSafetensors}. */
export interface SerializeSafetensorsOptions {
  /** Stored dtype of int32 tensors; default {@link SAFETENSORS_DEFAULTS}.intDtype (`'I64'`). */
  intDtype?: 'I64' | 'I32';
}

/**
 * A safetensors header holding `metadata` as its `__metadata__` (when given); throws (naming `fn`)
 * unless every metadata value is a string.
 */
function headerWithMetadata(fn: string, metadata: Record<string, string> | undefined): Record<string, unknown> {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`${fn}(metadata): value of '${k}' must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  return header;
}

/**
 * Serializes name → tensor into a safetensors file: float32 as `F32`, int32 as `I64` (or `I32`,
 * see options), bool as `BOOL`, in map order, header padded so every tensor starts 8-byte
 * aligned. Reads the tensors synchronously (`dataSync`); disposes nothing.
 *
 * @param tensors name → tensor; names must be non-empty and must not be `__metadata__`.
 * @param metadata optional string map stored as `__metadata__`.
 * @returns the file bytes.
 * @example
 * writeFileSync('w.safetensors', serializeSafetensors(new Map([['w', tf.ones([2, 2])]])));
 */
export function serializeSafetensors(
  tensors: Map<string, tf.Tensor>,
  metadata?: Record<string, string>,
  options: SerializeSafetensorsOptions = {},
): Uint8Array {
  if (!(tensors instanceof Map)) {
    throw new Error(`serializeSafetensors(tensors): expected a Map<string, tf.Tensor>, got ${typeof tensors}`);
  }
  const intDtype = options.intDtype ?? SAFETENSORS_DEFAULTS.intDtype;
  if (intDtype !== 'I64' && intDtype !== 'I32') {
    throw new Error(`serializeSafetensors(options.intDtype): expected 'I64' or 'I32', got ${JSON.stringify(intDtype)}`);
  }
  const header = headerWithMetadata('serializeSafetensors', metadata);
  const parts: { name: string; dtype: SafetensorsDtype; tensor: tf.Tensor; bytes: number }[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '' || name === '__metadata__') {
      throw new Error(`serializeSafetensors(tensors): invalid tensor name ${JSON.stringify(name)}`);
    }
    if (!(t instanceof tf.Tensor) || t.isDisposed) {
      throw new Error(`serializeSafetensors(tensors): '${name}' is not a live tf.Tensor`);
    }
    let dtype: SafetensorsDtype;
    if (t.dtype === 'float32') dtype = 'F32';
    else if (t.dtype === 'int32') dtype = intDtype;
    else if (t.dtype === 'bool') dtype = 'BOOL';
    else
      throw new Error(`serializeSafetensors(tensors): '${name}' has dtype ${t.dtype}; expected float32, int32 or bool`);
    const bytes = t.size * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    parts.push({ name, dtype, tensor: t, bytes });
    offset += bytes;
  }
  const { out, dataStart } = allocateSafetensors(header, offset);
  let pos = dataStart;
  for (const p of parts) {
    const values = p.tensor.dataSync();
    const dst = new DataView(out.buffer, pos, p.bytes);
    if (p.dtype === 'F32') {
      out.set(new Uint8Array(values.buffer, values.byteOffset, p.bytes), pos);
    } else if (p.dtype === 'I32') {
      const v = values as Int32Array;
      for (let i = 0; i < v.length; i++) dst.setInt32(i * 4, v[i], true);
    } else if (p.dtype === 'I64') {
      const v = values as Int32Array;
      for (let i = 0; i < v.length; i++) {
        dst.setInt32(i * 8, v[i], true);
        dst.setInt32(i * 8 + 4, v[i] < 0 ? -1 : 0, true);
      }
    } else {
      const v = values as Uint8Array;
      for (let i = 0; i < v.length; i++) out[pos + i] = v[i] ? 1 : 0;
    }
    pos += p.bytes;
  }
  return out;
}

/** The file's bytes with the 8-byte length and the header (padded for alignment) written, data zeroed. */
function allocateSafetensors(
  header: Record<string, unknown>,
  dataBytes: number,
): { out: Uint8Array; dataStart: number } {
  let json = JSON.stringify(header);
  const align = SAFETENSORS_DEFAULTS.headerAlignment;
  let headerBytes = new TextEncoder().encode(json);
  const pad = (align - (headerBytes.byteLength % align)) % align;
  if (pad > 0) {
    json += ' '.repeat(pad);
    headerBytes = new TextEncoder().encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  return { out, dataStart: 8 + headerBytes.byteLength };
}

/** One entry of {@link serializeRawSafetensors}: little-endian bytes already in the stored dtype. */
export interface RawSafetensorsEntry {
  /** Stored dtype. */
  dtype: SafetensorsDtype;
  /** Shape, C order. */
  shape: number[];
  /** The data, `product(shape) × bytes per element` bytes, little-endian. */
  bytes: Uint8Array;
}

/**
 * Serializes entries whose bytes are already encoded (e.g. float16 features, UTF-8 text as `U8`)
 * into a safetensors file, in map order, header padded for 8-byte alignment. No tensors involved.
 *
 * @throws Error when an entry's byte length does not match its dtype and shape, or a name or a
 * metadata value is invalid.
 */
export function serializeRawSafetensors(
  entries: Map<string, RawSafetensorsEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header = headerWithMetadata('serializeRawSafetensors', metadata);
  let offset = 0;
  for (const [name, e] of entries) {
    const want = e.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype];
    if (name === '' || name === '__metadata__' || e.bytes.byteLength !== want) {
      throw new Error(
        `serializeRawSafetensors(entries): '${name}' must be a valid name with ${want} bytes for ${e.dtype} [${e.shape}], got ${e.bytes.byteLength}`,
      );
    }
    header[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + want] };
    offset += want;
  }
  const { out, dataStart } = allocateSafetensors(header, offset);
  let pos = dataStart;
  for (const e of entries.values()) {
    out.set(e.bytes, pos);
    pos += e.bytes.byteLength;
  }
  return out;
}
