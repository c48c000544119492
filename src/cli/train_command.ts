import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_DEFAULTS, type IRRAConfig, irraConfig, type LossName, type PresetName } from '../config';
import { type DatasetName, loadDataset, type PersonDataset } from '../data/annotations';
import { type CaptionMasking, DataLoader, LOADER_DEFAULTS, rowwiseMask } from '../data/batch';
import { buildTransforms } from '../data/transforms';
import { Evaluator } from '../eval/evaluator';
import { IRRA } from '../model/irra';
import type { ClipTokenizer } from '../tokenizer/clip_tokenizer';
import { buildMlmInputs } from '../tokenizer/mlm_masking';
import {
  type ParsedTrainerCheckpoint,
  parseTrainerCheckpoint,
  serializeTrainerCheckpoint,
} from '../train/checkpoint_io';
import {
  LR_SCHEDULER_DEFAULTS,
  type LRScheduleMode,
  LRSchedulerWithWarmup,
  type WarmupMethod,
} from '../train/lr_scheduler';
import {
  buildOptimizer,
  type IrraOptimizer,
  OPTIMIZER_DEFAULTS,
  type OptimizerName,
  type OptimizerStateStorage,
} from '../train/optimizer';
import { trainingReportHtml } from '../train/report';
import { disposeCheckpoint, type EpochLog, TRAINER_DEFAULTS, Trainer } from '../train/trainer';
import { loadCheckpoint, overlayStateDict } from '../weights/checkpoint';
import { adaptStateDict } from '../weights/pos_embed';
import { checkCommandImages, requireSplit } from './data_check';
import {
  activateBackend,
  COMMON_OPTIONS,
  type CommandIO,
  DATASET_NAMES,
  formatHelp,
  loadTokenizer,
  type OptionGroup,
  PRESET_NAMES,
  parseOptions,
  patchGrid,
  presetDefaultText,
  processIO,
  splitEvaluator,
} from './options';
import { trainProgress } from './progress';

/** Values of `irra-tfjs train`'s options (the reference's names from `utils/options.py`, plus this library's). */
export interface TrainCommandOptions {
  dataset_name: DatasetName;
  root_dir: string;
  batch_size: number;
  test_batch_size: number;
  sampler: 'random' | 'identity';
  num_instance: number;
  img_aug: boolean;
  MLM: boolean;
  caption_masking: CaptionMasking;
  val_dataset: 'test' | 'val';
  verify_images: boolean;
  preset: PresetName;
  pretrain_choice: string;
  img_size?: [number, number];
  stride_size?: number;
  text_length?: number;
  vocab_size: number;
  cmt_depth?: number;
  embed_dim?: number;
  vision_width?: number;
  vision_layers?: number;
  patch_size?: number;
  transformer_width?: number;
  transformer_layers?: number;
  temperature: number;
  loss_names: LossName[];
  id_loss_weight: number;
  mlm_loss_weight: number;
  optimizer: OptimizerName;
  lr: number;
  lr_factor: number;
  bias_lr_factor: number;
  momentum: number;
  optimizer_state: OptimizerStateStorage;
  gradient_checkpointing: boolean;
  weight_decay: number;
  weight_decay_bias: number;
  alpha: number;
  beta: number;
  num_epoch: number;
  milestones: number[];
  gamma: number;
  warmup_factor: number;
  warmup_epochs: number;
  warmup_method: WarmupMethod;
  lrscheduler: LRScheduleMode;
  target_lr: number;
  power: number;
  output_dir: string;
  eval_period: number;
  log_period: number;
  resume: boolean;
  resume_ckpt_file: string;
  seed: number;
  workers?: number;
  report?: string;
  backend?: string;
  vocab?: string;
}

/**
 * Defaults of `irra-tfjs train`: the reference's `utils/options.py` values (batch sizes, losses,
 * solver and schedule through the library's own DEFAULTS objects), used by the code and the help.
 * Architecture options left undefined come from `--preset`.
 */
export const TRAIN_DEFAULTS: Readonly<TrainCommandOptions> = Object.freeze({
  dataset_name: 'CUHK-PEDES',
  root_dir: './data',
  batch_size: 128,
  test_batch_size: 512,
  sampler: LOADER_DEFAULTS.sampler,
  num_instance: LOADER_DEFAULTS.numInstances,
  img_aug: false,
  MLM: false,
  caption_masking: 'reference',
  val_dataset: 'test',
  verify_images: false,
  preset: 'ViT-B/16',
  pretrain_choice: '',
  vocab_size: 49408,
  temperature: CONFIG_DEFAULTS.temperature,
  loss_names: [...CONFIG_DEFAULTS.lossNames],
  id_loss_weight: CONFIG_DEFAULTS.idLossWeight,
  mlm_loss_weight: CONFIG_DEFAULTS.mlmLossWeight,
  optimizer: OPTIMIZER_DEFAULTS.optimizer,
  lr: OPTIMIZER_DEFAULTS.lr,
  lr_factor: OPTIMIZER_DEFAULTS.lrFactor,
  bias_lr_factor: OPTIMIZER_DEFAULTS.biasLrFactor,
  momentum: OPTIMIZER_DEFAULTS.momentum,
  optimizer_state: OPTIMIZER_DEFAULTS.stateStorage,
  gradient_checkpointing: false,
  weight_decay: OPTIMIZER_DEFAULTS.weightDecay,
  weight_decay_bias: OPTIMIZER_DEFAULTS.weightDecayBias,
  alpha: OPTIMIZER_DEFAULTS.betas[0],
  beta: OPTIMIZER_DEFAULTS.betas[1],
  num_epoch: TRAINER_DEFAULTS.numEpochs,
  milestones: [...LR_SCHEDULER_DEFAULTS.milestones],
  gamma: LR_SCHEDULER_DEFAULTS.gamma,
  warmup_factor: LR_SCHEDULER_DEFAULTS.warmupFactor,
  warmup_epochs: LR_SCHEDULER_DEFAULTS.warmupEpochs,
  warmup_method: LR_SCHEDULER_DEFAULTS.warmupMethod,
  lrscheduler: LR_SCHEDULER_DEFAULTS.mode,
  target_lr: LR_SCHEDULER_DEFAULTS.targetLr,
  power: LR_SCHEDULER_DEFAULTS.power,
  output_dir: 'logs',
  eval_period: TRAINER_DEFAULTS.evalPeriod,
  log_period: TRAINER_DEFAULTS.logPeriod,
  resume: false,
  resume_ckpt_file: '',
  seed: 1,
});

/** The data options (shared with `eval` where they apply). */
export const DATA_OPTIONS: OptionGroup = {
  title: 'data',
  options: {
    dataset_name: {
      kind: 'string',
      choices: DATASET_NAMES,
      help: 'dataset; generic = the JSON format of docs/training.md, --root_dir being the file',
    },
    root_dir: {
      kind: 'string',
      arg: 'DIR',
      help: 'folder holding <dataset_name>/ (generic: the annotation file)',
    },
    batch_size: { kind: 'int', min: 1, help: 'training pairs per batch' },
    test_batch_size: { kind: 'int', min: 1, help: 'images or captions per evaluation batch' },
    sampler: { kind: 'string', choices: ['random', 'identity'], help: 'batch sampler' },
    num_instance: { kind: 'int', min: 1, help: 'pairs per identity with --sampler identity' },
    img_aug: { kind: 'flag', help: 'pad + random crop + random erasing on training images' },
    MLM: {
      kind: 'flag',
      help: "accepted for the reference's scripts; masked captions are built whenever --loss_names has mlm",
    },
    caption_masking: {
      kind: 'string',
      choices: ['reference', 'clean'],
      help: "with mlm: 'reference' trains the retrieval losses on the masked captions, as the reference's dataset does (docs/training.md); 'clean' on the captions as written",
    },
    val_dataset: { kind: 'string', choices: ['test', 'val'], help: 'split evaluated during training' },
    verify_images: {
      kind: 'flag',
      help: 'decode every image of train and --val_dataset before starting (that each exists is always checked)',
    },
  },
};

const MODEL_OPTIONS: OptionGroup = {
  title: 'model',
  options: {
    preset: { kind: 'string', choices: PRESET_NAMES, help: 'architecture preset (tiny: for tests)' },
    pretrain_choice: {
      kind: 'string',
      arg: 'PATH',
      help: 'CLIP checkpoint to start from (ViT-B-16.pt, a CLIP state_dict or HF model.safetensors)',
      defaultText: 'none: random initialization, with a warning',
    },
    img_size: { kind: 'size', help: 'image height,width', defaultText: presetDefaultText('imageSize') },
    stride_size: { kind: 'int', min: 1, help: 'patch stride', defaultText: presetDefaultText('strideSize') },
    text_length: { kind: 'int', min: 2, help: 'tokens per caption', defaultText: presetDefaultText('contextLength') },
    vocab_size: { kind: 'int', min: 2, help: "token vocabulary (at least the tokenizer's 49408)" },
    cmt_depth: {
      kind: 'int',
      min: 1,
      help: 'cross-modal transformer blocks',
      defaultText: presetDefaultText('cmtDepth'),
    },
    embed_dim: { kind: 'int', min: 1, help: 'joint embedding width', defaultText: presetDefaultText('embedDim') },
    vision_width: {
      kind: 'int',
      min: 1,
      help: 'vision transformer width',
      defaultText: presetDefaultText('visionWidth'),
    },
    vision_layers: {
      kind: 'int',
      min: 1,
      help: 'vision transformer blocks',
      defaultText: presetDefaultText('visionLayers'),
    },
    patch_size: { kind: 'int', min: 1, help: 'vision patch size', defaultText: presetDefaultText('visionPatchSize') },
    transformer_width: {
      kind: 'int',
      min: 1,
      help: 'text transformer width',
      defaultText: presetDefaultText('transformerWidth'),
    },
    transformer_layers: {
      kind: 'int',
      min: 1,
      help: 'text transformer blocks',
      defaultText: presetDefaultText('transformerLayers'),
    },
    temperature: { kind: 'number', min: 0, exclusiveMin: true, help: 'similarity temperature (logit scale 1/T)' },
    loss_names: { kind: 'losses', help: 'losses joined by + (sdm, itc, cmpm, id, mlm)' },
    id_loss_weight: { kind: 'number', min: 0, help: 'weight of the ID loss' },
    mlm_loss_weight: { kind: 'number', min: 0, help: 'weight of the MLM (IRR) loss' },
  },
};

const SOLVER_OPTIONS: OptionGroup = {
  title: 'solver',
  options: {
    optimizer: { kind: 'string', choices: ['Adam', 'AdamW', 'SGD'], help: 'optimizer' },
    lr: { kind: 'number', min: 0, exclusiveMin: true, help: 'base learning rate' },
    lr_factor: { kind: 'number', min: 0, help: 'lr multiplier of cross-modal, classifier and mlm_head parameters' },
    bias_lr_factor: { kind: 'number', min: 0, help: 'lr multiplier of biases' },
    momentum: { kind: 'number', min: 0, help: 'SGD momentum' },
    optimizer_state: {
      kind: 'string',
      choices: ['backend', 'host'],
      help: 'where Adam/SGD state lives: backend tensors, or JS memory (frees 2× the weights on the backend; same numbers)',
    },
    gradient_checkpointing: {
      kind: 'flag',
      help: 'recompute each block in the backward pass (less memory, ~1/3 more compute; same numbers)',
    },
    weight_decay: { kind: 'number', min: 0, help: 'weight decay (biases: --weight_decay_bias)' },
    weight_decay_bias: { kind: 'number', min: 0, help: 'weight decay of biases' },
    alpha: { kind: 'number', min: 0, help: 'Adam beta1' },
    beta: { kind: 'number', min: 0, help: 'Adam beta2' },
    num_epoch: { kind: 'int', min: 1, help: 'training epochs' },
    milestones: { kind: 'ints', min: 0, help: 'epochs where --lrscheduler step multiplies the lr by --gamma' },
    gamma: { kind: 'number', min: 0, help: 'step decay factor' },
    warmup_factor: { kind: 'number', min: 0, help: 'warmup starts at lr × this' },
    warmup_epochs: { kind: 'int', min: 0, help: 'warmup epochs' },
    warmup_method: { kind: 'string', choices: ['linear', 'constant'], help: 'warmup shape' },
    lrscheduler: { kind: 'string', choices: ['cosine', 'step', 'exp', 'poly', 'linear'], help: 'decay after warmup' },
    target_lr: { kind: 'number', min: 0, help: 'lr that cosine and poly decay towards' },
    power: { kind: 'number', min: 0, help: 'base of exp and poly decay' },
  },
};

const RUN_OPTIONS: OptionGroup = {
  title: 'run',
  options: {
    output_dir: {
      kind: 'string',
      arg: 'DIR',
      help: 'where best.safetensors, last.safetensors and train_options.json go',
    },
    eval_period: { kind: 'int', min: 1, help: 'evaluate every N epochs' },
    log_period: { kind: 'int', min: 1, help: 'log a line every N steps (when not on a terminal)' },
    resume: { kind: 'flag', help: 'continue from --resume_ckpt_file' },
    resume_ckpt_file: { kind: 'string', arg: 'PATH', help: 'a best/last.safetensors written by this command' },
    seed: { kind: 'int', help: 'seed of the initialization, data order, transforms and masks' },
    workers: {
      kind: 'int',
      min: 1,
      help: 'worker threads of data-parallel training (1: this thread); the batch-level losses stay those of the whole batch',
      defaultText: 'the number of cores',
    },
    report: {
      kind: 'string',
      arg: 'PATH',
      help: 'write a self-contained HTML page of losses, accuracies, lr and R1/mAP per epoch (rewritten after each epoch)',
      defaultText: 'none',
    },
  },
};

/** Option groups of `irra-tfjs train`, in help order. */
export const TRAIN_OPTION_GROUPS: readonly OptionGroup[] = [
  DATA_OPTIONS,
  MODEL_OPTIONS,
  SOLVER_OPTIONS,
  RUN_OPTIONS,
  COMMON_OPTIONS,
];

const DESCRIPTION = `
Trains IRRA (the reference's train.py): from a CLIP checkpoint (--pretrain_choice) or from random
initialization, with the reference's losses, optimizer groups and schedule; evaluates text-to-image
retrieval every --eval_period epochs and writes --output_dir/best.safetensors (best t2i R1) and
last.safetensors (weights under reference names, optimizer state, epoch), which --resume continues.`;

/** The help text of `irra-tfjs train`. */
export function trainHelp(): string {
  return formatHelp('train', DESCRIPTION, TRAIN_OPTION_GROUPS, TRAIN_DEFAULTS as unknown as Record<string, unknown>);
}

/** Parses `irra-tfjs train` arguments: the defaults merged with what was given (`null` for `--help`). */
export function parseTrainOptions(argv: readonly string[]): TrainCommandOptions | null {
  const { help, values } = parseOptions('train', TRAIN_OPTION_GROUPS, argv);
  if (help) return null;
  const o = { ...TRAIN_DEFAULTS, ...values } as TrainCommandOptions;
  if (o.resume && !o.resume_ckpt_file) {
    throw new Error('train: --resume needs --resume_ckpt_file PATH (a best/last.safetensors of a previous run)');
  }
  if (o.lrscheduler !== 'step' && o.num_epoch <= o.warmup_epochs) {
    throw new Error(
      `train: --num_epoch (${o.num_epoch}) must exceed --warmup_epochs (${o.warmup_epochs}) with --lrscheduler ${o.lrscheduler}`,
    );
  }
  return o;
}

/** The model configuration the options describe. */
export function trainConfig(o: TrainCommandOptions, numClasses: number): IRRAConfig {
  const pick = <T>(v: T | undefined, key: keyof IRRAConfig) => (v === undefined ? {} : { [key]: v });
  return irraConfig({
    preset: o.preset,
    ...pick(o.img_size, 'imageSize'),
    ...pick(o.stride_size, 'strideSize'),
    ...pick(o.text_length, 'contextLength'),
    ...pick(o.cmt_depth, 'cmtDepth'),
    ...pick(o.embed_dim, 'embedDim'),
    ...pick(o.vision_width, 'visionWidth'),
    ...pick(o.vision_layers, 'visionLayers'),
    ...pick(o.patch_size, 'visionPatchSize'),
    ...pick(o.transformer_width, 'transformerWidth'),
    ...pick(o.transformer_layers, 'transformerLayers'),
    vocabSize: o.vocab_size,
    numClasses,
    temperature: o.temperature,
    lossNames: [...o.loss_names],
    idLossWeight: o.id_loss_weight,
    mlmLossWeight: o.mlm_loss_weight,
  });
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

/** Loads `--dataset_name` from `--root_dir`, prints its sizes and checks the splits and their images. */
async function loadTrainDataset(o: TrainCommandOptions, io: CommandIO, say: (line: string) => void) {
  const dataset = await loadDataset(o.dataset_name, o.root_dir);
  const s = dataset.stats;
  say(
    `${dataset.name}: train ${s.train.ids} ids / ${s.train.images} images / ${s.train.captions} captions; ` +
      `test ${s.test.ids} / ${s.test.images} / ${s.test.captions}; val ${s.val.ids} / ${s.val.images} / ${s.val.captions}`,
  );
  requireSplit('train', null, dataset, 'train');
  requireSplit('train', '--val_dataset', dataset, o.val_dataset);
  await checkCommandImages('train', io, dataset, ['train', o.val_dataset], { decode: o.verify_images });
  return dataset;
}

/** The checkpoint `--resume` continues from (undefined without `--resume`); the caller disposes it. */
async function readResumeCheckpoint(o: TrainCommandOptions): Promise<ParsedTrainerCheckpoint | undefined> {
  if (!o.resume) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(o.resume_ckpt_file));
  } catch (e) {
    throw new Error(`train: --resume_ckpt_file: cannot read '${o.resume_ckpt_file}' (${(e as Error).message})`);
  }
  return parseTrainerCheckpoint(bytes);
}

/** Overlays the CLIP weights of `--pretrain_choice` on `model` (its grid and context length adapted). */
async function loadPretrained(model: IRRA, config: IRRAConfig, o: TrainCommandOptions, say: (line: string) => void) {
  const clip = await loadCheckpoint(o.pretrain_choice).catch((e: Error) => {
    throw new Error(`train: --pretrain_choice '${o.pretrain_choice}': ${e.message}`);
  });
  const adapted = adaptStateDict(clip, {
    grid: patchGrid(config.imageSize, config.visionPatchSize, config.strideSize),
    contextLength: config.contextLength,
  });
  try {
    const fresh = overlayStateDict(model, adapted);
    say(
      `loaded ${adapted.size} tensors from ${o.pretrain_choice}; ${fresh.length} parameters keep their initialization`,
    );
  } finally {
    for (const t of adapted.values()) t.dispose();
  }
}

/** The model of the run: the resumed checkpoint's config, else the options'; CLIP weights when asked. */
async function buildTrainModel(
  o: TrainCommandOptions,
  dataset: PersonDataset,
  resume: ParsedTrainerCheckpoint | undefined,
  io: CommandIO,
  say: (line: string) => void,
): Promise<{ model: IRRA; config: IRRAConfig }> {
  const config = resume?.config ?? trainConfig(o, dataset.numClasses);
  if (config.lossNames.includes('id') && config.numClasses !== dataset.numClasses) {
    throw new Error(
      `train: the model classifies ${config.numClasses} identities but ${dataset.name} has ${dataset.numClasses} training identities`,
    );
  }
  const model = IRRA.create(config, { seed: o.seed, gradientCheckpointing: o.gradient_checkpointing });
  try {
    if (resume) {
      say(`resuming from ${o.resume_ckpt_file} after epoch ${resume.epoch} (best R1 ${resume.bestR1.toFixed(2)})`);
    } else if (o.pretrain_choice) {
      await loadPretrained(model, config, o, say);
    } else {
      io.warn('no --pretrain_choice: training from random initialization (the paper starts from CLIP ViT-B/16)');
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  say(
    `model: ${model.countParams()} parameters, losses ${config.lossNames.join('+')}, image ${config.imageSize.join('×')}`,
  );
  return { model, config };
}

/** The training batches: the sampler, transforms and tokenizer of the options, masked captions with mlm. */
function trainLoader(
  o: TrainCommandOptions,
  dataset: PersonDataset,
  config: IRRAConfig,
  tokenizer: ClipTokenizer,
): DataLoader {
  const mlm = config.lossNames.includes('mlm');
  return new DataLoader(dataset.train, {
    batchSize: o.batch_size,
    sampler: o.sampler,
    numInstances: o.num_instance,
    seed: o.seed,
    contextLength: config.contextLength,
    transform: buildTransforms({ imageSize: config.imageSize, aug: o.img_aug, isTrain: true }),
    encodeText: tokenizer,
    captionMasking: o.caption_masking,
    ...(mlm
      ? {
          mask: rowwiseMask((row, rng) =>
            buildMlmInputs(row, { rng, maskId: tokenizer.maskId, vocabSize: config.vocabSize }),
          ),
        }
      : {}),
  });
}

/** The optimizer of the solver options (the reference's parameter groups). */
function trainOptimizer(model: IRRA, o: TrainCommandOptions): IrraOptimizer {
  return buildOptimizer(model, {
    optimizer: o.optimizer,
    lr: o.lr,
    lrFactor: o.lr_factor,
    biasLrFactor: o.bias_lr_factor,
    weightDecay: o.weight_decay,
    weightDecayBias: o.weight_decay_bias,
    betas: [o.alpha, o.beta],
    momentum: o.momentum,
    stateStorage: o.optimizer_state,
  });
}

/** The lr schedule of the solver options over the optimizer's groups. */
function trainScheduler(optimizer: IrraOptimizer, o: TrainCommandOptions): LRSchedulerWithWarmup {
  return new LRSchedulerWithWarmup({
    baseLrs: optimizer.groups.map((g) => g.baseLr),
    milestones: o.milestones,
    gamma: o.gamma,
    warmupFactor: o.warmup_factor,
    warmupEpochs: o.warmup_epochs,
    warmupMethod: o.warmup_method,
    totalEpochs: o.num_epoch,
    mode: o.lrscheduler,
    targetLr: o.target_lr,
    power: o.power,
  });
}

/** `--report`: rewrites the HTML page of every epoch so far after each epoch. */
function reportWriter(o: TrainCommandOptions, notes: string[]): ((log: EpochLog) => Promise<void>) | undefined {
  const path = o.report;
  if (!path) return undefined;
  const history: EpochLog[] = [];
  return (log) => {
    history.push(log);
    return writeFile(path, trainingReportHtml({ title: `irra-tfjs train: ${o.output_dir}`, notes, history }));
  };
}

/**
 * `irra-tfjs train`: see {@link trainHelp}. Resolves to the exit code; bad options and failures
 * throw an Error naming the option or file. Leaves no tensors behind.
 */
export async function commandTrain(argv: readonly string[], io: CommandIO = processIO()): Promise<number> {
  const o = parseTrainOptions(argv);
  if (!o) {
    io.write(`${trainHelp()}\n`);
    return 0;
  }
  const say = (line: string) => io.write(`${line}\n`);
  const backend = await activateBackend(o.backend);
  const tokenizer = await loadTokenizer('train', o.vocab);
  if (o.vocab_size < tokenizer.vocabSize) {
    throw new Error(`train: --vocab_size must be at least the tokenizer's ${tokenizer.vocabSize}, got ${o.vocab_size}`);
  }
  say(`backend: ${backend}`);
  const dataset = await loadTrainDataset(o, io, say);
  const resume = await readResumeCheckpoint(o);
  let model: IRRA | undefined;
  let optimizer: IrraOptimizer | undefined;
  const progress = trainProgress(io, o.num_epoch);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  try {
    const built = await buildTrainModel(o, dataset, resume, io, say);
    model = built.model;
    const config = built.config;
    const loader = trainLoader(o, dataset, config, tokenizer);
    const evaluator = splitEvaluator(dataset, o.val_dataset, config, tokenizer, o.test_batch_size);
    optimizer = trainOptimizer(model, o);
    const scheduler = trainScheduler(optimizer, o);
    await mkdir(o.output_dir, { recursive: true });
    await writeFile(join(o.output_dir, 'train_options.json'), `${JSON.stringify({ ...o, backend }, null, 2)}\n`);
    say(
      `${loader.numBatches} steps per epoch, epochs ${resume ? resume.epoch + 1 : 1}..${o.num_epoch}, output ${o.output_dir}`,
    );
    const writeReport = reportWriter(o, [
      `${dataset.name}, ${config.lossNames.join('+')}, ${o.optimizer} lr ${o.lr}, batch ${o.batch_size}, seed ${o.seed}, backend ${backend}`,
    ]);
    process.once('SIGINT', onSigint);
    const result = await new Trainer(model, {
      optimizer,
      scheduler,
      trainData: (epoch) => loader.epoch(epoch - 1),
      evaluator,
      numEpochs: o.num_epoch,
      stepsPerEpoch: loader.numBatches,
      evalPeriod: o.eval_period,
      logPeriod: o.log_period,
      ...(resume ? { resumeFrom: resume } : {}),
      saveCheckpoint: (ckpt, tag) =>
        writeAtomically(
          join(o.output_dir, `${tag}.safetensors`),
          serializeTrainerCheckpoint(ckpt, { config, metadata: { dataset: dataset.name, tag } }),
        ),
      signal: controller.signal,
      workers: o.workers ?? 'auto',
      onStep: progress.onStep,
      onEpoch: async (log: EpochLog) => {
        progress.onEpoch(log);
        await writeReport?.(log);
      },
      progress: progress.progress,
      output: progress.output,
    }).train();
    const last = result.history.at(-1)?.evaluation;
    if (last) say(Evaluator.formatTable(last));
    say(
      `${result.cancelled ? 'stopped (interrupted)' : 'done'}: ${result.epochsRun} epochs run, last epoch ${result.lastEpoch}; ` +
        `best t2i R1 ${result.bestR1.toFixed(2)} at epoch ${result.bestEpoch}`,
    );
    return result.cancelled ? 130 : 0;
  } finally {
    progress.stop();
    process.removeListener('SIGINT', onSigint);
    optimizer?.dispose();
    model?.dispose();
    if (resume) disposeCheckpoint(resume);
  }
}
