/**
 * SynthPedes identities: the attribute set that every image and caption of a person is made from.
 */
import { GARMENT_COLORS, type GarmentColor, type HairColor, SKIN_RGB } from './palette';
import type { SynthRng } from './rng';

/** Upper-body garment types. A dress covers the torso and the thighs. */
export const UPPER_TYPES = ['t-shirt', 'shirt', 'jacket', 'coat', 'dress', 'sweater'] as const;
/** An upper-body garment type. */
export type UpperType = (typeof UPPER_TYPES)[number];

/**
 * Lower-body garment types. `leggings` occur only under a dress (the dress is the upper garment,
 * the leggings are what shows below it), so every identity has both an upper and a lower garment.
 */
export const LOWER_TYPES = ['trousers', 'jeans', 'shorts', 'skirt', 'leggings'] as const;
/** A lower-body garment type. */
export type LowerType = (typeof LOWER_TYPES)[number];

/** Bag types: a backpack (straps on the chest, pack behind the shoulders) or a shoulder bag. */
export const BAG_TYPES = ['backpack', 'handbag'] as const;
/** A bag type. */
export type BagType = (typeof BAG_TYPES)[number];

/** The attribute set of one SynthPedes identity; all its images and captions follow it. */
export interface PersonAttributes {
  /** Drawn figure and caption nouns/pronouns. */
  gender: 'woman' | 'man';
  /** Shoulder width and limb thickness. */
  figure: 'slim' | 'broad';
  /** Index into the skin tones (0 = lightest); never named by captions. */
  skinTone: number;
  /** Hair length: short (above the ears), medium (to the jaw) or long (past the shoulders). */
  hairLength: 'short' | 'medium' | 'long';
  /** Hair colour. */
  hairColor: HairColor;
  /** Upper-body garment. */
  upper: { type: UpperType; color: GarmentColor };
  /** Lower-body garment (for a dress: the leggings below it). */
  lower: { type: LowerType; color: GarmentColor };
  /** Shoes. */
  shoes: { color: GarmentColor };
  /** A carried bag, or null. */
  bag: { type: BagType; color: GarmentColor } | null;
  /** A cap, or null. */
  hat: { color: GarmentColor } | null;
}

const JEANS_COLORS: readonly GarmentColor[] = ['blue', 'blue', 'black', 'grey', 'white'];
const SHOE_COLORS: readonly GarmentColor[] = ['black', 'black', 'white', 'white', 'brown', 'grey', 'red', 'blue'];

/** Draws a garment colour different from `avoid` (so that garments stay distinguishable). */
function colorExcept(rng: SynthRng, avoid: readonly GarmentColor[]): GarmentColor {
  const allowed = GARMENT_COLORS.filter((c) => !avoid.includes(c));
  return rng.pick(allowed);
}

/**
 * Draws one identity's attributes from `rng`. Upper and lower garments get different colours;
 * dresses and skirts are drawn for women only; a coat comes with trousers or jeans (it would hide
 * shorts or a skirt); jeans come in denim-like colours.
 */
export function sampleAttributes(rng: SynthRng): PersonAttributes {
  const gender = rng.chance(0.5) ? 'woman' : 'man';
  const figure = rng.chance(gender === 'woman' ? 0.65 : 0.45) ? 'slim' : 'broad';
  const skinTone = rng.int(0, SKIN_RGB.length - 1);
  const hairLength =
    gender === 'woman'
      ? rng.weighted([
          ['long', 0.6],
          ['medium', 0.3],
          ['short', 0.1],
        ] as const)
      : rng.weighted([
          ['short', 0.75],
          ['medium', 0.2],
          ['long', 0.05],
        ] as const);
  const hairColor = rng.weighted([
    ['black', 0.45],
    ['brown', 0.3],
    ['blond', 0.17],
    ['grey', 0.08],
  ] as const satisfies readonly (readonly [HairColor, number])[]);
  const upperType: UpperType =
    gender === 'woman'
      ? rng.weighted([
          ['t-shirt', 0.2],
          ['shirt', 0.15],
          ['jacket', 0.18],
          ['coat', 0.15],
          ['dress', 0.17],
          ['sweater', 0.15],
        ] as const)
      : rng.weighted([
          ['t-shirt', 0.25],
          ['shirt', 0.2],
          ['jacket', 0.2],
          ['coat', 0.15],
          ['sweater', 0.2],
        ] as const);
  const upperColor = rng.pick(GARMENT_COLORS);
  let lowerType: LowerType;
  // a knee-length coat would hide shorts and skirts, so coats go with trousers or jeans
  if (upperType === 'dress') lowerType = 'leggings';
  else if (upperType === 'coat') lowerType = rng.chance(0.5) ? 'trousers' : 'jeans';
  else if (gender === 'woman')
    lowerType = rng.weighted([
      ['trousers', 0.3],
      ['jeans', 0.3],
      ['shorts', 0.15],
      ['skirt', 0.25],
    ] as const);
  else
    lowerType = rng.weighted([
      ['trousers', 0.45],
      ['jeans', 0.35],
      ['shorts', 0.2],
    ] as const);
  const lowerChoices = lowerType === 'jeans' ? JEANS_COLORS.filter((c) => c !== upperColor) : null;
  const lowerColor = lowerChoices ? rng.pick(lowerChoices) : colorExcept(rng, [upperColor]);
  const shoesColor = rng.pick(SHOE_COLORS);
  const bag = rng.chance(0.55) ? { type: rng.pick(BAG_TYPES), color: colorExcept(rng, [upperColor]) } : null;
  const hat = rng.chance(0.2) ? { color: rng.pick(GARMENT_COLORS) } : null;
  return {
    gender,
    figure,
    skinTone,
    hairLength,
    hairColor,
    upper: { type: upperType, color: upperColor },
    lower: { type: lowerType, color: lowerColor },
    shoes: { color: shoesColor },
    bag,
    hat,
  };
}

/**
 * A string that identifies an attribute set up to what captions can name (skin tone and figure
 * excluded); the generator re-draws identities whose key repeats one already drawn.
 */
export function attributeKey(a: PersonAttributes): string {
  return [
    a.gender,
    a.hairLength,
    a.hairColor,
    a.upper.type,
    a.upper.color,
    a.lower.type,
    a.lower.color,
    a.shoes.color,
    a.bag ? `${a.bag.type}:${a.bag.color}` : '-',
    a.hat ? a.hat.color : '-',
  ].join('|');
}
