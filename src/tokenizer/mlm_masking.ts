/**
 * IRRA's implicit-relation-reasoning inputs: BERT-style random masking of a tokenized caption, as
 * `ImageTextMLMDataset._build_random_masked_tokens_and_labels` (datasets/bases.py) does it.
 *
 * @module
 */
import { type Rng, seededRng } from '../util/random';

/** Defaults of {@link buildMlmInputs} (the reference's constants). */
export const MLM_MASKING_DEFAULTS = {
  /** Chance that a candidate token is chosen for prediction. */
  maskRate: 0.15,
  /** Of the chosen tokens, the share replaced by the mask id. */
  maskTokenRate: 0.8,
  /** Of the chosen tokens, the share replaced by a random id in 1..maskId-1. */
  randomTokenRate: 0.1,
  /** The mask id (CLIP vocabulary: 49405); candidates are the ids 0 < id < maskId. */
  maskId: 49405,
  /** Number of ids; every input id must lie below it. */
  vocabSize: 49408,
} as const;

/** Options of {@link buildMlmInputs}. */
export interface MlmMaskingOptions {
  /** Uniform random numbers in [0, 1), e.g. `createRng(seed)` or `Math.random`. */
  rng: Rng;
  /** Default {@link MLM_MASKING_DEFAULTS}.maskRate (0.15). */
  maskRate?: number;
  /** Default {@link MLM_MASKING_DEFAULTS}.maskTokenRate (0.8). */
  maskTokenRate?: number;
  /** Default {@link MLM_MASKING_DEFAULTS}.randomTokenRate (0.1). */
  randomTokenRate?: number;
  /** Default {@link MLM_MASKING_DEFAULTS}.maskId (49405); the tiny test vocabulary uses 509. */
  maskId?: number;
  /** Default {@link MLM_MASKING_DEFAULTS}.vocabSize (49408); the tiny test vocabulary uses 512. */
  vocabSize?: number;
}

/** Masked caption and labels, each as long as the input. */
export interface MlmInputs {
  /** The caption with the chosen tokens replaced (mask id, random id, or kept). */
  mlmIds: Int32Array;
  /** The original id at each chosen position, 0 elsewhere (0 is ignored by the MLM loss). */
  mlmLabels: Int32Array;
}

function checkRate(name: string, v: number): void {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
    throw new Error(`buildMlmInputs: expected options.${name} in [0, 1], got ${v}`);
  }
}

/**
 * Masks one tokenized caption for IRR, with the reference's rules and order of random draws: for
 * each position whose id is a candidate (0 < id < maskId), draw p = rng(); if p < maskRate the
 * token is chosen and p /= maskRate: p < maskTokenRate → mask id; else p < maskTokenRate +
 * randomTokenRate → a random id in 1..maskId-1 (one more draw); else kept. Chosen positions get
 * their original id as label. If nothing was chosen, position 1 is masked and labelled.
 *
 * @param ids one caption of token ids (e.g. a row of `tokenize`), length >= 2
 * @returns new `mlmIds` and `mlmLabels` (Int32Array, same length); the input is not modified
 *
 * @example
 * const rng = createRng(42);
 * const row = tokenizer.tokenizeToArray('a man in a red shirt');
 * const { mlmIds, mlmLabels } = buildMlmInputs(row, { rng });
 */
export function buildMlmInputs(ids: Int32Array | readonly number[], options: MlmMaskingOptions): MlmInputs {
  if (!options || typeof options.rng !== 'function') {
    throw new Error('buildMlmInputs: expected options.rng to be a function returning numbers in [0, 1)');
  }
  const maskRate = options.maskRate ?? MLM_MASKING_DEFAULTS.maskRate;
  const maskTokenRate = options.maskTokenRate ?? MLM_MASKING_DEFAULTS.maskTokenRate;
  const randomTokenRate = options.randomTokenRate ?? MLM_MASKING_DEFAULTS.randomTokenRate;
  const maskId = options.maskId ?? MLM_MASKING_DEFAULTS.maskId;
  const vocabSize = options.vocabSize ?? MLM_MASKING_DEFAULTS.vocabSize;
  checkRate('maskRate', maskRate);
  checkRate('maskTokenRate', maskTokenRate);
  checkRate('randomTokenRate', randomTokenRate);
  if (maskRate === 0) throw new Error('buildMlmInputs: expected options.maskRate > 0, got 0');
  if (maskTokenRate + randomTokenRate > 1) {
    throw new Error(
      `buildMlmInputs: expected maskTokenRate + randomTokenRate <= 1, got ${maskTokenRate} + ${randomTokenRate}`,
    );
  }
  if (!Number.isInteger(vocabSize) || vocabSize < 3) {
    throw new Error(`buildMlmInputs: expected options.vocabSize to be an integer >= 3, got ${vocabSize}`);
  }
  if (!Number.isInteger(maskId) || maskId < 2 || maskId >= vocabSize) {
    throw new Error(`buildMlmInputs: expected options.maskId to be an integer in [2, ${vocabSize}), got ${maskId}`);
  }
  if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number' || ids.length < 2) {
    throw new Error(`buildMlmInputs: expected ids to be an array of at least 2 token ids, got length ${ids?.length}`);
  }
  const n = ids.length;
  const tokens = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = ids[i] as number;
    if (!Number.isInteger(v) || v < 0 || v >= vocabSize) {
      throw new Error(`buildMlmInputs: expected ids in [0, ${vocabSize}), got ${v} at index ${i}`);
    }
    tokens[i] = v;
  }
  const labels = new Int32Array(n);
  const draw = (): number => {
    const p = options.rng();
    if (!(p >= 0 && p < 1)) throw new Error(`buildMlmInputs: expected options.rng() in [0, 1), got ${p}`);
    return p;
  };
  let chosen = false;
  for (let i = 0; i < n; i++) {
    const token = tokens[i] as number;
    if (token > 0 && token < maskId) {
      let p = draw();
      if (p < maskRate) {
        p /= maskRate;
        if (p < maskTokenRate) tokens[i] = maskId;
        else if (p < maskTokenRate + randomTokenRate) tokens[i] = 1 + Math.floor(draw() * (maskId - 1));
        labels[i] = token;
        chosen = true;
      }
    }
  }
  if (!chosen) {
    labels[1] = tokens[1] as number;
    tokens[1] = maskId;
  }
  return { mlmIds: tokens, mlmLabels: labels };
}

/**
 * A seeded generator of uniform numbers in [0, 1) for reproducible masking: the library's one
 * generator (mulberry32: 32-bit state, 2³² period), the same stream as the data pipeline's for
 * the same seed.
 *
 * @param seed a finite number; only its low 32 bits (after truncation) are used.
 * @throws if `seed` is not a finite number.
 * @example
 * const rng = createRng(7); rng(); // the same sequence for the same seed
 */
export const createRng: (seed: number) => Rng = seededRng;
