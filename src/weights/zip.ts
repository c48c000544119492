import { inflateSync } from 'fflate';

/**
 * A minimal ZIP reader for PyTorch archives: it parses the central directory (ZIP64 included)
 * and hands out entries on demand. Stored entries — torch writes its tensor data uncompressed —
 * are returned as views of the archive bytes (no copy); deflated entries are inflated one at a
 * time. Every offset and size is checked against the archive length before it is used.
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

/** Read-only view of a ZIP archive held in memory. */
export class ZipArchive {
  /** Entries by name, in central-directory order. */
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  /**
   * Parses the central directory of `bytes`.
   * @throws Error when the archive is truncated, inconsistent or uses an unsupported feature.
   */
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = bytes.byteLength;
    let eocd = -1;
    for (let p = n - 22; p >= Math.max(0, n - 22 - 65535); p--) {
      if (this.view.getUint32(p, true) === 0x06054b50) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0)
      throw new Error(`zip: no end-of-central-directory record in ${n} bytes (truncated or not a ZIP archive)`);
    let count = this.view.getUint16(eocd + 10, true);
    let cdSize = this.view.getUint32(eocd + 12, true);
    let cdOffset = this.view.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.view.getUint32(loc, true) !== 0x07064b50) {
        throw new Error('zip: ZIP64 end-of-central-directory locator missing');
      }
      const z64 = this.u64(loc + 8, 'ZIP64 record offset');
      this.need(z64, 56, 'ZIP64 end-of-central-directory record');
      if (this.view.getUint32(z64, true) !== 0x06064b50)
        throw new Error('zip: bad ZIP64 end-of-central-directory signature');
      count = this.u64(z64 + 32, 'entry count');
      cdSize = this.u64(z64 + 40, 'central directory size');
      cdOffset = this.u64(z64 + 48, 'central directory offset');
    }
    this.need(cdOffset, cdSize, 'central directory');
    if (count * 46 > cdSize) {
      throw new Error(`zip: central directory of ${cdSize} bytes cannot hold the ${count} entries it declares`);
    }
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      this.need(p, 46, `central directory entry ${i}`);
      if (this.view.getUint32(p, true) !== 0x02014b50) throw new Error(`zip: bad central directory signature at ${p}`);
      const flags = this.view.getUint16(p + 8, true);
      const method = this.view.getUint16(p + 10, true);
      let compressedSize = this.view.getUint32(p + 20, true);
      let size = this.view.getUint32(p + 24, true);
      const nameLen = this.view.getUint16(p + 28, true);
      const extraLen = this.view.getUint16(p + 30, true);
      const commentLen = this.view.getUint16(p + 32, true);
      let localOffset = this.view.getUint32(p + 42, true);
      this.need(p + 46, nameLen + extraLen + commentLen, `central directory entry ${i}`);
      const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
      if (flags & 1) throw new Error(`zip: entry '${name}' is encrypted`);
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = this.view.getUint16(e, true);
        const len = this.view.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) {
            size = this.u64(q, 'ZIP64 size');
            q += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = this.u64(q, 'ZIP64 compressed size');
            q += 8;
          }
          if (localOffset === 0xffffffff) localOffset = this.u64(q, 'ZIP64 local offset');
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  private need(offset: number, length: number, what: string): void {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.bytes.byteLength)) {
      throw new Error(
        `zip: ${what} at bytes [${offset}, ${offset + length}) falls outside the archive of ${this.bytes.byteLength} bytes`,
      );
    }
  }

  private u64(offset: number, what: string): number {
    this.need(offset, 8, what);
    const v = this.view.getBigUint64(offset, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`zip: ${what} ${v} is too large`);
    return Number(v);
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
    this.need(lo, 30, `local header of '${name}'`);
    if (this.view.getUint32(lo, true) !== 0x04034b50) throw new Error(`zip: bad local header signature for '${name}'`);
    const start = lo + 30 + this.view.getUint16(lo + 26, true) + this.view.getUint16(lo + 28, true);
    this.need(start, entry.compressedSize, `data of '${name}'`);
    const raw = this.bytes.subarray(start, start + entry.compressedSize);
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
