import * as tf from '@tensorflow/tfjs-core';

/** Element types a safetensors file may hold that this reader understands. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

/** One tensor of a safetensors file, decoded to a JavaScript typed array. */
export interface RawTensor {
  /** The dtype as stored in the file. */
  dtype: SafetensorsDtype;
  /** Shape, C order. */
  shape: number[];
  /**
   * Values: float types become `Float32Array`; `I64` becomes `Int32Array` (values outside the
   * int32 range are an error); `I32` stays `Int32Array`; `U8`/`BOOL` become `Int32Array`.
   */
  data: Float32Array | Int32Array;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };

/** Largest header this reader accepts (the format caps it at 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function toUint8(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
}

/** Converts one IEEE half-precision value (as a uint16) to a float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/**
 * Decodes `count` little-endian elements of `dtype` starting at byte `offset` of `bytes`.
 * `name` is used in error messages only.
 */
export function decodeElements(
  bytes: Uint8Array,
  offset: number,
  count: number,
  dtype: SafetensorsDtype,
  name: string,
): Float32Array | Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * BYTES[dtype]);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(count);
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        tmp.setUint32(0, view.getUint16(i * 2, true) << 16, false);
        out[i] = tmp.getFloat32(0, false);
      }
      return out;
    }
    case 'I64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw new Error(
            `safetensors: tensor '${name}' holds int64 value ${v}, outside the int32 range tfjs supports`,
          );
        }
        out[i] = Number(v);
      }
      return out;
    }
    case 'I32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    }
    case 'U8':
    case 'BOOL': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i);
      return out;
    }
  }
}

/**
 * Parses a safetensors file held in memory into name → {@link RawTensor}. Validates the header
 * (length, JSON, dtypes, shapes, offsets inside the data section, sizes matching shapes) and
 * throws an Error naming the first problem. No tfjs tensors are created.
 *
 * @param bytes the whole file.
 * @returns tensors in file order, plus `__metadata__` (string map) when the file has one.
 */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer): {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
} {
  const buf = toUint8(bytes);
  if (buf.byteLength < 8)
    throw new Error(`safetensors: file is ${buf.byteLength} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > buf.byteLength) {
    throw new Error(
      `safetensors: declared header length ${headerLen} does not fit in a file of ${buf.byteLength} bytes`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`safetensors: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new Error('safetensors: header must be a JSON object');
  }
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = e.dtype as SafetensorsDtype;
    if (typeof dtype !== 'string' || !(dtype in BYTES)) {
      throw new Error(
        `safetensors: tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)} (expected one of ${Object.keys(BYTES).join(', ')})`,
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
    if (count * BYTES[dtype] !== end - begin) {
      throw new Error(
        `safetensors: tensor '${name}' of shape [${shape}] ${dtype} needs ${count * BYTES[dtype]} bytes, offsets give ${end - begin}`,
      );
    }
    tensors.set(name, {
      dtype,
      shape: shape as number[],
      data: decodeElements(buf, dataStart + begin, count, dtype, name),
    });
  }
  return { tensors, metadata };
}

/**
 * Reads a safetensors file into a Map of name → new tfjs tensor (float types as float32, integer
 * types as int32). The caller owns every returned tensor.
 */
export function readSafetensors(bytes: Uint8Array | ArrayBuffer): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, t] of parseSafetensors(bytes).tensors) {
    out.set(name, tf.tensor(t.data, t.shape, t.data instanceof Float32Array ? 'float32' : 'int32'));
  }
  return out;
}
