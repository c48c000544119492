/**
 * The IRRA losses: SDM, ID and IRR/MLM (the paper's objective) and the ITC and CMPM baselines.
 * Pure functions of tensors; each returns a new scalar that the caller owns.
 */
export { CMPM_DEFAULTS, type CmpmLossOptions, cmpmLoss } from './cmpm';
export { idLoss } from './id';
export { itcLoss } from './itc';
export { mlmLoss } from './mlm';
export { SDM_DEFAULTS, type SdmLossOptions, sdmLoss } from './sdm';
