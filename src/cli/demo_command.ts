import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { selectBackend } from '../backends';
import { LOSS_NAMES, type LossName } from '../config';
import type { CaptionMasking } from '../data/batch';
import { trainingReportHtml } from '../train/report';
import { DEMO_DEFAULTS, type DemoResult, formatDemoTable, runDemo } from './demo';
import { type CommandIO, formatHelp, type OptionGroup, parseOptions, processIO } from './options';
import { trainProgress } from './progress';

/** Where `irra-tfjs demo` writes its report unless told otherwise. */
export const DEMO_REPORT = 'demo-report.html';

/** The demo's HTML report: the trainer's curves, the untrained model at epoch 0, the final evaluation. */
export function demoReportHtml(r: DemoResult): string {
  const final = r.history.at(-1);
  const evaluations = [{ epoch: 0, R1: r.untrained.R1, mAP: r.untrained.mAP }];
  if (!final?.evaluation || r.cutShort) evaluations.push({ epoch: r.epochsRun, R1: r.trained.R1, mAP: r.trained.mAP });
  return trainingReportHtml({
    title: 'irra-tfjs demo: SynthPedes',
    notes: [
      `losses ${r.losses.join('+')}, caption masking ${r.captionMasking ?? 'clean'}, ${r.tokenizer} vocabulary of ${r.vocabSize}, backend ${r.backend}`,
      `${r.trainIdentities} training identities; ${r.queries} captions → ${r.galleryImages} images of ${r.testIdentities} held-out identities`,
      `trained R1 ${r.trained.R1.toFixed(2)} (chance ${r.chanceR1.toFixed(2)}, ${(r.trained.R1 / r.chanceR1).toFixed(1)}×), mAP ${r.trained.mAP.toFixed(2)}; ${r.epochsRun} epochs in ${r.trainSeconds.toFixed(0)} s${r.cutShort ? ' (cut short by --max_seconds)' : ''}`,
    ],
    history: r.history,
    evaluations,
  });
}

/** Values of `irra-tfjs demo`'s options (snake_case, as every command's). */
export interface DemoCommandOptions {
  seed: number;
  epochs: number;
  max_seconds: number;
  losses: LossName[];
  identities: number;
  test_identities?: number;
  images_per_identity: number;
  width: number;
  layers: number;
  batch_size: number;
  lr: number;
  eps: number;
  warmup_epochs: number;
  temperature: number;
  caption_masking: CaptionMasking;
  img_aug: boolean;
  workers?: number;
  backend?: string;
  vocab?: string;
  no_clip: boolean;
  report: string;
  no_report: boolean;
  json: boolean;
}

/** Defaults of `irra-tfjs demo`: {@link DEMO_DEFAULTS} under the flags' names. */
export const DEMO_COMMAND_DEFAULTS: Readonly<DemoCommandOptions> = Object.freeze({
  seed: DEMO_DEFAULTS.seed,
  epochs: DEMO_DEFAULTS.epochs,
  max_seconds: DEMO_DEFAULTS.maxSeconds,
  losses: [...DEMO_DEFAULTS.losses],
  identities: DEMO_DEFAULTS.identities,
  images_per_identity: DEMO_DEFAULTS.imagesPerIdentity,
  width: DEMO_DEFAULTS.width,
  layers: DEMO_DEFAULTS.layers,
  batch_size: DEMO_DEFAULTS.batchSize,
  lr: DEMO_DEFAULTS.lr,
  eps: DEMO_DEFAULTS.eps,
  warmup_epochs: DEMO_DEFAULTS.warmupEpochs,
  temperature: DEMO_DEFAULTS.temperature,
  caption_masking: DEMO_DEFAULTS.captionMasking,
  img_aug: DEMO_DEFAULTS.imgAug,
  no_clip: false,
  report: DEMO_REPORT,
  no_report: false,
  json: false,
});

const DEMO_OPTION_GROUPS: readonly OptionGroup[] = [
  {
    title: 'training',
    options: {
      seed: { kind: 'int', help: 'random seed of data, weights and training' },
      epochs: { kind: 'int', min: 1, help: 'training epochs' },
      max_seconds: { kind: 'int', min: 1, help: 'stop training after N seconds even if epochs remain' },
      losses: { kind: 'losses', help: `losses joined by '+', from ${LOSS_NAMES.join(', ')}` },
      identities: { kind: 'int', min: 2, help: 'SynthPedes identities generated (train + held out)' },
      test_identities: {
        kind: 'int',
        min: 1,
        help: 'identities held out for the test gallery (< --identities)',
        defaultText: 'a quarter of --identities',
      },
      images_per_identity: { kind: 'int', min: 1, help: 'images of each identity (2 captions each)' },
      width: { kind: 'int', min: 1, help: 'width of both towers and of the joint embedding' },
      layers: { kind: 'int', min: 1, help: 'blocks of each tower' },
      batch_size: { kind: 'int', min: 1, help: 'training batch size' },
      lr: { kind: 'number', min: 0, exclusiveMin: true, help: 'base learning rate of Adam' },
      eps: { kind: 'number', min: 0, exclusiveMin: true, help: "Adam's epsilon (the reference hard-codes 1e-3)" },
      warmup_epochs: { kind: 'int', min: 0, help: 'epochs of linear warmup from lr/10' },
      temperature: {
        kind: 'number',
        min: 0,
        exclusiveMin: true,
        help: 'temperature of the similarity losses (logit scale 1/temperature)',
      },
      caption_masking: {
        kind: 'string',
        choices: ['reference', 'clean'],
        help: "with mlm, what SDM/ITC/ID see: reference (masked captions, as the reference's dataset) or clean (docs/training.md)",
      },
      img_aug: {
        kind: 'flag',
        help: "pad + random crop + random erasing on training images (the reference's --img_aug)",
      },
      workers: {
        kind: 'int',
        min: 1,
        help: 'worker threads of data-parallel training, 1 = none',
        defaultText: 'the number of cores',
      },
    },
  },
  {
    title: 'runtime',
    options: {
      backend: {
        kind: 'string',
        choices: ['wasm', 'cpu', 'tensorflow'],
        help: 'tfjs backend (tensorflow = tfjs-node)',
        defaultText: 'the first that loads of wasm, cpu',
      },
      vocab: {
        kind: 'string',
        arg: 'PATH',
        help: "CLIP BPE merges file (bpe_simple_vocab_16e6.txt.gz); else ../shared/clip/ if present, else SynthPedes' own word vocabulary",
        defaultText: '$IRRA_CLIP_VOCAB',
      },
      no_clip: { kind: 'flag', help: "use SynthPedes' word vocabulary even when the CLIP file is found" },
      report: {
        kind: 'string',
        arg: 'PATH',
        help: "the run's HTML report: losses, accuracies, lr and R1/mAP per epoch as inline SVG charts (in the current folder)",
      },
      no_report: { kind: 'flag', help: 'write no report' },
      json: { kind: 'flag', help: 'print the results as one JSON object instead of tables' },
      help: { kind: 'flag', help: 'show this help and exit' },
    },
  },
];

const DESCRIPTION = `
Trains a small IRRA on SynthPedes (procedural pedestrians with CUHK-PEDES-style captions) and
evaluates text-to-image retrieval on held-out identities, untrained vs trained vs chance.`;

/** The help text of `irra-tfjs demo`. */
export function demoHelp(): string {
  return formatHelp(
    'demo',
    DESCRIPTION,
    DEMO_OPTION_GROUPS,
    DEMO_COMMAND_DEFAULTS as unknown as Record<string, unknown>,
  );
}

/**
 * Parses `irra-tfjs demo` arguments with the commands' one parser: the defaults merged with what
 * was given (`null` for `--help`).
 * @throws Error naming the option for an unknown option, a missing or malformed value.
 */
export function parseDemoOptions(argv: readonly string[]): DemoCommandOptions | null {
  const { help, values } = parseOptions('demo', DEMO_OPTION_GROUPS, argv);
  if (help) return null;
  return { ...DEMO_COMMAND_DEFAULTS, ...values } as DemoCommandOptions;
}

function findVocabulary(path: string | undefined): string | undefined {
  const candidates = path
    ? [path]
    : [process.env.IRRA_CLIP_VOCAB, resolve('../shared/clip/bpe_simple_vocab_16e6.txt.gz')].filter(
        (p): p is string => !!p,
      );
  for (const p of candidates) if (existsSync(p)) return p;
  if (path) throw new Error(`demo: --vocab: no file at ${path}`);
  return undefined;
}

/**
 * `irra-tfjs demo`: see {@link demoHelp}. Writes to `io` (stdout by default): on a terminal a
 * progress bar per epoch (step / total, it/s, ETA, loss; src/cli/progress.ts), elsewhere the
 * trainer's log lines, and with `--json` nothing but the one JSON line. Returns the exit code.
 */
export async function commandDemo(argv: readonly string[], io: CommandIO = processIO()): Promise<number> {
  const o = parseDemoOptions(argv);
  if (!o) {
    io.write(`${demoHelp()}\n`);
    return 0;
  }
  const seed = o.seed;
  const backend = await selectBackend(o.backend ? [o.backend] : ['wasm', 'cpu']);
  const vocabPath = o.no_clip ? undefined : findVocabulary(o.vocab);
  const json = o.json;
  const say = (line: string) => io.write(`${line}\n`);
  const log = json ? () => {} : say;
  log(`backend: ${backend}`);
  log(vocabPath ? `CLIP vocabulary: ${vocabPath}` : 'CLIP vocabulary not found: using the SynthPedes word vocabulary');
  const progress = json ? null : trainProgress(io, o.epochs);
  const result = await runDemo({
    seed,
    epochs: o.epochs,
    maxSeconds: o.max_seconds,
    losses: o.losses,
    identities: o.identities,
    ...(o.test_identities ? { testIdentities: o.test_identities } : {}),
    imagesPerIdentity: o.images_per_identity,
    width: o.width,
    layers: o.layers,
    batchSize: o.batch_size,
    lr: o.lr,
    eps: o.eps,
    warmupEpochs: o.warmup_epochs,
    temperature: o.temperature,
    captionMasking: o.caption_masking,
    imgAug: o.img_aug,
    ...(o.workers ? { workers: o.workers } : {}),
    ...(vocabPath ? { clipVocabulary: new Uint8Array(readFileSync(vocabPath)) } : {}),
    progress: progress?.progress ?? 'none',
    ...(progress
      ? { trainHooks: { onStep: progress.onStep, onEpoch: progress.onEpoch, output: progress.output } }
      : {}),
    log,
  }).finally(() => progress?.stop());
  result.model.dispose();
  const reportPath = o.no_report ? undefined : o.report;
  if (reportPath) {
    writeFileSync(reportPath, demoReportHtml(result));
    log(`report: ${reportPath}`);
  }
  if (json) {
    const pick = (r: typeof result.trained) => ({ R1: r.R1, R5: r.R5, R10: r.R10, mAP: r.mAP, mINP: r.mINP });
    say(
      JSON.stringify({
        trained: pick(result.trained),
        untrained: pick(result.untrained),
        chanceR1: result.chanceR1,
        seconds: result.seconds,
        trainSeconds: result.trainSeconds,
        epochsRun: result.epochsRun,
        cutShort: result.cutShort,
        backend: result.backend,
        losses: result.losses,
        tokenizer: result.tokenizer,
        captionMasking: result.captionMasking,
        seed,
        ...(reportPath ? { report: reportPath } : {}),
      }),
    );
  } else {
    say(
      `\ntext-to-image retrieval on ${result.testIdentities} held-out identities ` +
        `(${result.queries} captions → ${result.galleryImages} images), ${result.epochsRun} epochs in ${result.trainSeconds.toFixed(0)} s` +
        `${result.cutShort ? ' (cut short by --max_seconds)' : ''}, losses ${result.losses.join('+')}:`,
    );
    say(formatDemoTable(result));
    say(`R1 is ${(result.trained.R1 / result.chanceR1).toFixed(1)}× chance; total ${result.seconds.toFixed(0)} s.`);
  }
  return 0;
}
