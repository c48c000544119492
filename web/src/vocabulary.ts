import type { DemoExportVocabulary } from '../../src/cli/demo_export';
import { buildSynthVocabulary } from '../../src/index';

/** The exported word vocabulary as the page uses it. */
export interface PageVocabulary {
  contextLength: number;
  /**
   * Captions → int32 ids `[texts.length × contextLength]`, row-major (start, words, end, zero
   * padding; truncated if too long): a `CaptionEncoder` for `PersonSearch`.
   */
  encode(texts: string[], contextLength: number): Int32Array;
  /** The words of `text` that the vocabulary does not know (they become the unknown id). */
  unknownWords(text: string): string[];
}

/**
 * Rebuilds the training vocabulary from `vocab.json` (`buildSynthVocabulary(words)` gives the same
 * ids, as its ids follow the sorted word list) and checks it against the exported special ids.
 */
export function pageVocabulary(v: DemoExportVocabulary): PageVocabulary {
  const vocab = buildSynthVocabulary(v.words);
  const same =
    vocab.vocabSize === v.vocabSize &&
    vocab.padId === v.padId &&
    vocab.unkId === v.unkId &&
    vocab.maskId === v.maskId &&
    vocab.sotId === v.sotId &&
    vocab.eotId === v.eotId;
  if (!same) {
    throw new Error(
      `vocab.json: the rebuilt vocabulary (size ${vocab.vocabSize}, eot ${vocab.eotId}) differs from the exported one (size ${v.vocabSize}, eot ${v.eotId})`,
    );
  }
  return {
    contextLength: v.contextLength,
    encode: (texts, contextLength) => {
      if (contextLength !== v.contextLength) {
        throw new Error(
          `vocab.json: the model takes ${contextLength} tokens, the vocabulary was exported for ${v.contextLength}`,
        );
      }
      return vocab.toIds(texts, contextLength);
    },
    unknownWords: (text) => vocab.tokenize(text).filter((w) => vocab.encode(w)[0] === vocab.unkId),
  };
}
