import { nodeFsSync } from '../util/node';
import type { ZipByteSource } from './zip';

/** A file opened for random access, and how to close it. */
export interface FileByteSource {
  /** Reads slices of the file (each into a new array). */
  source: ZipByteSource;
  /** Closes the file; later reads fail. */
  close(): void;
}

/**
 * Node only: opens the file at `path` for random access, so that the archive readers can take it
 * piece by piece instead of holding it whole. The caller closes it.
 * @throws Error when the file cannot be opened; reads throw when it ends before a requested slice.
 */
export async function openFileByteSource(path: string): Promise<FileByteSource> {
  const fs = await nodeFsSync();
  const fd = fs.openSync(path, 'r');
  const byteLength = fs.fstatSync(fd).size;
  return {
    close: () => fs.closeSync(fd),
    source: {
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
    },
  };
}

/** Node only: runs `use` on the file at `path` opened with {@link openFileByteSource}, then closes it. */
export async function withFileByteSource<T>(path: string, use: (source: ZipByteSource) => T): Promise<T> {
  const file = await openFileByteSource(path);
  try {
    return use(file.source);
  } finally {
    file.close();
  }
}
