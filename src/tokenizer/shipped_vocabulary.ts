/**
 * The CLIP BPE merges file that ships inside the package (`bpe_simple_vocab_16e6.txt.gz`, OpenAI
 * CLIP's, MIT-licensed: see NOTICE), found relative to this module: read from disk in Node, fetched
 * in browsers. Written as `new URL('./…', import.meta.url)` so that bundlers such as Vite emit the
 * file as an asset beside the bundle.
 *
 * @module
 */
import { nodeFs } from '../util/node';

/** File name of the shipped vocabulary (beside `dist/index.*`, and beside this module in the sources). */
export const SHIPPED_VOCABULARY_FILE = 'bpe_simple_vocab_16e6.txt.gz';

declare const __filename: string | undefined;

/** Where the shipped vocabulary lies: beside the running module (ESM, CJS, or the TypeScript sources). */
export function shippedVocabularyUrl(): URL {
  // CommonJS builds have no import.meta; their module path is __filename.
  if (typeof __filename === 'string' && __filename.length > 0) {
    return new URL('./bpe_simple_vocab_16e6.txt.gz', `file://${__filename}`);
  }
  return new URL('./bpe_simple_vocab_16e6.txt.gz', import.meta.url);
}

/**
 * The bytes of the shipped vocabulary: `fs.readFile` for `file:` URLs (Node), `fetch` otherwise.
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
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new Error(
      `ClipTokenizer.load: cannot read the shipped vocabulary at ${url.href} (${(e as Error).message}); pass a path, URL or bytes instead`,
    );
  }
}
