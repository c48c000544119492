/**
 * irra-tfjs: IRRA (CVPR 2023) text-to-image person retrieval on TensorFlow.js.
 *
 * This file is the package's only public surface. Importing it also imports
 * `@tensorflow/tfjs-layers`, which registers the gradients that training needs.
 */
import '@tensorflow/tfjs-layers';

export * from './backends';
export {
  CONFIG_DEFAULTS,
  type IRRAConfig,
  type IRRAConfigOptions,
  irraConfig,
  LOSS_NAMES,
  type LossName,
  type PresetName,
  patchGrid,
  presets,
  validateConfig,
} from './config';
export * from './data/index';
export {
  buildSynthVocabulary,
  GARMENT_COLORS,
  generateSynthPedes,
  HAIR_COLORS,
  type PersonAttributes,
  SYNTHPEDES_DEFAULTS,
  type SynthPedes,
  type SynthPedesDataset,
  type SynthPedesOptions,
  type SynthRegions,
  type SynthSample,
  type SynthVariation,
  type SynthVocabulary,
  synthPedesAsDataset,
  toNormalizedNHWC,
} from './data/synthpedes';
export {
  type CaptionBatch,
  EVALUATOR_DEFAULTS,
  type EvaluationData,
  type EvaluationResult,
  Evaluator,
  type EvaluatorOptions,
  type ImageBatch,
  type RetrievalEncoder,
} from './eval/evaluator';
export { type PidsLike, RANK_DEFAULTS, type RankOptions, type RankResult, rank, rankAsync } from './eval/rank';
export {
  encodeGalleryInWorkers,
  GALLERY_WORKERS_DEFAULTS,
  GalleryWorkerPool,
  type GalleryWorkerPoolOptions,
  type GalleryWorkersOptions,
} from './eval/workers';
export * from './export/index';
export * from './layers/index';
export {
  CMPM_DEFAULTS,
  type CmpmLossOptions,
  cmpmLoss,
  idLoss,
  itcLoss,
  mlmLoss,
  SDM_DEFAULTS,
  type SdmLossOptions,
  sdmLoss,
} from './losses';
export { crossAttentionMap, crossAttentionWeights } from './model/cross_attention_map';
export * from './model/index';
export { L2_EPSILON, l2NormalizeRows } from './ops/normalize';
export {
  createOnnxEngine,
  ONNX_ENGINE_DEFAULTS,
  type OnnxEngine,
  type OnnxEngineOptions,
} from './search/engines/onnxruntime';
export type { OnnxRuntimeModule, OnnxRuntimePackage, OrtSession, OrtTensor } from './search/engines/onnxruntime_loader';
export { createTfjsEngine } from './search/engines/tfjs';
export {
  clipPreprocessing,
  type ImageDecoder,
  type ImageSource,
  type Preprocessing,
  type RgbaPixels,
} from './search/image_source';
export {
  type AddImagesOptions,
  type AddImagesProgress,
  type AddImagesReport,
  type Explanation,
  type LoadIndexOptions,
  modelFingerprint,
  PERSON_SEARCH_DEFAULTS,
  PersonSearch,
  type PersonSearchOptions,
  type SaveIndexOptions,
  type SearchOptions,
  type SearchQuery,
} from './search/person_search';
export {
  LANCE_STORE_DEFAULTS,
  type LanceGalleryStore,
  type LanceIndexOptions,
  type LanceStoreOptions,
  lanceStore,
} from './search/stores/lancedb';
export {
  MEMORY_STORE_DEFAULTS,
  type MemoryStoreLayout,
  type MemoryStoreOptions,
  memoryStore,
} from './search/stores/memory';
export type {
  EncoderEngine,
  GalleryStore,
  RowMetadata,
  SearchHit,
  StoredRows,
  StoreSearchOptions,
} from './search/types';
export * from './tokenizer/index';
export * from './train/checkpoint_io';
export * from './train/index';
export * from './weights/index';
