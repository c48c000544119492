/**
 * The IRRA towers as ONNX graphs, node by node, as the reference computes them
 * (`model/clip_model.py`): the image tower's `encode_image` global feature and the text tower's
 * `encode_text` feature at the end-of-text token. Every shape is static except the batch axis.
 */
import type { IRRAConfig } from '../config';
import { type Attribute, ElemType, GraphBuilder } from './graph_builder';
import type { HostWeight, HostWeights } from './host_weights';

/** Input and output names of the exported graphs (other tools load the files by these names). */
export const ONNX_IO_NAMES = {
  image: { input: 'pixel_values', output: 'image_embeds' },
  text: { input: 'input_ids', output: 'text_embeds' },
} as const;

/** The name of the dynamic batch axis in the graphs' input and output shapes. */
export const BATCH_AXIS = 'batch';

/** First opset with `LayerNormalization`; below it the exporter spells LayerNorm out. */
const LAYER_NORM_OPSET = 17;
/** LayerNorm epsilon of every CLIP LayerNorm. */
const LN_EPS = 1e-5;
/** QuickGELU's slope: `x · sigmoid(1.702 x)`. */
const QUICK_GELU = 1.702;

/** `[rows, cols]` → a new `[cols, rows]`. */
function transpose2d(p: HostWeight): HostWeight {
  const [r, c] = p.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) {
    const row = i * c;
    for (let j = 0; j < c; j++) out[j * r + i] = p.data[row + j];
  }
  return { data: out, shape: [c, r] };
}

/** Builds tower pieces from host weights under their reference names. */
class TowerBuilder {
  readonly g = new GraphBuilder();

  constructor(
    private readonly weights: HostWeights,
    private readonly opset: number,
  ) {}

  /** The host weight `name`. @throws Error naming the missing parameter. */
  weight(name: string): HostWeight {
    const w = this.weights.get(name);
    if (!w) throw new Error(`exportOnnx: the model has no parameter '${name}'`);
    return w;
  }

  /** Parameter `name` as an initializer of its reference shape and name. */
  param(name: string): string {
    const w = this.weight(name);
    return this.g.init(name, w.shape, w.data);
  }

  /** LayerNorm over the last axis with `{prefix}.weight` and `{prefix}.bias`. */
  layerNorm(x: string, prefix: string): string {
    const g = this.g;
    const gamma = this.param(`${prefix}.weight`);
    const beta = this.param(`${prefix}.bias`);
    if (this.opset >= LAYER_NORM_OPSET) {
      return g.op('LayerNormalization', [x, gamma, beta], { axis: { int: -1 }, epsilon: { float: LN_EPS } });
    }
    const mean = (v: string) => g.op('ReduceMean', [v], { axes: { ints: [-1] }, keepdims: { int: 1 } });
    const centred = g.op('Sub', [x, mean(x)]);
    const variance = mean(g.op('Mul', [centred, centred]));
    const normed = g.op('Div', [centred, g.op('Sqrt', [g.op('Add', [variance, g.scalar(LN_EPS)])])]);
    return g.op('Add', [g.op('Mul', [normed, gamma]), beta]);
  }

  /**
   * torch Linear `x Wᵀ + b` with `W` `[out, in]` = `{prefix}.weight` and `b` = `{prefix}.bias`
   * (or the given names); `W` is stored transposed, as `<name>.T` `[in, out]`, for a plain MatMul.
   */
  linear(x: string, prefix: string, weight = `${prefix}.weight`, bias = `${prefix}.bias`): string {
    const w = transpose2d(this.weight(weight));
    const wt = this.g.init(`${weight}.T`, w.shape, w.data);
    return this.g.op('Add', [this.g.op('MatMul', [x, wt]), this.param(bias)]);
  }

  /**
   * One residual attention block on `x` `[B, L, width]`: `x + attn(ln_1(x))`, then
   * `x + c_proj(QuickGELU(c_fc(ln_2(x))))`; `mask` `[L, L]` is added to the attention scores.
   */
  block(x: string, prefix: string, width: number, heads: number, mask?: string): string {
    const g = this.g;
    const d = width / heads;
    const attn = `${prefix}.attn`;
    const qkv = this.linear(
      this.layerNorm(x, `${prefix}.ln_1`),
      attn,
      `${attn}.in_proj_weight`,
      `${attn}.in_proj_bias`,
    );
    // [B, L, 3·width] → [3, B, heads, L, d]; Reshape's 0 copies the batch and length axes.
    const split = g.op('Transpose', [g.op('Reshape', [qkv, g.int64([0, 0, 3, heads, d])])], {
      perm: { ints: [2, 0, 3, 1, 4] },
    });
    const part = (i: number) => g.op('Gather', [split, g.int64([i], [])], { axis: { int: 0 } });
    const q = g.op('Mul', [part(0), g.scalar(1 / Math.sqrt(d))]);
    const kT = g.op('Transpose', [part(1)], { perm: { ints: [0, 1, 3, 2] } });
    let scores = g.op('MatMul', [q, kT]);
    if (mask) scores = g.op('Add', [scores, mask]);
    const probs = g.op('Softmax', [scores], { axis: { int: -1 } });
    const context = g.op('Transpose', [g.op('MatMul', [probs, part(2)])], { perm: { ints: [0, 2, 1, 3] } });
    const merged = g.op('Reshape', [context, g.int64([0, 0, width])]);
    const h = g.op('Add', [x, this.linear(merged, `${attn}.out_proj`)]);
    const fc = this.linear(this.layerNorm(h, `${prefix}.ln_2`), `${prefix}.mlp.c_fc`);
    const act = g.op('Mul', [fc, g.op('Sigmoid', [g.op('Mul', [fc, g.scalar(QUICK_GELU)])])]);
    return g.op('Add', [h, this.linear(act, `${prefix}.mlp.c_proj`)]);
  }

  /**
   * The graph output `name`, float32 `[batch, embedDim]`: LayerNorm `lnPrefix` of the pooled
   * `[batch, width]` features, then `@ projection` (`[width, embedDim]`, no transpose).
   */
  projectToOutput(pooled: string, lnPrefix: string, projection: string, name: string, embedDim: number): void {
    this.g.op('MatMul', [this.layerNorm(pooled, lnPrefix), this.param(projection)], {}, name);
    this.g.output({ name, elemType: ElemType.float32, dims: [BATCH_AXIS, embedDim] });
  }
}

const axis = (n: number): Readonly<Record<string, Attribute>> => ({ axis: { int: n } });

/**
 * The image tower: `pixel_values` float32 NCHW `[batch, 3, H, W]` → `image_embeds` float32
 * `[batch, embedDim]`: bias-free patch conv (kernel `visionPatchSize`, stride `strideSize`), class
 * token, positional embedding, `ln_pre`, the blocks, `ln_post` and `proj` on the class token.
 */
export function imageTowerGraph(config: IRRAConfig, weights: HostWeights, opset: number): GraphBuilder {
  const t = new TowerBuilder(weights, opset);
  const g = t.g;
  const pre = 'base_model.visual';
  const w = config.visionWidth;
  const names = ONNX_IO_NAMES.image;
  const pixels = g.input({
    name: names.input,
    elemType: ElemType.float32,
    dims: [BATCH_AXIS, 3, config.imageSize[0], config.imageSize[1]],
  });
  const conv = g.op('Conv', [pixels, t.param(`${pre}.conv1.weight`)], {
    kernel_shape: { ints: [config.visionPatchSize, config.visionPatchSize] },
    strides: { ints: [config.strideSize, config.strideSize] },
  });
  // [B, width, ny, nx] → [B, ny·nx, width] (row-major over the grid, as the reference flattens).
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.int64([0, w, -1])])], { perm: { ints: [0, 2, 1] } });
  const batch = g.op('Slice', [g.op('Shape', [pixels]), g.int64([0]), g.int64([1])]);
  const clsShape = g.op('Concat', [batch, g.int64([1, w])], axis(0));
  const clsWeight = t.weight(`${pre}.class_embedding`);
  const cls = g.op('Expand', [g.init(`${pre}.class_embedding`, [1, 1, w], clsWeight.data), clsShape]);
  const tokens = g.op('Concat', [cls, patches], axis(1));
  let x = t.layerNorm(g.op('Add', [tokens, t.param(`${pre}.positional_embedding`)]), `${pre}.ln_pre`);
  for (let i = 0; i < config.visionLayers; i++) {
    x = t.block(x, `${pre}.transformer.resblocks.${i}`, w, config.visionHeads);
  }
  const first = g.op('Gather', [x, g.int64([0], [])], axis(1));
  t.projectToOutput(first, `${pre}.ln_post`, `${pre}.proj`, names.output, config.embedDim);
  return g;
}

/**
 * The text tower: `input_ids` int64 `[batch, contextLength]` → `text_embeds` float32
 * `[batch, embedDim]`: token and positional embeddings, the causal blocks, then `ln_final` and
 * `text_projection` at each row's `argmax(ids)` (the end-of-text token, the largest id).
 */
export function textTowerGraph(config: IRRAConfig, weights: HostWeights, opset: number): GraphBuilder {
  const t = new TowerBuilder(weights, opset);
  const g = t.g;
  const pre = 'base_model';
  const l = config.contextLength;
  const names = ONNX_IO_NAMES.text;
  const ids = g.input({ name: names.input, elemType: ElemType.int64, dims: [BATCH_AXIS, l] });
  const causal = new Float32Array(l * l);
  for (let i = 0; i < l; i++) causal.fill(Number.NEGATIVE_INFINITY, i * l + i + 1, (i + 1) * l);
  const mask = g.init('causal_mask', [l, l], causal);
  const embedded = g.op('Gather', [t.param(`${pre}.token_embedding.weight`), ids], axis(0));
  let x = g.op('Add', [embedded, t.param(`${pre}.positional_embedding`)]);
  for (let i = 0; i < config.transformerLayers; i++) {
    x = t.block(x, `${pre}.transformer.resblocks.${i}`, config.transformerWidth, config.transformerHeads, mask);
  }
  const eot = g.op('ArgMax', [ids], { axis: { int: 1 }, keepdims: { int: 1 } });
  const pooled = g.op('GatherND', [x, eot], { batch_dims: { int: 1 } });
  t.projectToOutput(pooled, `${pre}.ln_final`, `${pre}.text_projection`, names.output, config.embedDim);
  return g;
}
