/**
 * A word-level tokenizer built from SynthPedes captions, for when the CLIP BPE vocabulary is not
 * available. Its ids follow CLIP's special-token layout, so the model code treats both alike.
 */

/**
 * A word-level tokenizer with CLIP's special-token layout: id 0 is padding, id 1 stands for
 * unknown words, ids 2 … vocabSize − 4 are the known words (sorted), then
 * `maskId = vocabSize − 3`, `sotId = vocabSize − 2`, `eotId = vocabSize − 1`. The end-of-text id
 * is the largest id, as the text encoder pools the feature at `argmax(ids)`.
 */
export interface SynthVocabulary {
  /** Number of ids, special tokens included. */
  readonly vocabSize: number;
  /** Padding id (0). */
  readonly padId: number;
  /** Id of words not in the vocabulary (1). */
  readonly unkId: number;
  /** The `<|mask|>` id used by IRR's masked language modelling (vocabSize − 3). */
  readonly maskId: number;
  /** Start-of-text id (vocabSize − 2). */
  readonly sotId: number;
  /** End-of-text id (vocabSize − 1), the largest id. */
  readonly eotId: number;
  /** The token string of every id (`'<|pad|>'`, `'<|unk|>'`, words…, `'<|mask|>'`, `'<|startoftext|>'`, `'<|endoftext|>'`). */
  readonly tokens: readonly string[];
  /** Splits text into lower-case word and punctuation tokens (letters/digits/hyphenated words, single symbols). */
  tokenize(text: string): string[];
  /** Ids of the text's tokens, without start/end tokens (unknown words map to `unkId`). */
  encode(text: string): number[];
  /** Text from ids: special tokens dropped, tokens joined by spaces. */
  decode(ids: ArrayLike<number>): string;
  /**
   * Token ids of several texts as one flattened int32 `[texts.length, contextLength]` array, each
   * row `sotId, tokens…, eotId` then zero padding. A row that would exceed `contextLength` is
   * truncated and its last id set to `eotId` (as the reference's `tokenize(..., truncate=True)`).
   * Throws if `contextLength < 2`.
   */
  toIds(texts: readonly string[], contextLength: number): Int32Array;
  /**
   * `ClipTokenizer.tokenizeToArray`'s signature (so the data pipeline's `CaptionEncoder` accepts
   * this vocabulary): like {@link SynthVocabulary.toIds} with `contextLength` default 77; with
   * `truncate: false` an over-long text throws instead of being cut.
   */
  tokenizeToArray(
    texts: string | readonly string[],
    options?: { contextLength?: number; truncate?: boolean },
  ): Int32Array;
}

/** Defaults of the vocabulary's tokenizer methods. */
export const SYNTH_VOCABULARY_DEFAULTS = { contextLength: 77, truncate: true } as const;

const WORD = /[a-z0-9]+(?:-[a-z0-9]+)*|[^\sa-z0-9]/g;

function splitWords(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

/**
 * Builds a {@link SynthVocabulary} from captions: every distinct token of the captions (lower-cased;
 * words, hyphenated words and single punctuation characters) gets an id, in sorted order, so the
 * same captions always give the same ids.
 *
 * @example
 * const vocab = buildSynthVocabulary(['A man in a red jacket.']);
 * const ids = vocab.toIds(['a man in a blue jacket.'], 16); // Int32Array(16), 'blue' → unkId
 */
export function buildSynthVocabulary(captions: readonly string[]): SynthVocabulary {
  if (!Array.isArray(captions)) {
    throw new Error(`buildSynthVocabulary: captions must be an array of strings, got ${typeof captions}`);
  }
  const words = new Set<string>();
  captions.forEach((c, i) => {
    if (typeof c !== 'string')
      throw new Error(`buildSynthVocabulary: captions[${i}] must be a string, got ${typeof c}`);
    for (const w of splitWords(c)) words.add(w);
  });
  const sorted = [...words].sort();
  const tokens = ['<|pad|>', '<|unk|>', ...sorted, '<|mask|>', '<|startoftext|>', '<|endoftext|>'];
  const vocabSize = tokens.length;
  const index = new Map<string, number>();
  for (const [i, w] of sorted.entries()) index.set(w, i + 2);
  const maskId = vocabSize - 3;
  const sotId = vocabSize - 2;
  const eotId = vocabSize - 1;
  const encode = (text: string): number[] => splitWords(text).map((w) => index.get(w) ?? 1);
  const toIds = (texts: readonly string[], contextLength: number, truncate: boolean): Int32Array => {
    if (!Array.isArray(texts)) {
      throw new Error(`SynthVocabulary: texts must be an array of strings, got ${typeof texts}`);
    }
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new Error(`SynthVocabulary: contextLength must be an integer ≥ 2, got ${contextLength}`);
    }
    const out = new Int32Array(texts.length * contextLength);
    texts.forEach((t, r) => {
      const row = [sotId, ...encode(t), eotId];
      if (row.length > contextLength) {
        if (!truncate) {
          throw new Error(
            `SynthVocabulary: texts[${r}] has ${row.length} tokens with start/end, more than contextLength ${contextLength} (truncate is false)`,
          );
        }
        row.length = contextLength;
        row[contextLength - 1] = eotId;
      }
      out.set(row, r * contextLength);
    });
    return out;
  };
  return {
    vocabSize,
    padId: 0,
    unkId: 1,
    maskId,
    sotId,
    eotId,
    tokens,
    tokenize: splitWords,
    encode,
    decode: (ids) => {
      const out: string[] = [];
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (id === 0 || id === sotId || id === eotId) continue;
        out.push(tokens[id] ?? '<|unk|>');
      }
      return out.join(' ');
    },
    toIds: (texts, contextLength) => toIds(texts, contextLength, true),
    tokenizeToArray: (texts, options = {}) =>
      toIds(
        typeof texts === 'string' ? [texts] : texts,
        options.contextLength ?? SYNTH_VOCABULARY_DEFAULTS.contextLength,
        options.truncate ?? SYNTH_VOCABULARY_DEFAULTS.truncate,
      ),
  };
}
