import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCaptions } from '../src/data/batch';
import {
  buildSynthVocabulary,
  GARMENT_COLORS,
  GARMENT_RGB,
  generateSynthPedes,
  type PersonAttributes,
  type SynthPedes,
  type SynthSample,
  synthPedesAsDataset,
  toNormalizedNHWC,
} from '../src/data/synthpedes';
import { normalizeImage } from '../src/data/transforms';
import { expectClose } from './helpers/compare';

// Colour words a caption may use, mapped to the attribute value they stand for.
const COLOR_WORDS: Record<string, string> = {
  ...Object.fromEntries(GARMENT_COLORS.map((c) => [c, c])),
  gray: 'grey',
  blond: 'blond',
  blonde: 'blond',
};
// Words that may stand between a colour word and its noun.
const MODIFIERS = new Set([
  'short-sleeved',
  'long-sleeved',
  'button-up',
  'open',
  'zip-up',
  'long',
  'knee-length',
  'sleeveless',
  'denim',
  'short',
  'baseball',
  'shoulder',
]);
// Which item a noun names, and which attribute types it may describe.
const NOUNS: Record<string, { slot: 'hair' | 'upper' | 'lower' | 'shoes' | 'bag' | 'hat'; types?: string[] }> = {
  hair: { slot: 'hair' },
  shoes: { slot: 'shoes' },
  sneakers: { slot: 'shoes' },
  trainers: { slot: 'shoes' },
  backpack: { slot: 'bag', types: ['backpack'] },
  rucksack: { slot: 'bag', types: ['backpack'] },
  handbag: { slot: 'bag', types: ['handbag'] },
  bag: { slot: 'bag', types: ['handbag'] },
  cap: { slot: 'hat' },
  hat: { slot: 'hat' },
  't-shirt': { slot: 'upper', types: ['t-shirt'] },
  tee: { slot: 'upper', types: ['t-shirt'] },
  top: { slot: 'upper', types: ['t-shirt', 'shirt', 'sweater'] },
  shirt: { slot: 'upper', types: ['t-shirt', 'shirt'] },
  jacket: { slot: 'upper', types: ['jacket'] },
  coat: { slot: 'upper', types: ['coat'] },
  overcoat: { slot: 'upper', types: ['coat'] },
  dress: { slot: 'upper', types: ['dress'] },
  sweater: { slot: 'upper', types: ['sweater'] },
  jumper: { slot: 'upper', types: ['sweater'] },
  pullover: { slot: 'upper', types: ['sweater'] },
  trousers: { slot: 'lower', types: ['trousers'] },
  slacks: { slot: 'lower', types: ['trousers'] },
  pants: { slot: 'lower', types: ['trousers', 'shorts'] },
  jeans: { slot: 'lower', types: ['jeans'] },
  shorts: { slot: 'lower', types: ['shorts'] },
  skirt: { slot: 'lower', types: ['skirt'] },
  leggings: { slot: 'lower', types: ['leggings'] },
  tights: { slot: 'lower', types: ['leggings'] },
};
const WOMAN_WORDS = ['she', 'her', 'woman', 'lady', 'girl', 'female'];
const MAN_WORDS = ['he', 'his', 'him', 'man', 'guy', 'male', 'gentleman'];

const words = (caption: string) =>
  caption
    .toLowerCase()
    .split(/[^a-z-]+/)
    .filter(Boolean);

/**
 * Checks one caption against the attributes: every colour word must be followed (after optional
 * modifiers) by a noun of an item the person has, of a matching type, in exactly that colour;
 * the upper and lower garments must both be named with their colours; no word of the other
 * gender may appear. Returns the list of problems (empty when the caption is consistent).
 */
function captionProblems(caption: string, a: PersonAttributes): string[] {
  const problems: string[] = [];
  const w = words(caption);
  const named = new Set<string>();
  for (let i = 0; i < w.length; i++) {
    const color = COLOR_WORDS[w[i]];
    if (color === undefined) continue;
    let j = i + 1;
    while (j < w.length && MODIFIERS.has(w[j])) j++;
    const noun = NOUNS[w[j]];
    if (!noun) {
      problems.push(`colour '${w[i]}' is followed by '${w[j]}', not an item noun`);
      continue;
    }
    const item =
      noun.slot === 'hair'
        ? { color: a.hairColor, type: undefined }
        : noun.slot === 'upper'
          ? a.upper
          : noun.slot === 'lower'
            ? a.lower
            : noun.slot === 'shoes'
              ? { color: a.shoes.color, type: undefined }
              : noun.slot === 'bag'
                ? a.bag
                : a.hat && { color: a.hat.color, type: undefined };
    if (!item) {
      problems.push(`mentions a ${noun.slot} the person does not have ('${w[i]} ${w[j]}')`);
      continue;
    }
    if (item.color !== color) problems.push(`'${w[i]} ${w[j]}' but the ${noun.slot} is ${item.color}`);
    if (noun.types && item.type !== undefined && !noun.types.includes(item.type)) {
      problems.push(`'${w[j]}' does not describe a ${item.type}`);
    }
    named.add(noun.slot);
  }
  if (!named.has('upper')) problems.push('the upper garment with its colour is not named');
  if (!named.has('lower')) problems.push('the lower garment with its colour is not named');
  const other = a.gender === 'woman' ? MAN_WORDS : WOMAN_WORDS;
  for (const x of w) if (other.includes(x)) problems.push(`'${x}' for a ${a.gender}`);
  return problems;
}

const nearestColor = (rgb: readonly number[]) => {
  let best: string = GARMENT_COLORS[0];
  let bestD = Infinity;
  for (const c of GARMENT_COLORS) {
    const p = GARMENT_RGB[c];
    const d = (p[0] - rgb[0]) ** 2 + (p[1] - rgb[1]) ** 2 + (p[2] - rgb[2]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
};

/** Per-channel median of a sample's pixels inside a box. */
function medianColor(s: SynthSample, box: readonly [number, number, number, number]): number[] {
  const [x0, y0, x1, y1] = box;
  const ch: number[][] = [[], [], []];
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      for (let c = 0; c < 3; c++) ch[c].push(s.pixels[(y * s.width + x) * 3 + c]);
    }
  }
  return ch.map((v) => v.sort((p, q) => p - q)[Math.floor(v.length / 2)]);
}

const pixelsEqual = (a: SynthSample[], b: SynthSample[]) =>
  a.length === b.length && a.every((s, i) => Buffer.from(s.pixels).equals(Buffer.from(b[i].pixels)));

describe.runIf(process.env.IRRA_TEST_BACKEND === 'cpu')('SynthPedes', () => {
  let ds: SynthPedes;
  let seconds = 0;
  beforeAll(() => {
    const t = performance.now();
    ds = generateSynthPedes({ seed: 7 });
    seconds = (performance.now() - t) / 1000;
  });

  it('generates the default 200 identities × 4 images quickly', () => {
    expect(seconds).toBeLessThan(5);
  });

  it('has the requested counts, sizes and contiguous ids', () => {
    expect(ds.trainIdentities).toHaveLength(150);
    expect(ds.testIdentities).toHaveLength(50);
    expect(ds.train).toHaveLength(600);
    expect(ds.test).toHaveLength(200);
    for (const [split, ids] of [
      [ds.train, ds.trainIdentities],
      [ds.test, ds.testIdentities],
    ] as const) {
      split.forEach((s, i) => {
        expect(s.imageId).toBe(i);
        expect(s.pid).toBe(Math.floor(i / 4));
        expect(s.attributes).toBe(ids[s.pid]);
        expect(s.pixels).toBeInstanceOf(Uint8Array);
        expect(s.pixels.length).toBe(96 * 32 * 3);
        expect([s.height, s.width]).toEqual([96, 32]);
        expect(s.captions).toHaveLength(2);
        expect(new Set(s.captions).size).toBe(2);
      });
    }
    const small = generateSynthPedes({
      numIdentities: 9,
      imagesPerIdentity: 3,
      captionsPerImage: 3,
      height: 64,
      width: 24,
      testFraction: 0.34,
    });
    expect(small.train).toHaveLength(6 * 3);
    expect(small.test).toHaveLength(3 * 3);
    expect(small.test[0].pixels.length).toBe(64 * 24 * 3);
    expect(small.test[0].captions).toHaveLength(3);
    expect(generateSynthPedes({ numIdentities: 4, testFraction: 0 }).test).toHaveLength(0);
  });

  it('splits by identity: train and test identities are disjoint and together cover all', () => {
    const train = new Set(ds.train.map((s) => s.identity));
    const test = new Set(ds.test.map((s) => s.identity));
    expect(train.size).toBe(150);
    expect(test.size).toBe(50);
    for (const id of test) expect(train.has(id)).toBe(false);
    expect([...train, ...test].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // no two identities share every attribute that captions can name
    const key = (a: PersonAttributes) => JSON.stringify({ ...a, skinTone: 0, figure: '' });
    expect(new Set([...ds.trainIdentities, ...ds.testIdentities].map(key)).size).toBe(200);
  });

  it('is deterministic: the same seed gives byte-identical pixels and captions', () => {
    const opts = { seed: 3, numIdentities: 12, imagesPerIdentity: 2 };
    const a = generateSynthPedes(opts);
    const b = generateSynthPedes(opts);
    expect(pixelsEqual(a.train, b.train) && pixelsEqual(a.test, b.test)).toBe(true);
    expect(a.train.map((s) => s.captions)).toEqual(b.train.map((s) => s.captions));
    expect(a.trainIdentities).toEqual(b.trainIdentities);
    // identities do not depend on the number of images or the image size
    const c = generateSynthPedes({ ...opts, imagesPerIdentity: 1, height: 48, width: 16 });
    expect(c.trainIdentities).toEqual(a.trainIdentities);
  });

  it('differs between seeds', () => {
    const a = generateSynthPedes({ seed: 3, numIdentities: 12, imagesPerIdentity: 2 });
    const b = generateSynthPedes({ seed: 4, numIdentities: 12, imagesPerIdentity: 2 });
    expect(pixelsEqual(a.train, b.train)).toBe(false);
    expect(a.train.map((s) => s.captions)).not.toEqual(b.train.map((s) => s.captions));
    expect(a.trainIdentities).not.toEqual(b.trainIdentities);
  });

  it('varies the images of one identity', () => {
    const first = ds.train.filter((s) => s.pid === 0);
    expect(pixelsEqual([first[0]], [first[1]])).toBe(false);
    const shifts = new Set(ds.train.map((s) => Math.round(s.variation.shiftX)));
    expect(shifts.size).toBeGreaterThan(3);
    expect(ds.train.some((s) => s.variation.occlusion !== 'none')).toBe(true);
    expect(ds.train.some((s) => s.variation.flip)).toBe(true);
    expect(ds.train.some((s) => !s.variation.flip)).toBe(true);
    const backs = ds.train.filter((s) => s.variation.view === 'back').length;
    expect(backs).toBeGreaterThan(ds.train.length * 0.2);
    expect(backs).toBeLessThan(ds.train.length * 0.5);
  });

  it('writes captions consistent with the attributes (colour rule, both garments, gender)', () => {
    const bad: string[] = [];
    for (const s of [...ds.train, ...ds.test]) {
      for (const c of s.captions) {
        const p = captionProblems(c, s.attributes);
        if (p.length > 0) bad.push(`${c} -> ${p.join('; ')}`);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('the caption checker rejects wrong captions', () => {
    const a = ds.train[0].attributes;
    const wrong = GARMENT_COLORS.find((c) => c !== a.upper.color && c !== a.lower.color) as string;
    const good = ds.train[0].captions[0];
    expect(captionProblems(good, a)).toEqual([]);
    const swapped = good.replace(new RegExp(`\\b${a.upper.color === 'grey' ? 'gr[ae]y' : a.upper.color}\\b`), wrong);
    expect(captionProblems(swapped, a).length).toBeGreaterThan(0);
    expect(captionProblems(`A person wearing a ${a.upper.color} coat.`, a).length).toBeGreaterThan(0);
  });

  it('varies captions as different annotators would: synonyms, clauses, omissions', () => {
    const all = ds.train.flatMap((s) => s.captions.map((c) => ({ c, a: s.attributes })));
    const firstNouns = new Set(
      all.map(({ c }) => words(c).find((w) => WOMAN_WORDS.includes(w) || MAN_WORDS.includes(w))),
    );
    expect(firstNouns.size).toBeGreaterThanOrEqual(8);
    expect(all.some(({ c }) => / who /.test(c))).toBe(true);
    expect(all.some(({ c }) => /\bpants\b/.test(c))).toBe(true);
    expect(all.some(({ c }) => /\btrousers\b/.test(c))).toBe(true);
    // some captions of people with a bag leave it out, and some name it
    const withBag = all.filter(({ a }) => a.bag);
    const mentions = withBag.filter(({ c }) => /\b(backpack|rucksack|handbag|bag)\b/.test(c)).length;
    expect(mentions).toBeGreaterThan(withBag.length * 0.6);
    expect(mentions).toBeLessThan(withBag.length);
    // upper garment first in most captions, lower first in some
    const lowerFirst = all.filter(({ c, a }) => c.indexOf(a.lower.color) < c.indexOf(a.upper.color)).length;
    expect(lowerFirst).toBeGreaterThan(0);
  });

  it('holds the caption rule for any seed (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), (seed) => {
        const d = generateSynthPedes({
          seed,
          numIdentities: 6,
          imagesPerIdentity: 1,
          captionsPerImage: 3,
          height: 32,
          width: 12,
        });
        return [...d.train, ...d.test].every((s) =>
          s.captions.every((c) => captionProblems(c, s.attributes).length === 0),
        );
      }),
      { numRuns: 40 },
    );
  });

  it('draws the attributes: garment regions have the garment colour under normal lighting', () => {
    const normal = [...ds.train, ...ds.test].filter(
      (s) =>
        s.variation.occlusion === 'none' &&
        Math.abs(s.variation.brightness - 1) <= 0.1 &&
        Math.abs(s.variation.contrast - 1) <= 0.1,
    );
    expect(normal.length).toBeGreaterThan(300);
    const upperHits = normal.filter((s) => nearestColor(medianColor(s, s.regions.upper)) === s.attributes.upper.color);
    const lowerHits = normal.filter((s) => nearestColor(medianColor(s, s.regions.lower)) === s.attributes.lower.color);
    expect(upperHits.length / normal.length).toBeGreaterThan(0.95);
    expect(lowerHits.length / normal.length).toBeGreaterThan(0.95);
    // and across all lighting, most images still show the upper colour
    const all = [...ds.train, ...ds.test];
    const allHits = all.filter((s) => nearestColor(medianColor(s, s.regions.upper)) === s.attributes.upper.color);
    expect(allHits.length / all.length).toBeGreaterThan(0.7);
  });

  it('rejects bad options with errors that name the option', () => {
    expect(() => generateSynthPedes({ numIdentities: -1 })).toThrow(/numIdentities must be an integer ≥ 2, got -1/);
    expect(() => generateSynthPedes({ numIdentities: 1 })).toThrow(/numIdentities/);
    expect(() => generateSynthPedes({ imagesPerIdentity: 0 })).toThrow(
      /imagesPerIdentity must be an integer ≥ 1, got 0/,
    );
    expect(() => generateSynthPedes({ captionsPerImage: 1.5 })).toThrow(/captionsPerImage/);
    expect(() => generateSynthPedes({ height: 20 })).toThrow(/height must be an integer ≥ 32, got 20/);
    expect(() => generateSynthPedes({ width: 8 })).toThrow(/width must be an integer ≥ 12, got 8/);
    expect(() => generateSynthPedes({ testFraction: 1 })).toThrow(/testFraction must be a number in \[0, 1\), got 1/);
    expect(() => generateSynthPedes({ testFraction: -0.1 })).toThrow(/testFraction/);
    expect(() => generateSynthPedes({ seed: Number.NaN })).toThrow(/seed must be a finite number/);
    expect(() => generateSynthPedes({ size: 3 } as never)).toThrow(/unknown option 'size'/);
  });
});

describe.runIf(process.env.IRRA_TEST_BACKEND === 'cpu')('buildSynthVocabulary', () => {
  const captions = ['A man in a red jacket.', 'The woman wears a blue t-shirt, and jeans.'];
  const v = buildSynthVocabulary(captions);

  it('uses the CLIP special-token layout with eot as the largest id', () => {
    expect(v.padId).toBe(0);
    expect(v.unkId).toBe(1);
    expect([v.maskId, v.sotId, v.eotId]).toEqual([v.vocabSize - 3, v.vocabSize - 2, v.vocabSize - 1]);
    expect(v.tokens).toHaveLength(v.vocabSize);
    expect(v.tokens.slice(-3)).toEqual(['<|mask|>', '<|startoftext|>', '<|endoftext|>']);
    // a, and, blue, in, jacket, jeans, man, red, t-shirt, the, wears, woman, ',', '.'
    expect(v.vocabSize).toBe(2 + 14 + 3);
  });

  it('encodes, decodes and pads', () => {
    expect(v.tokenize('A Blue T-shirt, and jeans.')).toEqual(['a', 'blue', 't-shirt', ',', 'and', 'jeans', '.']);
    const ids = v.encode('a red jacket');
    expect(ids.every((id) => id > 1 && id < v.maskId)).toBe(true);
    expect(v.decode(ids)).toBe('a red jacket');
    expect(v.encode('a green jacket')[1]).toBe(v.unkId);
    const rows = v.toIds(['a red jacket', ''], 6);
    expect(rows).toBeInstanceOf(Int32Array);
    expect(Array.from(rows)).toEqual([v.sotId, ...ids, v.eotId, 0, v.sotId, v.eotId, 0, 0, 0, 0]);
    // too long: truncated, last id is eot (argmax pooling still finds it)
    const long = v.toIds(['a man in a red jacket . the woman wears jeans'], 5);
    expect(long[0]).toBe(v.sotId);
    expect(long[4]).toBe(v.eotId);
    expect(Math.max(...long)).toBe(v.eotId);
  });

  it('fits the data pipeline as a CaptionEncoder (tokenizeToArray like ClipTokenizer)', () => {
    const texts = ['a man in a red jacket', 'the woman wears jeans .'];
    expect(encodeCaptions(v, texts, 16)).toEqual(v.toIds(texts, 16));
    expect(v.tokenizeToArray('a man')).toHaveLength(77);
    expect(v.tokenizeToArray(texts, { contextLength: 4 })).toEqual(v.toIds(texts, 4));
  });

  it('is deterministic and order-independent in its ids', () => {
    const w = buildSynthVocabulary([...captions].reverse());
    expect(w.tokens).toEqual(v.tokens);
  });

  it('covers a whole SynthPedes dataset with no unknown words', () => {
    const d = generateSynthPedes({ numIdentities: 20 });
    const all = [...d.train, ...d.test].flatMap((s) => s.captions);
    const vocab = buildSynthVocabulary(all);
    const ids = vocab.toIds(all, 77);
    expect(ids.includes(vocab.unkId)).toBe(false);
    expect(vocab.vocabSize).toBeLessThan(300);
  });

  it('rejects bad input', () => {
    expect(() => v.toIds(['a'], 1)).toThrow(/contextLength must be an integer ≥ 2, got 1/);
    expect(() => v.toIds('a' as never, 4)).toThrow(/texts must be an array of strings/);
    expect(() => v.tokenizeToArray('a man in a red jacket', { contextLength: 4, truncate: false })).toThrow(
      /texts\[0\] has 8 tokens with start\/end, more than contextLength 4/,
    );
    expect(() => buildSynthVocabulary('a man' as never)).toThrow(/captions must be an array/);
    expect(() => buildSynthVocabulary([3] as never)).toThrow(/captions\[0\] must be a string/);
  });
});

describe.runIf(process.env.IRRA_TEST_BACKEND === 'cpu')('toNormalizedNHWC', () => {
  it('normalises with the CLIP mean and std per channel', () => {
    const x = toNormalizedNHWC(Uint8Array.from([0, 0, 0, 255, 255, 255, 128, 64, 32]), 1, 3);
    const mean = [0.48145466, 0.4578275, 0.40821073];
    const std = [0.26862954, 0.26130258, 0.27577711];
    const expected = [0, 0, 0, 255, 255, 255, 128, 64, 32].map((p, i) => (p / 255 - mean[i % 3]) / std[i % 3]);
    for (let i = 0; i < 9; i++) expect(x[i]).toBeCloseTo(expected[i], 5);
    expect(toNormalizedNHWC(new Uint8Array(2 * 2 * 3 * 3), 2, 3)).toHaveLength(36);
  });

  it('rejects a buffer whose length does not fit the size', () => {
    expect(() => toNormalizedNHWC(new Uint8Array(10), 2, 2)).toThrow(
      /positive multiple of height·width·3 = 12, got 10/,
    );
    expect(() => toNormalizedNHWC(new Uint8Array(0), 2, 2)).toThrow(/got 0/);
    expect(() => toNormalizedNHWC(new Uint8Array(12), 0, 2)).toThrow(/height and width must be positive integers/);
    expect(() => toNormalizedNHWC([1, 2, 3] as never, 1, 1)).toThrow(/must be a Uint8Array/);
  });
});

describe('SynthPedes with the data pipeline', () => {
  it('toNormalizedNHWC matches the transforms’ normalizeImage', () => {
    const s = generateSynthPedes({ numIdentities: 2, imagesPerIdentity: 1, height: 32, width: 12 }).train[0];
    const before = tf.memory().numTensors;
    const t = tf.tensor3d(s.pixels, [s.height, s.width, 3], 'int32');
    const ref = normalizeImage(t);
    expectClose(toNormalizedNHWC(s.pixels, s.height, s.width), ref, {
      kind: 'forward',
      label: 'synthpedes.normalize',
      group: 'synthpedes',
    });
    tf.dispose([t, ref]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it.runIf(process.env.IRRA_TEST_BACKEND === 'cpu')(
    'views SynthPedes as a PersonDataset with an image loader',
    async () => {
      const ds = generateSynthPedes({
        seed: 2,
        numIdentities: 8,
        imagesPerIdentity: 2,
        captionsPerImage: 3,
        testFraction: 0.25,
      });
      const { dataset, images, loadImage } = synthPedesAsDataset(ds);
      expect(dataset.numClasses).toBe(6);
      expect(dataset.train).toHaveLength(6 * 2 * 3);
      expect(dataset.stats.train).toEqual({ ids: 6, images: 12, captions: 36 });
      expect(dataset.stats.test).toEqual({ ids: 2, images: 4, captions: 12 });
      expect(dataset.test.imagePids).toEqual([0, 0, 1, 1]);
      expect(dataset.test.captionPids).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
      expect(dataset.test.captions.slice(0, 3)).toEqual(ds.test[0].captions);
      expect(images.size).toBe(16);
      const t = dataset.train[7];
      expect(t.caption).toBe(ds.train[t.imageId].captions[1]);
      const img = await loadImage(t);
      expect(img.data).toBe(ds.train[t.imageId].pixels);
      expect((await loadImage({ imgPath: dataset.test.imgPaths[3] })).data).toBe(ds.test[3].pixels);
      await expect(loadImage({ imgPath: 'nope' })).rejects.toThrow(/no image at imgPath 'nope'/);
    },
  );
});
