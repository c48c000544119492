import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend } from '../backends';
import { LOSS_NAMES, type LossName } from '../config';
import type { CaptionMasking } from '../data/batch';
import { trainingReportHtml } from '../train/report';
import { DEMO_DEFAULTS, type DemoResult, formatDemoTable, runDemo } from './demo';

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
      `trained R1 ${r.trained.R1.toFixed(2)} (chance ${r.chanceR1.toFixed(2)}, ${(r.trained.R1 / r.chanceR1).toFixed(1)}×), mAP ${r.trained.mAP.toFixed(2)}; ${r.epochsRun} epochs in ${r.trainSeconds.toFixed(0)} s${r.cutShort ? ' (cut short by --max-seconds)' : ''}`,
    ],
    history: r.history,
    evaluations,
  });
}

import { integerFlag } from './options';

const HELP = `usage: irra-tfjs demo [options]

Trains a small IRRA on SynthPedes (procedural pedestrians with CUHK-PEDES-style captions) and
evaluates text-to-image retrieval on held-out identities, untrained vs trained vs chance.

options:
  --seed N          random seed of data, weights and training (default ${DEMO_DEFAULTS.seed})
  --epochs N        training epochs (default ${DEMO_DEFAULTS.epochs})
  --max-seconds N   stop training after N seconds even if epochs remain (default ${DEMO_DEFAULTS.maxSeconds})
  --losses L        losses joined by '+', from ${LOSS_NAMES.join(', ')} (default ${DEMO_DEFAULTS.losses.join('+')})
  --identities N    identities generated, a quarter held out (default ${DEMO_DEFAULTS.identities})
  --width N         width of both towers and of the joint embedding (default ${DEMO_DEFAULTS.width})
  --layers N        blocks of each tower (default ${DEMO_DEFAULTS.layers})
  --batch-size N    training batch size (default ${DEMO_DEFAULTS.batchSize})
  --lr X            base learning rate of Adam (default ${DEMO_DEFAULTS.lr})
  --caption-masking M  with mlm, what SDM/ITC/ID see: reference (masked captions, as the reference's
                    dataset) or clean (default ${DEMO_DEFAULTS.captionMasking}; docs/training.md)
  --workers N       worker threads of data-parallel training, 1 = none (default: the number of cores)
  --backend B       tfjs backend: wasm, cpu, tensorflow (tfjs-node) (default: the first that loads of wasm, cpu)
  --vocab PATH      CLIP BPE merges file (bpe_simple_vocab_16e6.txt.gz); default $IRRA_CLIP_VOCAB, else
                    ../shared/clip/ if present, else SynthPedes' own word vocabulary
  --no-clip         use SynthPedes' word vocabulary even when the CLIP file is found
  --report PATH     the run's HTML report: losses, accuracies, lr and R1/mAP per epoch as inline SVG
                    charts (default ${DEMO_REPORT}, in the current folder)
  --no-report       write no report
  --json            print the results as one JSON object instead of tables
  -h, --help        this text`;

function findVocabulary(path: string | undefined): string | undefined {
  const candidates = path
    ? [path]
    : [process.env.IRRA_CLIP_VOCAB, resolve('../shared/clip/bpe_simple_vocab_16e6.txt.gz')].filter(
        (p): p is string => !!p,
      );
  for (const p of candidates) if (existsSync(p)) return p;
  if (path) throw new Error(`--vocab: no file at ${path}`);
  return undefined;
}

function parseLosses(text: string): LossName[] {
  const names = text.split('+').map((s) => s.trim());
  for (const n of names) {
    if (!(LOSS_NAMES as readonly string[]).includes(n)) {
      throw new Error(`--losses: unknown loss '${n}' (known: ${LOSS_NAMES.join(', ')})`);
    }
  }
  return names as LossName[];
}

function captionMasking(v: string | undefined): CaptionMasking {
  if (v === undefined) return DEMO_DEFAULTS.captionMasking;
  if (v !== 'reference' && v !== 'clean') throw new Error(`--caption-masking: expected reference or clean, got '${v}'`);
  return v;
}

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  return integerFlag(name, v, dflt, 1, 'a positive integer');
}

function positiveNumber(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: expected a positive number, got '${v}'`);
  return n;
}

/** `irra-tfjs demo`: see {@link HELP}. Returns the exit code. */
export async function commandDemo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      epochs: { type: 'string' },
      'max-seconds': { type: 'string' },
      losses: { type: 'string' },
      identities: { type: 'string' },
      width: { type: 'string' },
      layers: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      'caption-masking': { type: 'string' },
      workers: { type: 'string' },
      backend: { type: 'string' },
      vocab: { type: 'string' },
      'no-clip': { type: 'boolean' },
      json: { type: 'boolean' },
      report: { type: 'string' },
      'no-report': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const seed = integerFlag('seed', values.seed, DEMO_DEFAULTS.seed);
  const backend = await selectBackend(values.backend ? [values.backend] : ['wasm', 'cpu']);
  const vocabPath = values['no-clip'] ? undefined : findVocabulary(values.vocab);
  const json = values.json === true;
  const log = json ? () => {} : (line: string) => console.log(line);
  log(`backend: ${backend}`);
  log(vocabPath ? `CLIP vocabulary: ${vocabPath}` : 'CLIP vocabulary not found: using the SynthPedes word vocabulary');
  const result = await runDemo({
    seed,
    epochs: positiveInt('epochs', values.epochs, DEMO_DEFAULTS.epochs),
    maxSeconds: positiveInt('max-seconds', values['max-seconds'], DEMO_DEFAULTS.maxSeconds),
    losses: values.losses ? parseLosses(values.losses) : [...DEMO_DEFAULTS.losses],
    identities: positiveInt('identities', values.identities, DEMO_DEFAULTS.identities),
    width: positiveInt('width', values.width, DEMO_DEFAULTS.width),
    layers: positiveInt('layers', values.layers, DEMO_DEFAULTS.layers),
    batchSize: positiveInt('batch-size', values['batch-size'], DEMO_DEFAULTS.batchSize),
    lr: positiveNumber('lr', values.lr, DEMO_DEFAULTS.lr),
    captionMasking: captionMasking(values['caption-masking']),
    ...(values.workers ? { workers: positiveInt('workers', values.workers, 1) } : {}),
    ...(vocabPath ? { clipVocabulary: new Uint8Array(readFileSync(vocabPath)) } : {}),
    progress: json ? 'none' : 'auto',
    log,
  });
  result.model.dispose();
  const reportPath = values['no-report'] ? undefined : (values.report ?? DEMO_REPORT);
  if (reportPath) {
    writeFileSync(reportPath, demoReportHtml(result));
    log(`report: ${reportPath}`);
  }
  if (json) {
    const pick = (r: typeof result.trained) => ({ R1: r.R1, R5: r.R5, R10: r.R10, mAP: r.mAP, mINP: r.mINP });
    console.log(
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
    console.log(
      `\ntext-to-image retrieval on ${result.testIdentities} held-out identities ` +
        `(${result.queries} captions → ${result.galleryImages} images), ${result.epochsRun} epochs in ${result.trainSeconds.toFixed(0)} s` +
        `${result.cutShort ? ' (cut short by --max-seconds)' : ''}, losses ${result.losses.join('+')}:`,
    );
    console.log(formatDemoTable(result));
    console.log(
      `R1 is ${(result.trained.R1 / result.chanceR1).toFixed(1)}× chance; total ${result.seconds.toFixed(0)} s.`,
    );
  }
  return 0;
}
