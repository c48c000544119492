/**
 * The CLIP BPE merges file that ships inside the package (`bpe_simple_vocab_16e6.txt.gz`, OpenAI
 * CLIP's, MIT-licensed: see NOTICE), found relative to this module: read from disk in Node, fetched
 * in browsers. Written as `new URL('./…', import.meta.url)` so that bundlers such as Vite emit the
 * file as an asset beside the bundle.
 *
 * @module
 */
import { gzipSync } from 'fflate';
import { nodeFs } from '../util/node';

/** File name of the shipped vocabulary (beside `dist/index.*`, and beside this module in the sources). */
export const SHIPPED_VOCABULARY_FILE = 'bpe_simple_vocab_16e6.txt.gz';

declare const __filename: string | undefined;

/** The first bytes of the decompressed merges file (`"bpe_simple_vocab_16e6.txt#version: 0.2`). */
const MERGES_HEADER = Array.from(new TextEncoder().encode('"bpe_simple_vocab'));

/** Where the shipped vocabulary lies: beside the running module (ESM, CJS, or the TypeScript sources). */
export function shippedVocabularyUrl(): URL {
  // CommonJS builds have no import.meta; their module path is __filename.
  if (typeof __filename === 'string' && __filename.length > 0) {
    return new URL('./bpe_simple_vocab_16e6.txt.gz', `file://${__filename}`);
  }
  return new URL('./bpe_simple_vocab_16e6.txt.gz', import.meta.url);
}

/**
 * The bytes of the shipped vocabulary (gzip): `fs.readFile` for `file:` URLs (Node), `fetch`
 * otherwise (merges text that the HTTP layer already decompressed is put back in a gzip container).
 * @throws Error naming the location when the file cannot be read.
 */
export async function readShippedVocabulary(): Promise<Uint8Array> {
  const url = shippedVocabularyUrl();
  try {
    if (url.protocol === 'file:') {
      const fs = await nodeFs();
      return new Uint8Array(await fs.readFile(url));
    }
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    // A server that sends the .gz file with `Content-Encoding: gzip` (vite preview does) makes
    // fetch hand over the merges text already decompressed: store it back in a gzip container.
    const isGzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
    return !isGzip && MERGES_HEADER.every((b, i) => bytes[i] === b) ? gzipSync(bytes, { level: 0 }) : bytes;
  } catch (e) {
    throw new Error(
      `ClipTokenizer.load: cannot read the shipped vocabulary at ${url.href} (${(e as Error).message}); pass a path, URL or bytes instead`,
    );
  }
}
