import { loadDataset } from '../data/annotations';
import { Evaluator } from '../eval/evaluator';
import { checkCommandImages, requireSplit } from './data_check';
import {
  activateBackend,
  COMMON_OPTIONS,
  type CommandIO,
  DATASET_NAMES,
  formatHelp,
  loadModel,
  loadTokenizer,
  type OptionGroup,
  parseOptions,
  processIO,
  splitEvaluator,
} from './options';

/** Values of `irra-tfjs eval`'s options. */
export interface EvalCommandOptions {
  checkpoint: string;
  dataset_name: (typeof DATASET_NAMES)[number];
  root_dir: string;
  val_dataset: 'test' | 'val';
  test_batch_size: number;
  img_size: [number, number];
  stride_size: number;
  verify_images: boolean;
  i2t: boolean;
  json: boolean;
  backend?: string;
  vocab?: string;
}

/** Defaults of `irra-tfjs eval` (the reference's `utils/options.py` values where it has the option). */
export const EVAL_DEFAULTS: Readonly<Omit<EvalCommandOptions, 'checkpoint'>> = Object.freeze({
  dataset_name: 'CUHK-PEDES',
  root_dir: './data',
  val_dataset: 'test',
  test_batch_size: 512,
  img_size: [384, 128] as [number, number],
  stride_size: 16,
  verify_images: false,
  i2t: false,
  json: false,
});

/** Options of a checkpoint to load, shared by `eval` and `encode`. */
export const CHECKPOINT_OPTIONS: OptionGroup = {
  title: 'model',
  options: {
    checkpoint: {
      kind: 'string',
      arg: 'PATH',
      help: 'best/last.safetensors of irra-tfjs train, an IRRA best.pth, or CLIP/IRRA safetensors (required)',
    },
    img_size: {
      kind: 'size',
      help: 'image height,width of a .pth/.safetensors of weights (trainer checkpoints store theirs)',
    },
    stride_size: { kind: 'int', min: 1, help: 'patch stride of a .pth/.safetensors of weights' },
  },
};

/** Option groups of `irra-tfjs eval`. */
export const EVAL_OPTION_GROUPS: readonly OptionGroup[] = [
  CHECKPOINT_OPTIONS,
  {
    title: 'data',
    options: {
      dataset_name: { kind: 'string', choices: DATASET_NAMES, help: 'dataset (generic: --root_dir is the JSON file)' },
      root_dir: { kind: 'string', arg: 'DIR', help: 'folder holding <dataset_name>/ (generic: the annotation file)' },
      val_dataset: { kind: 'string', choices: ['test', 'val'], help: 'split to evaluate' },
      test_batch_size: { kind: 'int', min: 1, help: 'images or captions per batch' },
      verify_images: {
        kind: 'flag',
        help: 'decode every image of the split before starting (that each exists is always checked)',
      },
    },
  },
  {
    title: 'output',
    options: {
      i2t: { kind: 'flag', help: 'also rank image-to-text' },
      json: { kind: 'flag', help: 'print the results as one JSON object instead of the table' },
    },
  },
  COMMON_OPTIONS,
];

const DESCRIPTION = `
Evaluates text-to-image retrieval (the reference's test.py): encodes every caption and gallery image
of the split, ranks by cosine similarity and prints R1, R5, R10, mAP and mINP.`;

/** The help text of `irra-tfjs eval`. */
export function evalHelp(): string {
  return formatHelp('eval', DESCRIPTION, EVAL_OPTION_GROUPS, EVAL_DEFAULTS as unknown as Record<string, unknown>);
}

/** Parses `irra-tfjs eval` arguments (`null` for `--help`). */
export function parseEvalOptions(argv: readonly string[]): EvalCommandOptions | null {
  const { help, values } = parseOptions('eval', EVAL_OPTION_GROUPS, argv);
  if (help) return null;
  if (!values.checkpoint) throw new Error('eval: --checkpoint PATH is required');
  return { ...EVAL_DEFAULTS, ...values } as EvalCommandOptions;
}

/** `irra-tfjs eval`: see {@link evalHelp}. Resolves to the exit code; leaves no tensors behind. */
export async function commandEval(argv: readonly string[], io: CommandIO = processIO()): Promise<number> {
  const o = parseEvalOptions(argv);
  if (!o) {
    io.write(`${evalHelp()}\n`);
    return 0;
  }
  const backend = await activateBackend(o.backend);
  const tokenizer = await loadTokenizer('eval', o.vocab);
  const dataset = await loadDataset(o.dataset_name, o.root_dir);
  requireSplit('eval', '--val_dataset', dataset, o.val_dataset);
  await checkCommandImages('eval', io, dataset, [o.val_dataset], { decode: o.verify_images, quiet: o.json });
  const { model, kind, epoch } = await loadModel('eval', o.checkpoint, {
    imageSize: o.img_size,
    strideSize: o.stride_size,
  });
  try {
    const evaluator = splitEvaluator(dataset, o.val_dataset, model.config, tokenizer, o.test_batch_size, {
      i2t: o.i2t,
    });
    const result = await evaluator.evaluate(model);
    if (o.json) {
      io.write(
        `${JSON.stringify({ dataset: dataset.name, split: o.val_dataset, checkpoint: o.checkpoint, backend, ...result })}\n`,
      );
    } else {
      io.write(
        `${dataset.name} ${o.val_dataset}: ${result.numQueries} captions → ${result.numGallery} images; ` +
          `${o.checkpoint} (${kind === 'trainer' ? `trainer checkpoint, epoch ${epoch}` : 'weights'}), backend ${backend}\n`,
      );
      io.write(`${Evaluator.formatTable(result)}\n`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}
