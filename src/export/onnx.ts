/**
 * ONNX export of IRRA's image and text towers: standard `ai.onnx` opsets, a dynamic batch axis,
 * the weights of the model as initializers, serialized with `onnx-proto` (protobufjs).
 */
import type { IRRAConfig } from '../config';
import type { IRRA } from '../model/irra';
import { type HostWeights, hostWeights, hostWeightsSync } from './host_weights';
import { imageTowerGraph, ONNX_IO_NAMES, textTowerGraph } from './towers';

/** Which tower {@link exportOnnx} writes. */
export type OnnxPart = 'image' | 'text';

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions {
  /** The tower: `'image'` (`pixel_values` → `image_embeds`) or `'text'` (`input_ids` → `text_embeds`). */
  part: OnnxPart;
  /**
   * Default-domain opset, from {@link EXPORT_ONNX_DEFAULTS.minOpset} to `maxOpset`. Default 17
   * (the first with `LayerNormalization`; below 17 LayerNorm is written as ReduceMean/Sub/Div).
   */
  opset?: number;
}

/** Defaults and limits of {@link exportOnnx}. */
export const EXPORT_ONNX_DEFAULTS = {
  /** Default opset. */
  opset: 17,
  /** Lowest opset accepted (Softmax over one axis, Unsqueeze-free graph). */
  minOpset: 13,
  /** Highest opset accepted (IR version 10). */
  maxOpset: 21,
  /** `producer_name` of the written models. */
  producer: 'irra-tfjs',
} as const;

/** Validates `options`; returns the part and opset. */
function checkOptions(options: ExportOnnxOptions | undefined): { part: OnnxPart; opset: number } {
  const part = options?.part;
  if (part !== 'image' && part !== 'text') {
    throw new Error(`exportOnnx: options.part must be 'image' or 'text', got ${JSON.stringify(part)}`);
  }
  const opset = options?.opset ?? EXPORT_ONNX_DEFAULTS.opset;
  const { minOpset, maxOpset } = EXPORT_ONNX_DEFAULTS;
  if (!Number.isInteger(opset) || opset < minOpset || opset > maxOpset) {
    throw new Error(`exportOnnx: options.opset must be an integer from ${minOpset} to ${maxOpset}, got ${opset}`);
  }
  return { part, opset };
}

/** Serializes tower `part` of a model with `config` from host weights (reference names and layout). */
export function onnxFromWeights(config: IRRAConfig, weights: HostWeights, part: OnnxPart, opset: number): Uint8Array {
  const graph = part === 'image' ? imageTowerGraph(config, weights, opset) : textTowerGraph(config, weights, opset);
  const names = ONNX_IO_NAMES[part];
  return graph.serialize({
    opset,
    name: `irra_${part}_encoder`,
    producer: EXPORT_ONNX_DEFAULTS.producer,
    doc:
      part === 'image'
        ? `IRRA image tower: ${names.input} float32 NCHW [batch, 3, ${config.imageSize.join(', ')}], CLIP-normalised → ${names.output} float32 [batch, ${config.embedDim}] (encode_image, not normalised)`
        : `IRRA text tower: ${names.input} int64 [batch, ${config.contextLength}], zero-padded, pooled at argmax(ids) → ${names.output} float32 [batch, ${config.embedDim}] (encode_text, not normalised)`,
  });
}

/**
 * Exports one tower of `model` as an ONNX model (`ModelProto` bytes), ready for onnxruntime
 * (`InferenceSession.create(bytes)`), Triton or any ONNX runtime:
 * - `part: 'image'`: input `pixel_values`, float32 NCHW `[batch, 3, H, W]` (CLIP-normalised, at
 *   `model.config.imageSize`); output `image_embeds`, float32 `[batch, embedDim]`: the reference's
 *   `encode_image` (class token after `ln_post` and `proj`), not normalised — what
 *   `model.encodeImage` returns for the same pixels in NHWC.
 * - `part: 'text'`: input `input_ids`, int64 `[batch, contextLength]`, zero-padded; output
 *   `text_embeds`, float32 `[batch, embedDim]`, pooled at each row's `argmax(ids)` (the
 *   end-of-text id), as `model.encodeText`.
 *
 * The batch axis is dynamic (`batch`); every other axis is fixed by the config. The weights are
 * read with `model.stateDict()` and `dataSync()` (the copies are disposed before returning); the
 * model is not changed and no tensor is left behind.
 *
 * @example
 * ```ts
 * const bytes = exportOnnx(model, { part: 'image' });
 * const session = await ort.InferenceSession.create(bytes);
 * ```
 * @throws Error on an unknown part, an opset out of range, or a disposed model.
 */
export function exportOnnx(model: IRRA, options: ExportOnnxOptions): Uint8Array {
  const { part, opset } = checkOptions(options);
  return onnxFromWeights(model.config, hostWeightsSync(model, part), part, opset);
}

/**
 * As {@link exportOnnx}, reading the weights with `await data()`: for backends whose synchronous
 * reads are unreliable (tfjs-webgpu), and to keep a page responsive.
 */
export async function exportOnnxAsync(model: IRRA, options: ExportOnnxOptions): Promise<Uint8Array> {
  const { part, opset } = checkOptions(options);
  return onnxFromWeights(model.config, await hostWeights(model, part), part, opset);
}
