import { inflateSync } from 'fflate';

/**
 * A minimal ZIP reader for PyTorch archives: it parses the central directory (ZIP64 included)
 * and hands out entries on demand. Stored entries — torch writes its tensor data uncompressed —
 * are returned as views of the archive bytes when it is in memory (no copy), or read on demand
 * from a {@link ZipByteSource} (a file on disk); deflated entries are inflated one at a time. Every offset and size is checked against the archive length before it is used.
 */

/** One file of a ZIP archive. */
export interface ZipEntry {
  /** Path inside the archive. */
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header. */
  localOffset: number;
}

/** Largest ratio of inflated to deflated size that DEFLATE can produce (about 1032:1). */
const MAX_DEFLATE_RATIO = 1032;

/** Whether `bytes` starts like a ZIP archive (local file header signature). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * Random access to an archive's bytes: the whole file in memory, or a file on disk read piece by
 * piece (`readSlice` returns a new array then).
 */
export interface ZipByteSource {
  /** Size of the archive in bytes. */
  readonly byteLength: number;
  /** `length` bytes from `offset` (both checked against `byteLength` by the caller). */
  readSlice(offset: number, length: number): Uint8Array;
}

/** Largest stretch before the end of an archive that can hold the end-of-central-directory record. */
const EOCD_SEARCH = 22 + 65535 + 20;

/** Read-only view of a ZIP archive, in memory or behind a {@link ZipByteSource}. */
export class ZipArchive {
  /** Entries by name, in central-directory order. */
  readonly entries = new Map<string, ZipEntry>();
  private readonly source: ZipByteSource;

  /**
   * Parses the central directory of `bytes` (held in memory: entries come back as views) or of a
   * {@link ZipByteSource} (e.g. a file on disk: only the directory is read now, each entry when
   * asked for).
   * @throws Error when the archive is truncated, inconsistent or uses an unsupported feature.
   */
  constructor(bytes: Uint8Array | ZipByteSource) {
    this.source =
      bytes instanceof Uint8Array
        ? { byteLength: bytes.byteLength, readSlice: (o, l) => bytes.subarray(o, o + l) }
        : bytes;
    const n = this.source.byteLength;
    const tailStart = Math.max(0, n - EOCD_SEARCH);
    const tail = this.slice(tailStart, n - tailStart, 'end of the archive');
    const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    let eocd = -1;
    for (let p = tail.byteLength - 22; p >= 0; p--) {
      if (tv.getUint32(p, true) === 0x06054b50) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0)
      throw new Error(`zip: no end-of-central-directory record in ${n} bytes (truncated or not a ZIP archive)`);
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || tv.getUint32(loc, true) !== 0x07064b50) {
        throw new Error('zip: ZIP64 end-of-central-directory locator missing');
      }
      const z64 = u64(tv, loc + 8, 'ZIP64 record offset');
      const rec = this.slice(z64, 56, 'ZIP64 end-of-central-directory record');
      const rv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
      if (rv.getUint32(0, true) !== 0x06064b50) throw new Error('zip: bad ZIP64 end-of-central-directory signature');
      count = u64(rv, 32, 'entry count');
      cdSize = u64(rv, 40, 'central directory size');
      cdOffset = u64(rv, 48, 'central directory offset');
    }
    const cd = this.slice(cdOffset, cdSize, 'central directory');
    const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
    if (count * 46 > cdSize) {
      throw new Error(`zip: central directory of ${cdSize} bytes cannot hold the ${count} entries it declares`);
    }
    const needCd = (offset: number, length: number, what: string): void => {
      if (!(offset >= 0 && length >= 0 && offset + length <= cd.byteLength)) {
        throw new Error(
          `zip: ${what} at bytes [${cdOffset + offset}, ${cdOffset + offset + length}) falls outside the archive's central directory`,
        );
      }
    };
    let p = 0;
    for (let i = 0; i < count; i++) {
      needCd(p, 46, `central directory entry ${i}`);
      if (view.getUint32(p, true) !== 0x02014b50)
        throw new Error(`zip: bad central directory signature at ${cdOffset + p}`);
      const flags = view.getUint16(p + 8, true);
      const method = view.getUint16(p + 10, true);
      let compressedSize = view.getUint32(p + 20, true);
      let size = view.getUint32(p + 24, true);
      const nameLen = view.getUint16(p + 28, true);
      const extraLen = view.getUint16(p + 30, true);
      const commentLen = view.getUint16(p + 32, true);
      let localOffset = view.getUint32(p + 42, true);
      needCd(p + 46, nameLen + extraLen + commentLen, `central directory entry ${i}`);
      const name = new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen));
      if (flags & 1) throw new Error(`zip: entry '${name}' is encrypted`);
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = view.getUint16(e, true);
        const len = view.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) {
            needCd(q, 8, 'ZIP64 size');
            size = u64(view, q, 'ZIP64 size');
            q += 8;
          }
          if (compressedSize === 0xffffffff) {
            needCd(q, 8, 'ZIP64 compressed size');
            compressedSize = u64(view, q, 'ZIP64 compressed size');
            q += 8;
          }
          if (localOffset === 0xffffffff) {
            needCd(q, 8, 'ZIP64 local offset');
            localOffset = u64(view, q, 'ZIP64 local offset');
          }
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** `length` bytes at `offset`, after checking that they lie inside the archive. */
  private slice(offset: number, length: number, what: string): Uint8Array {
    const n = this.source.byteLength;
    if (
      !(
        Number.isSafeInteger(offset) &&
        Number.isSafeInteger(length) &&
        offset >= 0 &&
        length >= 0 &&
        offset + length <= n
      )
    ) {
      throw new Error(`zip: ${what} at bytes [${offset}, ${offset + length}) falls outside the archive of ${n} bytes`);
    }
    return this.source.readSlice(offset, length);
  }

  /** Names of all entries. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * The bytes of entry `name`: a view of the archive for stored entries, a new array for
   * deflated ones.
   * @throws Error when the entry is missing, out of range or compressed with another method.
   */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`zip: archive has no entry '${name}'`);
    const lo = entry.localOffset;
    const header = this.slice(lo, 30, `local header of '${name}'`);
    const hv = new DataView(header.buffer, header.byteOffset, 30);
    if (hv.getUint32(0, true) !== 0x04034b50) throw new Error(`zip: bad local header signature for '${name}'`);
    const start = lo + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
    const raw = this.slice(start, entry.compressedSize, `data of '${name}'`);
    if (entry.method === 0) {
      if (entry.size !== entry.compressedSize) {
        throw new Error(
          `zip: stored entry '${name}' declares size ${entry.size} but holds ${entry.compressedSize} bytes`,
        );
      }
      return raw;
    }
    if (entry.method === 8) {
      if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 64) {
        throw new Error(
          `zip: entry '${name}' declares ${entry.size} bytes inflated from ${entry.compressedSize}, more than DEFLATE can produce`,
        );
      }
      let out: Uint8Array;
      try {
        out = inflateSync(raw, { out: new Uint8Array(entry.size) });
      } catch (err) {
        throw new Error(`zip: entry '${name}' does not inflate (${(err as Error).message})`);
      }
      if (out.byteLength !== entry.size) {
        throw new Error(`zip: entry '${name}' inflated to ${out.byteLength} bytes, declared ${entry.size}`);
      }
      return out;
    }
    throw new Error(
      `zip: entry '${name}' uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`,
    );
  }
}

function u64(view: DataView, offset: number, what: string): number {
  if (offset < 0 || offset + 8 > view.byteLength) throw new Error(`zip: ${what} falls outside the archive`);
  const v = view.getBigUint64(offset, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`zip: ${what} ${v} is too large`);
  return Number(v);
}
