import { type IRRAConfig, type IRRAConfigOptions, irraConfig, patchGrid } from '../config';

/**
 * The IRRA configuration a state dict describes, as `build_CLIP_from_openai_pretrained` infers it:
 * widths, layers, patch size, context length, vocabulary, embedding width, `cmtDepth`,
 * `numClasses`, and heads = width / 64 (override when different). `overrides` supplies what shapes
 * cannot (`imageSize`, `strideSize`, `lossNames`, `temperature`, loss weights); without
 * `imageSize` the grid must be square with stride = patch.
 *
 * @param shapes reference name → shape (PyTorch layout).
 * @param where the caller's name, for messages.
 * @throws Error when a needed weight is missing or an override contradicts the shapes.
 */
export function inferConfig(
  shapes: ReadonlyMap<string, readonly number[]>,
  overrides: Partial<IRRAConfig>,
  where: string,
): IRRAConfig {
  const need = (name: string): readonly number[] => {
    const s = shapes.get(name);
    if (!s) throw new Error(`${where}: state dict has no '${name}', which the architecture needs`);
    return s;
  };
  const countBlocks = (prefix: string): number => {
    const ids = new Set<string>();
    for (const k of shapes.keys()) {
      if (k.startsWith(prefix)) ids.add(k.slice(prefix.length).split('.')[0]);
    }
    return ids.size;
  };
  const conv = need('base_model.visual.conv1.weight');
  const patch = conv[3] as number;
  const visionWidth = conv[0] as number;
  const posRows = need('base_model.visual.positional_embedding')[0] as number;
  const strideSize: number = overrides.strideSize ?? patch;
  let imageSize = overrides.imageSize;
  if (!imageSize) {
    const g = Math.round(Math.sqrt(posRows - 1));
    if (g * g !== posRows - 1 || strideSize !== patch) {
      throw new Error(
        `${where}: cannot infer imageSize from ${posRows - 1} patch positions; pass overrides.imageSize (and strideSize)`,
      );
    }
    imageSize = [g * patch, g * patch];
  }
  const [ny, nx] = patchGrid(imageSize, patch, strideSize);
  if (ny * nx + 1 !== posRows) {
    throw new Error(
      `${where}: imageSize [${imageSize}] with patch ${patch} and stride ${strideSize} gives ${ny}×${nx}+1 = ${ny * nx + 1} positions, but base_model.visual.positional_embedding has ${posRows}`,
    );
  }
  const hasClassifier = shapes.has('classifier.weight');
  const hasFusion = shapes.has('cross_attn.in_proj_weight');
  const inferredLosses: IRRAConfig['lossNames'] = ['sdm'];
  if (hasClassifier) inferredLosses.push('id');
  if (hasFusion) inferredLosses.push('mlm');
  const lossNames = overrides.lossNames ?? inferredLosses;
  if (lossNames.includes('id') && !hasClassifier) {
    throw new Error(`${where}: overrides.lossNames has 'id' but the state dict has no classifier.weight`);
  }
  if (lossNames.includes('mlm') && !hasFusion) {
    throw new Error(`${where}: overrides.lossNames has 'mlm' but the state dict has no cross_attn weights`);
  }
  const inferred: IRRAConfigOptions = {
    embedDim: need('base_model.text_projection')[1] as number,
    imageSize: [imageSize[0], imageSize[1]],
    visionLayers: countBlocks('base_model.visual.transformer.resblocks.'),
    visionWidth,
    visionPatchSize: patch,
    strideSize,
    contextLength: need('base_model.positional_embedding')[0] as number,
    vocabSize: need('base_model.token_embedding.weight')[0] as number,
    transformerWidth: need('base_model.ln_final.weight')[0] as number,
    transformerLayers: countBlocks('base_model.transformer.resblocks.'),
    cmtDepth: hasFusion ? countBlocks('cross_modal_transformer.resblocks.') : (overrides.cmtDepth ?? 4),
    numClasses: hasClassifier ? (need('classifier.weight')[0] as number) : (overrides.numClasses ?? 1),
    lossNames,
  };
  for (const [k, v] of Object.entries(inferred)) {
    const o = overrides[k as keyof IRRAConfig];
    if (o !== undefined && JSON.stringify(o) !== JSON.stringify(v)) {
      throw new Error(
        `${where}: overrides.${k} = ${JSON.stringify(o)} contradicts the state dict's ${JSON.stringify(v)}`,
      );
    }
  }
  return irraConfig({ preset: 'ViT-B/16', ...overrides, ...inferred });
}
