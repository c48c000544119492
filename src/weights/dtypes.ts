/**
 * Element types of stored tensors (safetensors names; PyTorch storages map onto them) and fast
 * little-endian decoding to the two array types tfjs holds: float32 and int32.
 */

/** Stored element type, in safetensors spelling. */
export type ByteDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element of each {@link ByteDtype}. */
export const DTYPE_BYTES: Readonly<Record<ByteDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

let halfTable: Float32Array | null = null;

/** float16 bit pattern → float32 value, for all 65,536 patterns (built once, 256 KB). */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * 2 ** -14 * (frac / 1024);
    else if (exp === 31) t[h] = frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else t[h] = sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  halfTable = t;
  return t;
}

/**
 * Copies `bytes` into a fresh, aligned buffer when its offset is not a multiple of `align`
 * (`new Uint8Array(x)` copies; a Node Buffer's `slice()` would return a view at the same offset).
 */
function aligned(bytes: Uint8Array, align: number): Uint8Array {
  return bytes.byteOffset % align === 0 ? bytes : new Uint8Array(bytes);
}

/**
 * Decodes little-endian elements of `dtype` held in exactly `bytes` (its length must be a
 * multiple of the element size). Floats become a Float32Array, integers an Int32Array (int64
 * values outside the int32 range are an error naming `name`; `source` prefixes error messages).
 * Aligned F32 input on a little-endian host is returned as a view of `bytes` (no copy).
 */
export function decodeBytes(
  bytes: Uint8Array,
  dtype: ByteDtype,
  name: string,
  source: string,
): Float32Array | Int32Array {
  const size = DTYPE_BYTES[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new Error(`${source}: tensor '${name}' has ${bytes.byteLength} bytes, not a multiple of ${size} (${dtype})`);
  }
  const count = bytes.byteLength / size;
  if (!LITTLE_ENDIAN_HOST) return decodeWithDataView(bytes, dtype, count, name, source);
  switch (dtype) {
    case 'F32': {
      const b = aligned(bytes, 4);
      return new Float32Array(b.buffer, b.byteOffset, count);
    }
    case 'F64': {
      const b = aligned(bytes, 8);
      return Float32Array.from(new Float64Array(b.buffer, b.byteOffset, count));
    }
    case 'F16': {
      const b = aligned(bytes, 2);
      const src = new Uint16Array(b.buffer, b.byteOffset, count);
      const table = halfToFloatTable();
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[src[i]];
      return out;
    }
    case 'BF16': {
      const b = aligned(bytes, 2);
      const src = new Uint16Array(b.buffer, b.byteOffset, count);
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = src[i] << 16;
      return out;
    }
    case 'I64': {
      const b = aligned(bytes, 4);
      const src = new Int32Array(b.buffer, b.byteOffset, count * 2);
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const lo = src[2 * i];
        const hi = src[2 * i + 1];
        if (hi !== lo >> 31) {
          const v = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
          throw new Error(`${source}: tensor '${name}' holds int64 value ${v}, outside the int32 range tfjs supports`);
        }
        out[i] = lo;
      }
      return out;
    }
    case 'I32': {
      const b = aligned(bytes, 4);
      return new Int32Array(b.buffer, b.byteOffset, count).slice();
    }
    case 'I16': {
      const b = aligned(bytes, 2);
      return Int32Array.from(new Int16Array(b.buffer, b.byteOffset, count));
    }
    case 'I8':
      return Int32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, count));
    case 'U8':
    case 'BOOL':
      return Int32Array.from(bytes);
  }
}

function decodeWithDataView(
  bytes: Uint8Array,
  dtype: ByteDtype,
  count: number,
  name: string,
  source: string,
): Float32Array | Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isFloat = dtype === 'F64' || dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
  const out = isFloat ? new Float32Array(count) : new Int32Array(count);
  const table = dtype === 'F16' ? halfToFloatTable() : null;
  const tmp = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 'F64':
        out[i] = view.getFloat64(i * 8, true);
        break;
      case 'F32':
        out[i] = view.getFloat32(i * 4, true);
        break;
      case 'F16':
        out[i] = (table as Float32Array)[view.getUint16(i * 2, true)];
        break;
      case 'BF16':
        tmp.setUint32(0, view.getUint16(i * 2, true) << 16, false);
        out[i] = tmp.getFloat32(0, false);
        break;
      case 'I64': {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw new Error(`${source}: tensor '${name}' holds int64 value ${v}, outside the int32 range tfjs supports`);
        }
        out[i] = Number(v);
        break;
      }
      case 'I32':
        out[i] = view.getInt32(i * 4, true);
        break;
      case 'I16':
        out[i] = view.getInt16(i * 2, true);
        break;
      case 'I8':
        out[i] = view.getInt8(i);
        break;
      case 'U8':
      case 'BOOL':
        out[i] = view.getUint8(i);
        break;
    }
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE float16 bits, rounding to nearest even (±Infinity beyond ±65504). */
export function float32ToHalfBits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}
