/** The composable tfjs layers of IRRA, one tf.layers.Layer subclass per file. */
export { CrossModalEncoder, type CrossModalEncoderArgs } from './cross_modal_encoder';
export { MLM_HEAD_DEFAULT_DEPTH, MlmHead, type MlmHeadArgs } from './mlm_head';
export {
  MULTI_HEAD_ATTENTION_DEFAULTS,
  MultiHeadAttention,
  type MultiHeadAttentionArgs,
} from './multi_head_attention';
export { QUICK_GELU_ALPHA, QuickGELU, quickGelu } from './quick_gelu';
export { ResidualAttentionBlock, type ResidualAttentionBlockArgs } from './residual_attention_block';
export { type CheckIdsOptions, TextTransformer, type TextTransformerArgs, type TokenIds } from './text_transformer';
export { TRANSFORMER_DEFAULTS, Transformer, type TransformerArgs, type TransformerInit } from './transformer';
export { IMAGE_CHANNELS, VisionTransformer, type VisionTransformerArgs } from './vision_transformer';
export type { ReferenceWeight, WeightLayout } from './weights';
