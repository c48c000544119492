/** The IRRA model. */
export { IRRA, type IRRABatch, type IRRACreateOptions, type IRRAForwardOutputs, type IRRALosses } from './irra';
