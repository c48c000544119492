/** The IRRA model. */
export {
  type ComputeLossesOptions,
  type GradientCheckpointingPlan,
  type HostOrTensor1D,
  IRRA,
  type IRRABatch,
  type IRRACreateOptions,
  type IRRAForwardOutputs,
  type IRRALosses,
  totalLoss,
} from './irra';
export { IRRA_LOAD_DEFAULTS, type IRRALoadOptions, type LoadProgress, loadIRRA, type ModelSource } from './load';
