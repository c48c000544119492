/**
 * A minimal writer of NumPy's `.npy` format (version 1.0): little-endian float32 (`<f4`) or int32
 * (`<i4`) arrays in C order, readable with `numpy.load`.
 */

/** Constants of the `.npy` format as written here. */
export const NPY_DEFAULTS = {
  /** The header (magic + version + length + dict) is padded with spaces to a multiple of this. */
  alignment: 64,
} as const;

/**
 * Encodes an array as `.npy` bytes: the magic `\x93NUMPY`, version 1.0, a little-endian uint16
 * header length, the header dict `{'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }`
 * padded with spaces and ending in '\n' so the data starts 64-byte aligned, then the values.
 *
 * @param data float32 or int32 values in C order.
 * @param shape the array's shape; its product must equal `data.length`.
 * @returns the file bytes.
 * @throws Error when the shape does not match the data or has a negative or non-integer entry.
 * @example
 * writeFileSync('features.npy', encodeNpy(features, [n, 512]));
 */
export function encodeNpy(data: Float32Array | Int32Array, shape: readonly number[]): Uint8Array {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`encodeNpy: shape must hold non-negative integers, got [${shape}]`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) {
    throw new Error(`encodeNpy: shape [${shape}] holds ${size} values but data has ${data.length}`);
  }
  const descr = data instanceof Float32Array ? '<f4' : '<i4';
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
  const unpadded = 10 + header.length + 1;
  const total = Math.ceil(unpadded / NPY_DEFAULTS.alignment) * NPY_DEFAULTS.alignment;
  header = `${header}${' '.repeat(total - unpadded)}\n`;
  if (header.length > 0xffff)
    throw new Error(`encodeNpy: header of ${header.length} bytes exceeds version 1.0's limit`);
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer, total);
  if (data instanceof Float32Array) for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  else for (let i = 0; i < data.length; i++) view.setInt32(i * 4, data[i], true);
  return out;
}
