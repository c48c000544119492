/**
 * SynthPedes: a seeded, procedural text-to-person dataset that needs no download. Each identity
 * is an attribute set (gender and figure, hair, upper and lower garment, shoes, bag, cap); each of
 * its images draws that person with a different pose, background, occlusion and lighting; each
 * image comes with CUHK-PEDES-style captions written from the attributes. Rendering is pure
 * JavaScript (no tfjs): pixels are HWC RGB bytes.
 */
import { attributeKey, type PersonAttributes, sampleAttributes } from './synthpedes/attributes';
import { writeCaption } from './synthpedes/captions';
import { renderPerson, type SynthRegions, type SynthVariation } from './synthpedes/render';
import { createSynthRng, hashSeed, type SynthRng } from './synthpedes/rng';

export type { BagType, LowerType, PersonAttributes, UpperType } from './synthpedes/attributes';
export { BAG_TYPES, LOWER_TYPES, UPPER_TYPES } from './synthpedes/attributes';
export { CAPTION_MENTION } from './synthpedes/captions';
export { type SynthPedesDataset, synthPedesAsDataset } from './synthpedes/dataset';
export type { GarmentColor, HairColor, Rgb } from './synthpedes/palette';
export { GARMENT_COLORS, GARMENT_RGB, HAIR_COLORS, HAIR_RGB } from './synthpedes/palette';
export type { PixelBox, SynthRegions, SynthVariation } from './synthpedes/render';
export { buildSynthVocabulary, SYNTH_VOCABULARY_DEFAULTS, type SynthVocabulary } from './synthpedes/vocabulary';

/** Options of {@link generateSynthPedes}; every field defaults to {@link SYNTHPEDES_DEFAULTS}. */
export interface SynthPedesOptions {
  /** Seed of every random choice; the same options give byte-identical data. */
  seed?: number;
  /** Number of identities (train + test), an integer ≥ 2. */
  numIdentities?: number;
  /** Images per identity, an integer ≥ 1. */
  imagesPerIdentity?: number;
  /** Captions per image, an integer ≥ 1; the captions of one image differ from each other. */
  captionsPerImage?: number;
  /** Image height in pixels, an integer ≥ 32. */
  height?: number;
  /** Image width in pixels, an integer ≥ 12. */
  width?: number;
  /** Fraction of identities held out for the test split, in [0, 1); at least one identity stays in train. */
  testFraction?: number;
}

/** Defaults of {@link SynthPedesOptions} (96×32 images, 200 identities × 4 images × 2 captions, 25% test). */
export const SYNTHPEDES_DEFAULTS: Readonly<Required<SynthPedesOptions>> = {
  seed: 0,
  numIdentities: 200,
  imagesPerIdentity: 4,
  captionsPerImage: 2,
  height: 96,
  width: 32,
  testFraction: 0.25,
};

/** One image of a SynthPedes person, with its captions. */
export interface SynthSample {
  /** Person id within its split: 0 … (identities in the split − 1), contiguous. */
  pid: number;
  /** Image id within its split: 0 … (images in the split − 1), contiguous, in pid order. */
  imageId: number;
  /** Identity index over the whole dataset (train identities first), unique across splits. */
  identity: number;
  /** HWC RGB bytes, length `height * width * 3`. */
  pixels: Uint8Array;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Captions of this image (`captionsPerImage`, all different). */
  captions: string[];
  /** The identity's attributes (shared, not copied, between the identity's samples). */
  attributes: PersonAttributes;
  /** How this image varies from the identity's others. */
  variation: SynthVariation;
  /** Where the person's parts lie in this image. */
  regions: SynthRegions;
}

/** The generated dataset. */
export interface SynthPedes {
  /** Training images, grouped by pid (pids 0 … trainIdentities.length − 1). */
  train: SynthSample[];
  /** Held-out images of identities absent from train, grouped by pid (pids from 0 again). */
  test: SynthSample[];
  /** Attributes of the training identities, indexed by train pid. */
  trainIdentities: PersonAttributes[];
  /** Attributes of the test identities, indexed by test pid. */
  testIdentities: PersonAttributes[];
  /** The options used, defaults filled in. */
  options: Readonly<Required<SynthPedesOptions>>;
}

/** Smallest image size the figure can be drawn at legibly. */
const MIN_HEIGHT = 32;
const MIN_WIDTH = 12;

function checkInt(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new Error(`generateSynthPedes: options.${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

function resolveOptions(options: SynthPedesOptions): Required<SynthPedesOptions> {
  if (options === null || typeof options !== 'object') {
    throw new Error(`generateSynthPedes: options must be an object, got ${String(options)}`);
  }
  const o = { ...SYNTHPEDES_DEFAULTS };
  for (const [k, v] of Object.entries(options)) {
    if (!(k in SYNTHPEDES_DEFAULTS)) {
      throw new Error(
        `generateSynthPedes: unknown option '${k}' (known: ${Object.keys(SYNTHPEDES_DEFAULTS).join(', ')})`,
      );
    }
    if (v !== undefined) (o as Record<string, unknown>)[k] = v;
  }
  if (typeof o.seed !== 'number' || !Number.isFinite(o.seed)) {
    throw new Error(`generateSynthPedes: options.seed must be a finite number, got ${String(o.seed)}`);
  }
  checkInt('numIdentities', o.numIdentities, 2);
  checkInt('imagesPerIdentity', o.imagesPerIdentity, 1);
  checkInt('captionsPerImage', o.captionsPerImage, 1);
  checkInt('height', o.height, MIN_HEIGHT);
  checkInt('width', o.width, MIN_WIDTH);
  if (typeof o.testFraction !== 'number' || !(o.testFraction >= 0 && o.testFraction < 1)) {
    throw new Error(
      `generateSynthPedes: options.testFraction must be a number in [0, 1), got ${String(o.testFraction)}`,
    );
  }
  return o;
}

/** Stream purposes, so that identities, images and captions draw from independent streams. */
const STREAM = { identity: 1, image: 2, caption: 3 } as const;

function sampleVariation(rng: SynthRng, height: number, width: number): SynthVariation {
  // the figure is about 0.34 figure-heights wide with arms and bag: keep it inside the image
  const maxScale = Math.min(0.95, (0.95 * width) / (0.34 * height));
  const scale = rng.range(0.84, 0.96) * maxScale;
  const room = Math.max(0, (width - 0.34 * scale * height) / 2);
  const normalLight = rng.chance(0.7);
  const occ = rng.next();
  return {
    shiftX: rng.range(-1, 1) * Math.min(room, 0.12 * width),
    scale,
    lean: rng.range(-0.03, 0.03),
    flip: rng.chance(0.5),
    view: rng.chance(0.35) ? 'back' : 'front',
    brightness: normalLight ? rng.range(0.9, 1.1) : rng.range(0.65, 1.3),
    contrast: normalLight ? rng.range(0.9, 1.1) : rng.range(0.75, 1.2),
    occlusion: occ < 0.08 ? 'pole' : occ < 0.15 ? 'ground' : 'none',
  };
}

/**
 * Generates SynthPedes: `numIdentities` distinct identities (no two share every attribute that
 * captions name), split by identity into train (the first `numIdentities − round(numIdentities ·
 * testFraction)`) and test (the rest), each with `imagesPerIdentity` images of `height × width`
 * pixels and `captionsPerImage` captions per image. Pids and image ids restart from 0 in each
 * split (as the reference relabels each split); `identity` is unique across both.
 *
 * Deterministic: each identity, image and caption draws from its own stream keyed by
 * (seed, index), so the same options give byte-identical pixels and captions, and identity `i`
 * has the same attributes whatever `imagesPerIdentity` or the image size. Throws on options that
 * are not integers in range, an unknown option, or a size too small to draw (< 32 × 12).
 * 200 identities × 4 images of 96×32 take about 0.1–0.3 s.
 *
 * @example
 * const ds = generateSynthPedes({ seed: 1, numIdentities: 40 });
 * ds.train[0].captions[0]; // e.g. 'A lady with long black hair is wearing a red jacket and blue jeans.'
 */
export function generateSynthPedes(options: SynthPedesOptions = {}): SynthPedes {
  const o = resolveOptions(options);
  const seed = Math.trunc(o.seed) | 0;
  const identities: PersonAttributes[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < o.numIdentities; i++) {
    let attempt = 0;
    let a = sampleAttributes(createSynthRng(hashSeed(seed, STREAM.identity, i, attempt)));
    while (seen.has(attributeKey(a)) && attempt < 1000) {
      attempt++;
      a = sampleAttributes(createSynthRng(hashSeed(seed, STREAM.identity, i, attempt)));
    }
    seen.add(attributeKey(a));
    identities.push(a);
  }
  const numTest = Math.min(o.numIdentities - 1, Math.round(o.numIdentities * o.testFraction));
  const numTrain = o.numIdentities - numTest;

  const makeSplit = (first: number, count: number): SynthSample[] => {
    const out: SynthSample[] = [];
    for (let pid = 0; pid < count; pid++) {
      const identity = first + pid;
      const attributes = identities[identity];
      for (let j = 0; j < o.imagesPerIdentity; j++) {
        const rng = createSynthRng(hashSeed(seed, STREAM.image, identity, j));
        const variation = sampleVariation(rng, o.height, o.width);
        const { pixels, regions } = renderPerson(attributes, variation, rng, o.height, o.width);
        const captions: string[] = [];
        for (let tries = 0; captions.length < o.captionsPerImage; tries++) {
          const text = writeCaption(attributes, createSynthRng(hashSeed(seed, STREAM.caption, identity, j, tries)));
          if (!captions.includes(text) || tries >= 50) captions.push(text);
        }
        out.push({
          pid,
          imageId: out.length,
          identity,
          pixels,
          height: o.height,
          width: o.width,
          captions,
          attributes,
          variation,
          regions,
        });
      }
    }
    return out;
  };

  return {
    train: makeSplit(0, numTrain),
    test: makeSplit(numTrain, numTest),
    trainIdentities: identities.slice(0, numTrain),
    testIdentities: identities.slice(numTrain),
    options: o,
  };
}

/** CLIP's per-channel pixel mean (RGB, in [0, 1] units). */
const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
/** CLIP's per-channel pixel standard deviation (RGB, in [0, 1] units). */
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/**
 * Converts HWC RGB bytes to the model's input values: `(byte / 255 − mean) / std` per channel with
 * CLIP's mean and std (the same numbers as the tensor-based `normalizeImage` of the data
 * transforms, computed here in plain JavaScript so SynthPedes needs no tfjs), as a new Float32Array of the same length (NHWC when `pixels` holds several
 * images back to back, each `height × width × 3`). Throws if `pixels` is empty or its length is
 * not a multiple of `height * width * 3`.
 *
 * @example
 * const x = toNormalizedNHWC(sample.pixels, sample.height, sample.width);
 * const images = tf.tensor4d(x, [1, sample.height, sample.width, 3]); // caller disposes
 */
export function toNormalizedNHWC(pixels: Uint8Array, height: number, width: number): Float32Array {
  const raw: unknown = pixels;
  if (!(raw instanceof Uint8Array) && !(raw instanceof Uint8ClampedArray)) {
    throw new Error(`toNormalizedNHWC: pixels must be a Uint8Array of HWC RGB bytes, got ${typeof pixels}`);
  }
  if (!Number.isInteger(height) || height < 1 || !Number.isInteger(width) || width < 1) {
    throw new Error(`toNormalizedNHWC: height and width must be positive integers, got ${height}×${width}`);
  }
  const per = height * width * 3;
  if (pixels.length === 0 || pixels.length % per !== 0) {
    throw new Error(
      `toNormalizedNHWC: pixels.length must be a positive multiple of height·width·3 = ${per}, got ${pixels.length}`,
    );
  }
  const out = new Float32Array(pixels.length);
  const scale = [1 / (255 * CLIP_STD[0]), 1 / (255 * CLIP_STD[1]), 1 / (255 * CLIP_STD[2])];
  const shift = [CLIP_MEAN[0] / CLIP_STD[0], CLIP_MEAN[1] / CLIP_STD[1], CLIP_MEAN[2] / CLIP_STD[2]];
  for (let i = 0; i < pixels.length; i++) {
    const c = i % 3;
    out[i] = pixels[i] * scale[c] - shift[c];
  }
  return out;
}
