/**
 * ONNX export of the towers (`irra-tfjs/onnx`): the same names as the root entry exports.
 *
 * @module
 */
export {
  EXPORT_ONNX_DEFAULTS,
  type ExportOnnxOptions,
  exportOnnx,
  exportOnnxAsync,
  type OnnxPart,
} from './onnx';
export { ONNX_FILES, type OnnxPreprocess, onnxPreprocess } from './preprocess';
export { BATCH_AXIS, ONNX_IO_NAMES } from './towers';
