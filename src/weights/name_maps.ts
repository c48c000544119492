import type { RawTensor } from './safetensors';

/**
 * Checkpoint name maps: one declarative table per format, each rule a target reference name, the
 * source key(s) it is built from and a named transform. `{i}` stands for a layer index. A
 * conversion fails on any source key that no rule uses and no ignore entry lists.
 */

/** Named transforms a rule may apply to its sources. */
export type NameTransform = 'identity' | 'transpose' | 'concat';

/** One rule of a name table. */
export interface NameRule {
  /** Reference (IRRA PyTorch) name; may contain `{i}`. */
  target: string;
  /** Source key, or keys for `concat` (in order); may contain `{i}`. */
  source: string | readonly string[];
  /** How the source tensor(s) become the target; default `'identity'`. */
  transform?: NameTransform;
}

/** A checkpoint format: how its keys map to reference names. */
export interface NameTable {
  rules: readonly NameRule[];
  /** Source keys (patterns with `{i}`) that are dropped on purpose. */
  ignore: readonly string[];
}

/** Checkpoint formats {@link convertStateDict} understands. */
export type CheckpointFormat = 'irra' | 'openai' | 'hf';

const BLOCK = [
  'attn.in_proj_weight',
  'attn.in_proj_bias',
  'attn.out_proj.weight',
  'attn.out_proj.bias',
  'ln_1.weight',
  'ln_1.bias',
  'ln_2.weight',
  'ln_2.bias',
  'mlp.c_fc.weight',
  'mlp.c_fc.bias',
  'mlp.c_proj.weight',
  'mlp.c_proj.bias',
];
const wb = (p: string): string[] => [`${p}.weight`, `${p}.bias`];

/** The CLIP part of IRRA under OpenAI CLIP's names (IRRA prefixes them with `base_model.`). */
const CLIP_NAMES: readonly string[] = [
  'positional_embedding',
  'text_projection',
  'token_embedding.weight',
  ...wb('ln_final'),
  'visual.class_embedding',
  'visual.positional_embedding',
  'visual.proj',
  'visual.conv1.weight',
  ...wb('visual.ln_pre'),
  ...wb('visual.ln_post'),
  ...BLOCK.map((b) => `visual.transformer.resblocks.{i}.${b}`),
  ...BLOCK.map((b) => `transformer.resblocks.{i}.${b}`),
];

/** IRRA's fusion module and heads, under their reference names. */
const FUSION_NAMES: readonly string[] = [
  'cross_attn.in_proj_weight',
  'cross_attn.in_proj_bias',
  ...wb('cross_attn.out_proj'),
  ...BLOCK.map((b) => `cross_modal_transformer.resblocks.{i}.${b}`),
  ...wb('ln_pre_t'),
  ...wb('ln_pre_i'),
  ...wb('ln_post'),
  ...wb('mlm_head.dense'),
  ...wb('mlm_head.ln'),
  ...wb('mlm_head.fc'),
  ...wb('classifier'),
];

/** IRRA checkpoints (`best.pth`'s `model`): reference names, passed through. */
export const IRRA_TABLE: NameTable = {
  rules: [...CLIP_NAMES.map((n) => `base_model.${n}`), ...FUSION_NAMES].map((n) => ({ target: n, source: n })),
  ignore: [
    'base_model.logit_scale',
    'base_model.input_resolution',
    'base_model.context_length',
    'base_model.vocab_size',
  ],
};

/** OpenAI / open_clip CLIP state_dicts (`visual.*`, `transformer.*`, ...): prefixed with `base_model.`. */
export const OPENAI_CLIP_TABLE: NameTable = {
  rules: CLIP_NAMES.map((n) => ({ target: `base_model.${n}`, source: n })),
  ignore: ['logit_scale', 'input_resolution', 'context_length', 'vocab_size'],
};

const HF_BLOCK = (tower: 'visual.transformer' | 'transformer', hf: 'vision_model' | 'text_model'): NameRule[] => {
  const t = `base_model.${tower}.resblocks.{i}`;
  const s = `${hf}.encoder.layers.{i}`;
  return [
    {
      target: `${t}.attn.in_proj_weight`,
      source: ['q', 'k', 'v'].map((x) => `${s}.self_attn.${x}_proj.weight`),
      transform: 'concat',
    },
    {
      target: `${t}.attn.in_proj_bias`,
      source: ['q', 'k', 'v'].map((x) => `${s}.self_attn.${x}_proj.bias`),
      transform: 'concat',
    },
    { target: `${t}.attn.out_proj.weight`, source: `${s}.self_attn.out_proj.weight` },
    { target: `${t}.attn.out_proj.bias`, source: `${s}.self_attn.out_proj.bias` },
    { target: `${t}.ln_1.weight`, source: `${s}.layer_norm1.weight` },
    { target: `${t}.ln_1.bias`, source: `${s}.layer_norm1.bias` },
    { target: `${t}.ln_2.weight`, source: `${s}.layer_norm2.weight` },
    { target: `${t}.ln_2.bias`, source: `${s}.layer_norm2.bias` },
    { target: `${t}.mlp.c_fc.weight`, source: `${s}.mlp.fc1.weight` },
    { target: `${t}.mlp.c_fc.bias`, source: `${s}.mlp.fc1.bias` },
    { target: `${t}.mlp.c_proj.weight`, source: `${s}.mlp.fc2.weight` },
    { target: `${t}.mlp.c_proj.bias`, source: `${s}.mlp.fc2.bias` },
  ];
};

/** Hugging Face `CLIPModel` (`vision_model.*`, `text_model.*`, projections as `nn.Linear`). */
export const HF_CLIP_TABLE: NameTable = {
  rules: [
    { target: 'base_model.visual.class_embedding', source: 'vision_model.embeddings.class_embedding' },
    { target: 'base_model.visual.conv1.weight', source: 'vision_model.embeddings.patch_embedding.weight' },
    { target: 'base_model.visual.positional_embedding', source: 'vision_model.embeddings.position_embedding.weight' },
    { target: 'base_model.visual.ln_pre.weight', source: 'vision_model.pre_layrnorm.weight' },
    { target: 'base_model.visual.ln_pre.bias', source: 'vision_model.pre_layrnorm.bias' },
    { target: 'base_model.visual.ln_post.weight', source: 'vision_model.post_layernorm.weight' },
    { target: 'base_model.visual.ln_post.bias', source: 'vision_model.post_layernorm.bias' },
    { target: 'base_model.visual.proj', source: 'visual_projection.weight', transform: 'transpose' },
    ...HF_BLOCK('visual.transformer', 'vision_model'),
    { target: 'base_model.token_embedding.weight', source: 'text_model.embeddings.token_embedding.weight' },
    { target: 'base_model.positional_embedding', source: 'text_model.embeddings.position_embedding.weight' },
    { target: 'base_model.ln_final.weight', source: 'text_model.final_layer_norm.weight' },
    { target: 'base_model.ln_final.bias', source: 'text_model.final_layer_norm.bias' },
    { target: 'base_model.text_projection', source: 'text_projection.weight', transform: 'transpose' },
    ...HF_BLOCK('transformer', 'text_model'),
  ],
  ignore: ['vision_model.embeddings.position_ids', 'text_model.embeddings.position_ids', 'logit_scale'],
};

/** The table of each format. */
export const NAME_TABLES: Readonly<Record<CheckpointFormat, NameTable>> = {
  irra: IRRA_TABLE,
  openai: OPENAI_CLIP_TABLE,
  hf: HF_CLIP_TABLE,
};

/**
 * Guesses a state_dict's format from its key names: `base_model.*` → IRRA, `vision_model.*` /
 * `text_model.*` → Hugging Face, `visual.*` / `transformer.*` → OpenAI CLIP.
 * @throws Error when no format fits, quoting a few keys.
 */
export function detectFormat(names: Iterable<string>): CheckpointFormat {
  const list = [...names];
  if (list.some((n) => n.startsWith('base_model.'))) return 'irra';
  if (list.some((n) => n.startsWith('vision_model.') || n.startsWith('text_model.'))) return 'hf';
  if (list.some((n) => n.startsWith('visual.') || n.startsWith('transformer.'))) return 'openai';
  throw new Error(
    `detectFormat: no known checkpoint layout (IRRA base_model.*, OpenAI CLIP visual.*/transformer.*, Hugging Face vision_model.*/text_model.*) fits keys such as ${list
      .slice(0, 5)
      .map((n) => `'${n}'`)
      .join(', ')}`,
  );
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const compile = (pattern: string): RegExp => new RegExp(`^${escapeRegExp(pattern).replace('\\{i\\}', '(\\d+)')}$`);
const fill = (pattern: string, i: string | undefined): string =>
  i === undefined ? pattern : pattern.replace('{i}', i);

function transposeRaw(name: string, t: RawTensor): RawTensor {
  if (t.shape.length !== 2)
    throw new Error(`convertStateDict: '${name}' must be 2-D to transpose, got shape [${t.shape}]`);
  const [r, c] = t.shape;
  const out = t.data instanceof Float32Array ? new Float32Array(r * c) : new Int32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return { dtype: t.dtype, shape: [c, r], data: out };
}

function concatRaw(names: string[], ts: RawTensor[]): RawTensor {
  const rest = ts[0].shape.slice(1).join(',');
  for (let k = 1; k < ts.length; k++) {
    if (ts[k].shape.slice(1).join(',') !== rest || ts[k].dtype !== ts[0].dtype) {
      throw new Error(
        `convertStateDict: cannot concatenate '${names[0]}' [${ts[0].shape}] ${ts[0].dtype} with '${names[k]}' [${ts[k].shape}] ${ts[k].dtype}`,
      );
    }
  }
  const total = ts.reduce((a, t) => a + t.data.length, 0);
  const out = ts[0].data instanceof Float32Array ? new Float32Array(total) : new Int32Array(total);
  let o = 0;
  for (const t of ts) {
    out.set(t.data, o);
    o += t.data.length;
  }
  return { dtype: ts[0].dtype, shape: [ts.reduce((a, t) => a + t.shape[0], 0), ...ts[0].shape.slice(1)], data: out };
}

/**
 * Maps a checkpoint's tensors to IRRA reference names with the table of `format` (`'auto'`:
 * {@link detectFormat}). A `module.` prefix on every key (DataParallel) is removed first.
 *
 * @returns the tensors under reference names, in PyTorch layout, and the format used. Unchanged
 * tensors are the same objects as in `raw`.
 * @throws Error when a key is neither used by a rule nor ignored, when a rule finds only part of
 * its sources, or when a transform does not fit a shape.
 */
export function convertStateDict(
  raw: Map<string, RawTensor>,
  format: CheckpointFormat | 'auto' = 'auto',
): { tensors: Map<string, RawTensor>; format: CheckpointFormat } {
  let src = raw;
  const keys = [...raw.keys()];
  if (keys.length > 0 && keys.every((k) => k.startsWith('module.'))) {
    src = new Map(keys.map((k) => [k.slice('module.'.length), raw.get(k) as RawTensor]));
  }
  const fmt = format === 'auto' ? detectFormat(src.keys()) : format;
  const table = NAME_TABLES[fmt];
  if (!table)
    throw new Error(
      `convertStateDict(format): expected 'irra', 'openai', 'hf' or 'auto', got ${JSON.stringify(format)}`,
    );
  const used = new Set<string>();
  const out = new Map<string, RawTensor>();
  for (const rule of table.rules) {
    const sources = typeof rule.source === 'string' ? [rule.source] : [...rule.source];
    const re = compile(sources[0]);
    for (const key of src.keys()) {
      const m = re.exec(key);
      if (!m) continue;
      const names = sources.map((s) => fill(s, m[1]));
      const missing = names.filter((n) => !src.has(n));
      if (missing.length > 0) {
        throw new Error(
          `convertStateDict: '${fill(rule.target, m[1])}' needs ${names.join(', ')}; missing ${missing.join(', ')}`,
        );
      }
      const ts = names.map((n) => src.get(n) as RawTensor);
      const target = fill(rule.target, m[1]);
      const transform = rule.transform ?? 'identity';
      out.set(
        target,
        transform === 'identity'
          ? ts[0]
          : transform === 'transpose'
            ? transposeRaw(names[0], ts[0])
            : concatRaw(names, ts),
      );
      for (const n of names) used.add(n);
    }
  }
  const ignore = table.ignore.map(compile);
  const unknown = [...src.keys()].filter((k) => !used.has(k) && !ignore.some((re) => re.test(k)));
  if (unknown.length > 0) {
    throw new Error(
      `convertStateDict: ${unknown.length} key(s) of this ${fmt} checkpoint match no rule and are not ignored: ${unknown
        .slice(0, 8)
        .map((k) => `'${k}'`)
        .join(', ')}${unknown.length > 8 ? ', ...' : ''}`,
    );
  }
  return { tensors: out, format: fmt };
}
