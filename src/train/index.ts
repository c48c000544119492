/** The reference solver (optimizer with the reference parameter groups, lr schedule) and the training loop. */

export {
  DataParallelGroup,
  type DataParallelOptions,
  type DataParallelPhaseMs,
  type ParallelGradients,
  splitRows,
  type TrainWebWorker,
} from './data_parallel';
export {
  LR_SCHEDULER_DEFAULTS,
  type LRScheduleMode,
  type LRSchedulerOptions,
  LRSchedulerWithWarmup,
  type WarmupMethod,
} from './lr_scheduler';
export {
  buildOptimizer,
  IrraOptimizer,
  type NamedParameters,
  OPTIMIZER_DEFAULTS,
  type OptimizerGroup,
  type OptimizerName,
  type OptimizerOptions,
  type OptimizerState,
  type OptimizerStateStorage,
  type ParamOptimizerState,
  type SlotState,
} from './optimizer';
export {
  type ParamGroupRuleOptions,
  type ParamGroupSpec,
  type ParamHyper,
  referenceParamGroups,
  referenceParamHyper,
} from './param_groups';
export {
  REPORT_DEFAULTS,
  type ReportEvaluation,
  type TrainingReportData,
  trainingReportHtml,
} from './report';
export {
  disposeCheckpoint,
  type EpochLog,
  type LossBatch,
  type StepLog,
  TRAINER_DEFAULTS,
  type TrainableModel,
  Trainer,
  type TrainerCheckpoint,
  type TrainerOptions,
  type TrainResult,
} from './trainer';
export { serveTrainWorker } from './web_train_worker';
