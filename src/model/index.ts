/** The IRRA model. */
export {
  type GradientCheckpointingPlan,
  IRRA,
  type IRRABatch,
  type IRRACreateOptions,
  type IRRAForwardOutputs,
  type IRRALosses,
  totalLoss,
} from './irra';
