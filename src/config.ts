/**
 * IRRA model configuration: the architecture and loss settings of one model, named presets, and
 * validation with clear errors.
 */

/** The loss names IRRA knows (the reference's `loss_names`, joined with `+` there). */
export const LOSS_NAMES = ['sdm', 'itc', 'cmpm', 'id', 'mlm'] as const;
/** One loss name. */
export type LossName = (typeof LOSS_NAMES)[number];

/** Architecture and loss settings of an IRRA model (camelCase versions of the reference's). */
export interface IRRAConfig {
  /** Joint embedding width (`embed_dim`; ViT-B: 512). */
  embedDim: number;
  /** Input image size `[height, width]` (IRRA: [384, 128]). */
  imageSize: [number, number];
  /** Vision transformer blocks. */
  visionLayers: number;
  /** Vision transformer width. */
  visionWidth: number;
  /** Vision attention heads (reference: `visionWidth / 64`). */
  visionHeads: number;
  /** Patch (conv kernel) size. */
  visionPatchSize: number;
  /** Patch stride (IRRA's `stride_size`; smaller than the patch = overlapping patches). */
  strideSize: number;
  /** Tokens per caption (CLIP: 77). */
  contextLength: number;
  /** Vocabulary size (CLIP: 49408); the end-of-text id is `vocabSize - 1`. */
  vocabSize: number;
  /** Text transformer width. */
  transformerWidth: number;
  /** Text attention heads (reference: `transformerWidth / 64`). */
  transformerHeads: number;
  /** Text transformer blocks. */
  transformerLayers: number;
  /** Blocks of the cross-modal transformer (`cmt_depth`). */
  cmtDepth: number;
  /** Attention heads of the cross-modal encoder (reference: `embedDim / 64`). */
  crossHeads: number;
  /** Identities of the ID classifier (CUHK-PEDES train: 11003). */
  numClasses: number;
  /** Temperature; the logit scale of the similarity losses is `1 / temperature`. */
  temperature: number;
  /** Losses to compute (`'sdm' | 'itc' | 'cmpm' | 'id' | 'mlm'`; paper: sdm, id, mlm). */
  lossNames: LossName[];
  /** Weight of the ID loss. */
  idLossWeight: number;
  /** Weight of the MLM (IRR) loss. */
  mlmLossWeight: number;
}

/** Defaults that every preset shares, as the reference's command-line defaults. */
export const CONFIG_DEFAULTS = {
  temperature: 0.02,
  lossNames: ['sdm', 'id', 'mlm'] as LossName[],
  idLossWeight: 1,
  mlmLossWeight: 1,
  cmtDepth: 4,
  numClasses: 11003,
} as const;

/** An architecture preset: every field except the head counts, which are width / 64. */
type Preset = Omit<IRRAConfig, 'visionHeads' | 'transformerHeads' | 'crossHeads'>;

const clipText = { contextLength: 77, vocabSize: 49408, transformerWidth: 512, transformerLayers: 12 };
const shared = {
  temperature: CONFIG_DEFAULTS.temperature,
  lossNames: [...CONFIG_DEFAULTS.lossNames],
  idLossWeight: CONFIG_DEFAULTS.idLossWeight,
  mlmLossWeight: CONFIG_DEFAULTS.mlmLossWeight,
  cmtDepth: CONFIG_DEFAULTS.cmtDepth,
  numClasses: CONFIG_DEFAULTS.numClasses,
};

/**
 * Named architecture presets: `'ViT-B/16'` (the paper's model: CLIP ViT-B/16 on 384×128 person
 * crops, stride 16, 11003 CUHK-PEDES identities), `'ViT-B/32'` (the same with 32-pixel patches)
 * and `'tiny'` (a small model for tests and demos, shaped like the `tiny_a` fixture).
 */
export const presets: Readonly<Record<'ViT-B/16' | 'ViT-B/32' | 'tiny', Readonly<Preset>>> = {
  'ViT-B/16': {
    embedDim: 512,
    imageSize: [384, 128],
    visionLayers: 12,
    visionWidth: 768,
    visionPatchSize: 16,
    strideSize: 16,
    ...clipText,
    ...shared,
  },
  'ViT-B/32': {
    embedDim: 512,
    imageSize: [384, 128],
    visionLayers: 12,
    visionWidth: 768,
    visionPatchSize: 32,
    strideSize: 32,
    ...clipText,
    ...shared,
  },
  tiny: {
    embedDim: 128,
    imageSize: [32, 16],
    visionLayers: 2,
    visionWidth: 128,
    visionPatchSize: 8,
    strideSize: 8,
    contextLength: 16,
    vocabSize: 512,
    transformerWidth: 128,
    transformerLayers: 2,
    ...shared,
    cmtDepth: 2,
    numClasses: 7,
  },
};

/** A preset name. */
export type PresetName = keyof typeof presets;

/** Options of {@link irraConfig}: a preset (default `'ViT-B/16'`) and any fields to override. */
export type IRRAConfigOptions = Partial<IRRAConfig> & { preset?: PresetName };

/** Head count the reference derives from a width (`width // 64`), at least 1. */
export const headsFor = (width: number): number => Math.max(1, Math.floor(width / 64));

/**
 * Builds a validated {@link IRRAConfig} from a preset and overrides. Head counts not given
 * default to width / 64 (as the reference derives them), computed after the overrides.
 *
 * @throws Error naming the field, what was expected and what arrived.
 * @example
 * ```ts
 * const config = irraConfig({ preset: 'ViT-B/16', numClasses: 11003, lossNames: ['sdm', 'id', 'mlm'] });
 * ```
 */
export function irraConfig(options: IRRAConfigOptions = {}): IRRAConfig {
  const { preset = 'ViT-B/16', ...overrides } = options;
  const base = presets[preset];
  if (!base) {
    throw new Error(`irraConfig: preset must be one of ${Object.keys(presets).join(', ')}, got '${String(preset)}'`);
  }
  const merged = { ...base, ...overrides };
  const config: IRRAConfig = {
    ...merged,
    imageSize: [...merged.imageSize] as [number, number],
    lossNames: [...merged.lossNames],
    visionHeads: overrides.visionHeads ?? headsFor(merged.visionWidth),
    transformerHeads: overrides.transformerHeads ?? headsFor(merged.transformerWidth),
    crossHeads: overrides.crossHeads ?? headsFor(merged.embedDim),
  };
  validateConfig(config);
  return config;
}

const INT_FIELDS = [
  'embedDim',
  'visionLayers',
  'visionWidth',
  'visionHeads',
  'visionPatchSize',
  'strideSize',
  'contextLength',
  'vocabSize',
  'transformerWidth',
  'transformerHeads',
  'transformerLayers',
  'cmtDepth',
  'crossHeads',
  'numClasses',
] as const;

/**
 * Checks every field of a config; throws an Error naming the first bad field, what was expected
 * and what arrived.
 */
export function validateConfig(c: IRRAConfig): void {
  const fail = (field: string, want: string, got: unknown): never => {
    throw new Error(`IRRAConfig.${field} must be ${want}, got ${JSON.stringify(got)}`);
  };
  for (const f of INT_FIELDS) {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(f, 'a positive integer', v);
  }
  if (!Array.isArray(c.imageSize) || c.imageSize.length !== 2) fail('imageSize', '[height, width]', c.imageSize);
  c.imageSize.forEach((v, i) => {
    if (!Number.isInteger(v) || v < c.visionPatchSize) {
      fail(`imageSize[${i}]`, `an integer >= visionPatchSize (${c.visionPatchSize})`, v);
    }
  });
  if (c.vocabSize < 2) fail('vocabSize', 'at least 2', c.vocabSize);
  const divisible: [keyof IRRAConfig, keyof IRRAConfig][] = [
    ['visionWidth', 'visionHeads'],
    ['transformerWidth', 'transformerHeads'],
    ['embedDim', 'crossHeads'],
  ];
  for (const [w, h] of divisible) {
    if ((c[w] as number) % (c[h] as number) !== 0) {
      fail(w, `divisible by ${h} (${c[h]})`, c[w]);
    }
  }
  if (!(typeof c.temperature === 'number' && Number.isFinite(c.temperature) && c.temperature > 0)) {
    fail('temperature', 'a finite number > 0', c.temperature);
  }
  for (const f of ['idLossWeight', 'mlmLossWeight'] as const) {
    if (!(typeof c[f] === 'number' && Number.isFinite(c[f]) && c[f] >= 0)) fail(f, 'a finite number >= 0', c[f]);
  }
  if (!Array.isArray(c.lossNames) || c.lossNames.length === 0)
    fail('lossNames', `a non-empty list of ${LOSS_NAMES.join(', ')}`, c.lossNames);
  for (const n of c.lossNames) {
    if (!(LOSS_NAMES as readonly string[]).includes(n))
      fail('lossNames', `a list of ${LOSS_NAMES.join(', ')}`, c.lossNames);
  }
  if (new Set(c.lossNames).size !== c.lossNames.length) fail('lossNames', 'a list without repeats', c.lossNames);
}

/**
 * Grid `[ny, nx]` of patch positions for an image size, patch and stride — the reference's
 * `(H - patch) // stride + 1` per side (stride < patch gives overlapping patches).
 * @example patchGrid([384, 128], 16, 16); // [24, 8]
 */
export function patchGrid(imageSize: readonly [number, number], patch: number, stride: number): [number, number] {
  return [Math.floor((imageSize[0] - patch) / stride) + 1, Math.floor((imageSize[1] - patch) / stride) + 1];
}
