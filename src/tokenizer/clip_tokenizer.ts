/**
 * CLIP's byte-level BPE tokenizer as IRRA uses it (`utils/simple_tokenizer.py`): the 48,894 merges
 * of `bpe_simple_vocab_16e6.txt.gz`, 49,408 ids with `<|mask|>` = 49405, `<|startoftext|>` =
 * 49406 and `<|endoftext|>` = 49407 (the last merge's token is dropped to make room for the mask).
 *
 * @module
 */

import * as tf from '@tensorflow/tfjs-core';
import { gunzipSync } from 'fflate';
import { concatBytes } from '../util/bytes';
import { nodeFs } from '../util/node';
import { MergeTable } from './bpe';
import { BYTE_ORDER, BYTE_TO_CHAR, CODE_TO_BYTE } from './bytes_to_unicode';
import { LruCache } from './lru_cache';
import { readShippedVocabulary } from './shipped_vocabulary';
import { cleanText, PY_REGEX_SPACE } from './text_cleaning';

/** Defaults of the tokenizer (used by code and docs alike). */
export const CLIP_TOKENIZER_DEFAULTS = {
  /** Rows of `tokenize` are this long: start id, ids, end id, zero padding. */
  contextLength: 77,
  /** Over-long captions are cut, keeping the end id last (false: throw instead). */
  truncate: true,
  /** Largest number of words whose BPE result is cached. */
  cacheSize: 65_536,
  /** Words longer than this (UTF-16 code units) are never cached. */
  maxCachedWordLength: 256,
  /** Where OpenAI publishes the merges file (the CLIP repository on GitHub, raw download). */
  url: 'https://raw.githubusercontent.com/openai/CLIP/main/clip/bpe_simple_vocab_16e6.txt.gz',
  /** Merges the reference reads from the file: 49152 - 256 - 2. */
  numMerges: 48_894,
} as const;

/** Options of the tokenizer factories. */
export interface ClipTokenizerOptions {
  /** Largest number of cached words (default {@link CLIP_TOKENIZER_DEFAULTS}.cacheSize; 0 = none). */
  cacheSize?: number;
}

/** Options of {@link ClipTokenizer.tokenize} and {@link ClipTokenizer.tokenizeToArray}. */
export interface TokenizeOptions {
  /** Length of each row (default 77); at least 2. */
  contextLength?: number;
  /** Cut over-long captions keeping the end id last (default true); false throws instead. */
  truncate?: boolean;
}

const SPECIAL_TOKENS = ['<|mask|>', '<|startoftext|>', '<|endoftext|>'] as const;

/** The reference's pre-tokenizer, with Python's `\s` spelled out (JS's `\s` differs). */
const WORD_RE = new RegExp(
  `<\\|startoftext\\|>|<\\|mask\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${PY_REGEX_SPACE}\\p{L}\\p{N}]+`,
  'giu',
);

// ASCII character classes for the fast pre-tokenizer: 1 letter, 2 digit, 3 whitespace, 0 other.
const ASCII_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) ASCII_CLASS[c] = 1;
  else if (c >= 0x30 && c <= 0x39) ASCII_CLASS[c] = 2;
  else if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) ASCII_CLASS[c] = 3;
}

/** Id of byte b's symbol: its index in vocabulary order. */
const BYTE_SYMBOL = new Int32Array(256);
for (let i = 0; i < 256; i++) BYTE_SYMBOL[BYTE_ORDER[i] as number] = i;

const utf8Encoder = new TextEncoder();

function isAsciiString(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The reference's words of `cleaned` by its regular expression alone (any text). */
export function splitWordsRegex(cleaned: string): string[] {
  return cleaned.match(WORD_RE) ?? [];
}

/**
 * Splits cleaned text into the reference's words (the matches of its regular expression).
 * ASCII text takes a hand-written scanner with the same rules; other text takes the regex.
 */
export function preTokenize(cleaned: string): string[] {
  if (!isAsciiString(cleaned)) return splitWordsRegex(cleaned);
  const out: string[] = [];
  const n = cleaned.length;
  let i = 0;
  while (i < n) {
    const c = cleaned.charCodeAt(i);
    const cls = ASCII_CLASS[c] as number;
    if (cls === 3) {
      i++;
      continue;
    }
    if (c === 0x3c /* < */) {
      const special = matchSpecial(cleaned, i);
      if (special) {
        out.push(special);
        i += special.length;
        continue;
      }
    } else if (c === 0x27 /* ' */ && i + 1 < n) {
      const len = contractionLength(cleaned, i);
      if (len > 0) {
        out.push(cleaned.slice(i, i + len));
        i += len;
        continue;
      }
    }
    let j = i + 1;
    if (cls === 1) {
      while (j < n && ASCII_CLASS[cleaned.charCodeAt(j)] === 1) j++;
    } else if (cls === 0) {
      while (j < n && ASCII_CLASS[cleaned.charCodeAt(j)] === 0) j++;
    }
    out.push(cleaned.slice(i, j));
    i = j;
  }
  return out;
}

function matchSpecial(s: string, i: number): string | undefined {
  for (const t of SPECIAL_TOKENS) if (s.startsWith(t, i)) return t;
  return undefined;
}

/** Length of the contraction (`'s 't 're 've 'm 'll 'd`, any case) at `i`, or 0. */
function contractionLength(s: string, i: number): number {
  const a = s.charCodeAt(i + 1) | 0x20;
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2; // s t m d
  if (i + 2 >= s.length) return 0;
  const b = s.charCodeAt(i + 2) | 0x20;
  if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) return 3; // re ve ll
  return 0;
}

function parseMerges(text: string, where: string, expected: number): Array<[string, string]> {
  const lines = text.split('\n');
  if (lines.length < expected + 1) {
    throw new Error(
      `${where}: expected a merges file with a header line and at least ${expected} merge lines, got ${Math.max(0, lines.length - 1)} lines after the header`,
    );
  }
  const merges: Array<[string, string]> = new Array(expected);
  for (let r = 0; r < expected; r++) {
    const parts = (lines[r + 1] as string).split(/\s+/).filter((p) => p.length > 0);
    if (parts.length !== 2) {
      throw new Error(
        `${where}: expected merge line ${r + 2} to hold two symbols separated by a space, got ${JSON.stringify(lines[r + 1])}`,
      );
    }
    merges[r] = [parts[0] as string, parts[1] as string];
  }
  return merges;
}

function toBytes(data: Uint8Array | ArrayBuffer, where: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new Error(`${where}: expected a Uint8Array or ArrayBuffer, got ${Object.prototype.toString.call(data)}`);
}

/**
 * The CLIP BPE tokenizer with IRRA's `<|mask|>` token.
 *
 * Load it once (from the gzip bytes, a file, a URL or a Hugging Face `tokenizer.json`) and reuse
 * it; the instance caches the BPE of recently seen words (bounded, least recently used first out).
 *
 * @example
 * const tok = await ClipTokenizer.fromFile('bpe_simple_vocab_16e6.txt.gz');
 * tok.encode('A man in a red shirt.'); // [320, 786, 530, 320, 736, 2523, 269]
 * const ids = tok.tokenize(['a man', 'a woman']); // int32 [2, 77]; the caller disposes it
 */
export class ClipTokenizer {
  /** Id of `<|startoftext|>` (49406). */
  readonly sotId: number;
  /** Id of `<|endoftext|>` (49407), the largest id. */
  readonly eotId: number;
  /** Id of `<|mask|>` (49405). */
  readonly maskId: number;
  /** Number of ids (49408). */
  readonly vocabSize: number;

  private readonly tokens: string[];
  private readonly encoder: Map<string, number>;
  private readonly merges: MergeTable;
  private readonly cache: LruCache<string, Int32Array>;
  private readonly specials: Map<string, Int32Array>;
  private readonly tokenBytes: Array<Uint8Array | undefined>;

  private constructor(merges: ReadonlyArray<readonly [string, string]>, options: ClipTokenizerOptions = {}) {
    const cacheSize = options.cacheSize ?? CLIP_TOKENIZER_DEFAULTS.cacheSize;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new Error(`ClipTokenizer: expected options.cacheSize to be an integer >= 0, got ${cacheSize}`);
    }
    const tokens: string[] = [];
    for (let i = 0; i < 256; i++) tokens.push(BYTE_TO_CHAR[BYTE_ORDER[i] as number] as string);
    for (let i = 0; i < 256; i++) tokens.push(`${tokens[i]}</w>`);
    for (const [a, b] of merges) tokens.push(a + b);
    tokens.pop();
    tokens.push(...SPECIAL_TOKENS);
    const encoder = new Map<string, number>();
    for (let i = 0; i < tokens.length; i++) encoder.set(tokens[i] as string, i);
    // Merge table on ids. A merge whose result has no id (the dropped last merge) is left out:
    // the reference would raise KeyError on such a word; here it stays split.
    const pairs: Array<[number, number, number]> = [];
    merges.forEach(([a, b], r) => {
      const ia = encoder.get(a);
      const ib = encoder.get(b);
      const im = encoder.get(a + b);
      if (ia === undefined || ib === undefined) {
        throw new Error(
          `ClipTokenizer: merge ${r} ('${a}' '${b}') uses a symbol that no earlier merge or byte produced`,
        );
      }
      if (im !== undefined) pairs.push([ia, ib, im]);
    });
    this.tokens = tokens;
    this.encoder = encoder;
    this.vocabSize = tokens.length;
    this.maskId = encoder.get('<|mask|>') as number;
    this.sotId = encoder.get('<|startoftext|>') as number;
    this.eotId = encoder.get('<|endoftext|>') as number;
    this.specials = new Map(SPECIAL_TOKENS.map((t) => [t, Int32Array.of(encoder.get(t) as number)]));
    this.merges = new MergeTable(pairs, this.vocabSize, 512);
    this.cache = new LruCache(cacheSize);
    this.tokenBytes = new Array(this.vocabSize);
  }

  /**
   * Builds the tokenizer from the gzip-compressed merges file (`bpe_simple_vocab_16e6.txt.gz`).
   * Throws when the bytes are not gzip, not UTF-8, or hold fewer than 48,894 merges.
   */
  static fromGzip(bytes: Uint8Array | ArrayBuffer, options?: ClipTokenizerOptions): ClipTokenizer {
    const where = 'ClipTokenizer.fromGzip';
    const data = toBytes(bytes, where);
    if (data.length < 18 || data[0] !== 0x1f || data[1] !== 0x8b) {
      const head = Array.from(data.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new Error(
        `${where}: expected gzip data (starting 1f 8b) such as bpe_simple_vocab_16e6.txt.gz, got ${data.length} bytes starting '${head}'`,
      );
    }
    let raw: Uint8Array;
    try {
      raw = gunzipSync(data);
    } catch (e) {
      throw new Error(`${where}: the gzip data is corrupt or truncated (${(e as Error).message})`);
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw new Error(`${where}: expected the decompressed merges to be UTF-8 text, got invalid UTF-8`);
    }
    return new ClipTokenizer(parseMerges(text, where, CLIP_TOKENIZER_DEFAULTS.numMerges), options);
  }

  /**
   * The tokenizer on CLIP's vocabulary, offline: with no argument, the copy of
   * `bpe_simple_vocab_16e6.txt.gz` that ships inside this package (read beside the module in Node;
   * emitted as an asset by bundlers such as Vite and fetched in browsers). A string is a path
   * (Node) or an `http(s):`/`file:` URL; bytes are the gzip file itself.
   *
   * @example
   * const tok = await ClipTokenizer.load();
   * tok.encode('a woman in a red coat'); // [320, 2308, 530, 320, 736, 7356]
   * @throws Error naming the source when it cannot be read or is not the merges file.
   */
  static async load(
    source?: string | URL | Uint8Array | ArrayBuffer,
    options?: ClipTokenizerOptions,
  ): Promise<ClipTokenizer> {
    if (source === undefined) return ClipTokenizer.fromGzip(await readShippedVocabulary(), options);
    if (source instanceof Uint8Array || source instanceof ArrayBuffer) return ClipTokenizer.fromGzip(source, options);
    const text = source instanceof URL ? source.href : source;
    if (typeof text !== 'string' || text.length === 0) {
      throw new Error(
        `ClipTokenizer.load: expected nothing, a path, a URL or gzip bytes, got ${Object.prototype.toString.call(source)}`,
      );
    }
    if (/^https?:/i.test(text)) return ClipTokenizer.fromUrl(text, options);
    if (/^file:/i.test(text)) return ClipTokenizer.fromFile(decodeURIComponent(new URL(text).pathname), options);
    return ClipTokenizer.fromFile(text, options);
  }

  /** Reads the gzip merges file from disk (Node only) and builds the tokenizer. */
  static async fromFile(path: string, options?: ClipTokenizerOptions): Promise<ClipTokenizer> {
    if (typeof path !== 'string' || path.length === 0) {
      throw new Error(`ClipTokenizer.fromFile: expected path to be a non-empty string, got ${String(path)}`);
    }
    const fs = await nodeFs();
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(path);
    } catch (e) {
      throw new Error(`ClipTokenizer.fromFile: could not read '${path}' (${(e as Error).message})`);
    }
    return ClipTokenizer.fromGzip(bytes, options);
  }

  /**
   * Downloads the gzip merges file with `fetch` and builds the tokenizer. The default URL is the
   * file's home in OpenAI's CLIP repository ({@link CLIP_TOKENIZER_DEFAULTS}.url).
   */
  static async fromUrl(
    url: string = CLIP_TOKENIZER_DEFAULTS.url,
    options?: ClipTokenizerOptions,
  ): Promise<ClipTokenizer> {
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new Error(`ClipTokenizer.fromUrl: could not fetch '${url}' (${(e as Error).message})`);
    }
    if (!res.ok) {
      throw new Error(`ClipTokenizer.fromUrl: expected HTTP 200 from '${url}', got ${res.status} ${res.statusText}`);
    }
    return ClipTokenizer.fromGzip(new Uint8Array(await res.arrayBuffer()), options);
  }

  /**
   * Builds the tokenizer from a Hugging Face `tokenizer.json` (as shipped with the `openai/clip-*`
   * models): its first 48,894 merges, checked against its vocabulary. IRRA's ids follow (the
   * Hugging Face id 49405 `jekyll</w>` becomes `<|mask|>`).
   */
  static fromHuggingFace(tokenizerJson: string | object, options?: ClipTokenizerOptions): ClipTokenizer {
    const where = 'ClipTokenizer.fromHuggingFace';
    let json: unknown = tokenizerJson;
    if (typeof tokenizerJson === 'string') {
      try {
        json = JSON.parse(tokenizerJson);
      } catch (e) {
        throw new Error(`${where}: expected tokenizer.json text, got unparsable JSON (${(e as Error).message})`);
      }
    }
    const model = (json as { model?: { vocab?: unknown; merges?: unknown } } | null)?.model;
    if (!model || typeof model.vocab !== 'object' || model.vocab === null || !Array.isArray(model.merges)) {
      throw new Error(`${where}: expected an object with model.vocab (object) and model.merges (array)`);
    }
    const n = CLIP_TOKENIZER_DEFAULTS.numMerges;
    if (model.merges.length < n) {
      throw new Error(`${where}: expected at least ${n} merges in model.merges, got ${model.merges.length}`);
    }
    const merges: Array<[string, string]> = [];
    for (let r = 0; r < n; r++) {
      const m: unknown = model.merges[r];
      const parts = typeof m === 'string' ? m.split(' ') : Array.isArray(m) ? m : [];
      if (parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string') {
        throw new Error(`${where}: expected merge ${r} to be "a b" or ["a", "b"], got ${JSON.stringify(m)}`);
      }
      merges.push([parts[0], parts[1]]);
    }
    const tok = new ClipTokenizer(merges, options);
    const vocab = model.vocab as Record<string, unknown>;
    for (let id = 0; id < tok.maskId; id++) {
      const t = tok.tokens[id] as string;
      if (vocab[t] !== id) {
        throw new Error(`${where}: expected model.vocab['${t}'] = ${id} (CLIP's order), got ${String(vocab[t])}`);
      }
    }
    return tok;
  }

  /** Number of words whose BPE is cached now. */
  get cacheSize(): number {
    return this.cache.size;
  }

  /** Empties the BPE cache. */
  clearCache(): void {
    this.cache.clear();
  }

  /**
   * Empties the BPE cache ({@link ClipTokenizer.clearCache}). A tokenizer holds no tensors and no
   * other resource, so this only lets the cache's memory go; the tokenizer stays usable (its cache
   * refills as it tokenizes).
   */
  dispose(): void {
    this.clearCache();
  }

  /** `using tok = ClipTokenizer.fromGzip(...)` calls {@link ClipTokenizer.dispose} at the end of the scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The vocabulary string of `id` (byte stand-in characters, `</w>` marking a word end). */
  idToToken(id: number): string {
    this.checkId(id, 'idToToken');
    return this.tokens[id] as string;
  }

  /** The id of a vocabulary string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.encoder.get(token);
  }

  /** BPE ids of one word of cleaned text (cached). */
  private wordIds(word: string): Int32Array {
    const special = this.specials.get(word);
    if (special !== undefined) return special;
    const hit = this.cache.get(word);
    if (hit) return hit;
    let syms: Int32Array;
    if (isAsciiString(word)) {
      syms = new Int32Array(word.length);
      for (let i = 0; i < word.length; i++) syms[i] = BYTE_SYMBOL[word.charCodeAt(i)] as number;
    } else {
      const bytes = utf8Encoder.encode(word);
      syms = new Int32Array(bytes.length);
      for (let i = 0; i < bytes.length; i++) syms[i] = BYTE_SYMBOL[bytes[i] as number] as number;
    }
    syms[syms.length - 1] = (syms[syms.length - 1] as number) + 256;
    const ids = Int32Array.from(this.merges.apply(syms));
    if (word.length <= CLIP_TOKENIZER_DEFAULTS.maxCachedWordLength) this.cache.set(word, ids);
    return ids;
  }

  /**
   * Token ids of `text` without start/end ids: clean (ftfy-like fixes, HTML unescape, whitespace,
   * lower case), split into words, BPE each word. Special-token strings in the text map to their ids.
   */
  encode(text: string): number[] {
    if (typeof text !== 'string') {
      throw new Error(`ClipTokenizer.encode: expected text to be a string, got ${typeof text}`);
    }
    const out: number[] = [];
    for (const word of preTokenize(cleanText(text))) {
      const ids = this.wordIds(word);
      for (let i = 0; i < ids.length; i++) out.push(ids[i] as number);
    }
    return out;
  }

  /**
   * Writes `text`'s ids into `out` from `offset`, at most `max` of them; returns how many ids the
   * text has in total (which may exceed `max`).
   */
  private encodeInto(text: string, out: Int32Array, offset: number, max: number): number {
    let n = 0;
    for (const word of preTokenize(cleanText(text))) {
      const ids = this.wordIds(word);
      for (let i = 0; i < ids.length; i++, n++) if (n < max) out[offset + n] = ids[i] as number;
    }
    return n;
  }

  private checkId(id: number, where: string): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new Error(`ClipTokenizer.${where}: expected ids to be integers in [0, ${this.vocabSize}), got ${id}`);
    }
  }

  /**
   * Text of `ids`, as the reference decodes: concatenated tokens, bytes read as UTF-8 (invalid
   * sequences → U+FFFD), `</w>` → space. Throws on ids outside the vocabulary.
   */
  decode(ids: ArrayLike<number>): string {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') {
      throw new Error(`ClipTokenizer.decode: expected ids to be an array of integers, got ${String(ids)}`);
    }
    const parts: Uint8Array[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      this.checkId(id, 'decode');
      let b = this.tokenBytes[id];
      if (!b) {
        const t = this.tokens[id] as string;
        b = new Uint8Array(t.length);
        for (let k = 0; k < t.length; k++) b[k] = CODE_TO_BYTE[t.charCodeAt(k)] as number;
        this.tokenBytes[id] = b;
      }
      parts[i] = b;
    }
    return new TextDecoder('utf-8').decode(concatBytes(parts)).replaceAll('</w>', ' ');
  }

  /**
   * Pure-JS `tokenize`: one row of `contextLength` int32 per text (start id, ids, end id, zeros),
   * rows back to back. Over-long texts are cut keeping the end id last, as `datasets/bases.py`
   * does, or throw when `truncate` is false.
   *
   * @returns Int32Array of length `texts.length * contextLength`
   */
  tokenizeToArray(texts: string | readonly string[], options: TokenizeOptions = {}): Int32Array {
    const list = typeof texts === 'string' ? [texts] : texts;
    if (!Array.isArray(list)) {
      throw new Error(
        `ClipTokenizer.tokenize: expected texts to be a string or an array of strings, got ${typeof texts}`,
      );
    }
    const ctx = options.contextLength ?? CLIP_TOKENIZER_DEFAULTS.contextLength;
    const truncate = options.truncate ?? CLIP_TOKENIZER_DEFAULTS.truncate;
    if (!Number.isInteger(ctx) || ctx < 2) {
      throw new Error(`ClipTokenizer.tokenize: expected contextLength to be an integer >= 2, got ${ctx}`);
    }
    const out = new Int32Array(list.length * ctx);
    for (let r = 0; r < list.length; r++) {
      const text = list[r];
      if (typeof text !== 'string') {
        throw new Error(`ClipTokenizer.tokenize: expected texts[${r}] to be a string, got ${typeof text}`);
      }
      const base = r * ctx;
      const count = this.encodeInto(text, out, base + 1, ctx - 2);
      if (count + 2 > ctx && !truncate) {
        throw new Error(
          `ClipTokenizer.tokenize: texts[${r}] needs ${count + 2} tokens, more than contextLength ${ctx} (truncate is false)`,
        );
      }
      out[base] = this.sotId;
      out[base + 1 + Math.min(count, ctx - 2)] = this.eotId;
    }
    return out;
  }

  /**
   * `tokenizeToArray` as a tensor: int32 `[n, contextLength]`, n = number of texts (1 for a
   * string). The caller owns (and disposes) the returned tensor.
   */
  tokenize(texts: string | readonly string[], options: TokenizeOptions = {}): tf.Tensor2D {
    const ctx = options.contextLength ?? CLIP_TOKENIZER_DEFAULTS.contextLength;
    const data = this.tokenizeToArray(texts, options);
    return tf.tensor2d(data, [data.length / ctx, ctx], 'int32');
  }
}

/**
 * Free-function form of {@link ClipTokenizer.tokenize}: int32 `[n, contextLength]` tensor of
 * `texts` (owned by the caller).
 */
export function tokenize(
  tokenizer: ClipTokenizer,
  texts: string | readonly string[],
  options: TokenizeOptions = {},
): tf.Tensor2D {
  if (!(tokenizer instanceof ClipTokenizer)) {
    throw new Error('tokenize: expected a ClipTokenizer as the first argument');
  }
  return tokenizer.tokenize(texts, options);
}
