/**
 * The named colours SynthPedes draws with, so that captions can name exactly what is drawn.
 */

/** The garment, shoe, bag and hat colours, by the word captions use for them. */
export const GARMENT_COLORS = [
  'red',
  'blue',
  'green',
  'yellow',
  'black',
  'white',
  'grey',
  'pink',
  'purple',
  'orange',
  'brown',
] as const;

/** A garment colour name (see {@link GARMENT_COLORS}). */
export type GarmentColor = (typeof GARMENT_COLORS)[number];

/** The hair colours, by the word captions use for them. */
export const HAIR_COLORS = ['black', 'brown', 'blond', 'grey'] as const;

/** A hair colour name (see {@link HAIR_COLORS}). */
export type HairColor = (typeof HAIR_COLORS)[number];

/** An sRGB colour with channels in [0, 255]. */
export type Rgb = readonly [number, number, number];

/**
 * sRGB values of the garment colours, chosen far apart so that a colour stays recognisable under
 * the generator's lighting changes and shading.
 */
export const GARMENT_RGB: Readonly<Record<GarmentColor, Rgb>> = {
  red: [205, 30, 35],
  blue: [35, 75, 200],
  green: [35, 145, 60],
  yellow: [240, 210, 40],
  black: [28, 28, 32],
  white: [238, 238, 234],
  grey: [130, 130, 134],
  pink: [245, 145, 190],
  purple: [120, 45, 155],
  orange: [245, 130, 25],
  brown: [115, 70, 35],
};

/** sRGB values of the hair colours. */
export const HAIR_RGB: Readonly<Record<HairColor, Rgb>> = {
  black: [22, 20, 20],
  brown: [95, 58, 30],
  blond: [220, 185, 105],
  grey: [170, 170, 168],
};

/** sRGB skin tones, light to dark; identities store an index into this list. */
export const SKIN_RGB: readonly Rgb[] = [
  [246, 208, 180],
  [228, 182, 142],
  [196, 145, 105],
  [150, 102, 70],
  [100, 68, 48],
];
