/**
 * Data pipeline: dataset annotation parsers, image decoding, the reference's transforms,
 * samplers, batching and a prefetching loader.
 */
export {
  assertSplitNotEmpty,
  DATASET_LAYOUTS,
  type DatasetName,
  type EvalSplit,
  joinPath,
  loadDataset,
  type PersonDataset,
  parseCuhkPedes,
  parseGenericAnnotations,
  parseIcfgPedes,
  parseRstpReid,
  type SplitName,
  type TrainSample,
} from './annotations';
export {
  type BatchOptions,
  buildBatch,
  type CaptionEncoder,
  type CaptionMasking,
  DataLoader,
  type DataLoaderOptions,
  disposeBatch,
  type EvalBatchOptions,
  encodeCaptions,
  evaluationBatches,
  type ImageLoader,
  LOADER_DEFAULTS,
  type MaskFn,
  rowwiseMask,
  type TrainBatch,
} from './batch';
export { type DecodedImage, decodeImage, decodeImageBrowser, readImageFile, sniffImageFormat } from './image';
export { type BatchSampler, RandomIdentitySampler, RandomSampler } from './samplers';
export {
  applyTransform,
  buildTransforms,
  type ImageTransform,
  normalizeImage,
  resizeBilinearPil,
  sampleTransformParams,
  TRANSFORM_DEFAULTS,
  type TransformOptions,
  type TransformParams,
} from './transforms';
export {
  type CheckImagesOptions,
  checkDatasetImages,
  DatasetImagesError,
  IMAGE_CHECK_DEFAULTS,
  type ImageCheckProgress,
  type ImageCheckReport,
  type ImageProblem,
} from './verify';
