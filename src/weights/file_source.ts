import { nodeFsSync } from '../util/node';
import type { ZipByteSource } from './zip';

/**
 * Node only: runs `use` with random access to the file at `path` (each `readSlice` reads into a
 * new array), and closes the file afterwards. Lets the archive readers take a file piece by piece
 * instead of holding it whole.
 * @throws Error when the file cannot be opened, or ends before a requested slice.
 */
export async function withFileByteSource<T>(path: string, use: (source: ZipByteSource) => T): Promise<T> {
  const fs = await nodeFsSync();
  const fd = fs.openSync(path, 'r');
  try {
    const byteLength = fs.fstatSync(fd).size;
    return use({
      byteLength,
      readSlice(offset: number, length: number): Uint8Array {
        const out = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const n = fs.readSync(fd, out, done, length - done, offset + done);
          if (n === 0)
            throw new Error(`'${path}' ended after ${offset + done} bytes while reading ${length} at ${offset}`);
          done += n;
        }
        return out;
      },
    });
  } finally {
    fs.closeSync(fd);
  }
}
