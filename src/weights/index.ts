/** Weights in and out: safetensors, PyTorch checkpoints, name maps, position embeddings, tfjs format. */
export {
  type CheckpointContainer,
  type LoadCheckpointOptions,
  loadCheckpoint,
  overlayStateDict,
  readCheckpointRaw,
  type StateDictSource,
  type StateDictTarget,
  saveSafetensors,
} from './checkpoint';
export { type ByteDtype, DTYPE_BYTES, float32ToHalfBits } from './dtypes';
export {
  type CheckpointFormat,
  convertStateDict,
  detectFormat,
  HF_CLIP_TABLE,
  IRRA_TABLE,
  NAME_TABLES,
  type NameRule,
  type NameTable,
  type NameTransform,
  OPENAI_CLIP_TABLE,
} from './name_maps';
export { PICKLE_DEFAULTS } from './pickle';
export {
  type AdaptTarget,
  adaptStateDict,
  POS_EMBED_DEFAULTS,
  resizePosEmbed,
  truncateTextPosEmbed,
} from './pos_embed';
export {
  decodeElements,
  parseSafetensors,
  parseSafetensorsFile,
  parseSafetensorsSource,
  type RawSafetensorsEntry,
  type RawTensor,
  rawToTensors,
  readSafetensors,
  readSafetensorsFile,
  SAFETENSORS_DEFAULTS,
  type SafetensorsDtype,
  type SerializeSafetensorsOptions,
  serializeRawSafetensors,
  serializeSafetensors,
} from './safetensors';
export {
  decodeWeightArtifacts,
  encodeWeightArtifacts,
  fileSystemHandler,
  loadWeights,
  type SaveWeightsOptions,
  saveWeights,
  TFJS_IO_DEFAULTS,
} from './tfjs_io';
export { ALLOWED_GLOBALS, readTorchArchive, TORCH_DEFAULTS, type TorchArchiveContents } from './torch';
export type { ZipByteSource } from './zip';
