/**
 * The text side's entry: CLIP BPE tokenizer with `<|mask|>`, its text cleaning, and IRR masking.
 *
 * @module
 */
export {
  CLIP_TOKENIZER_DEFAULTS,
  ClipTokenizer,
  type ClipTokenizerOptions,
  type TokenizeOptions,
  tokenize,
} from './clip_tokenizer';
export { buildMlmInputs, createRng, MLM_MASKING_DEFAULTS, type MlmInputs, type MlmMaskingOptions } from './mlm_masking';
export {
  basicClean,
  cleanText,
  fixText,
  htmlUnescape,
  TEXT_CLEANING_DEFAULTS,
  whitespaceClean,
} from './text_cleaning';
