import * as tf from '@tensorflow/tfjs-core';
import { irraConfig, type LossName } from '../config';
import type { DecodedImage } from '../data/image';
import { type CaptionEncoder, type CaptionMasking, DataLoader, rowwiseMask, type TrainSample } from '../data/index';
import { buildSynthVocabulary, generateSynthPedes, type SynthPedes, type SynthSample } from '../data/synthpedes';
import { buildTransforms } from '../data/transforms';
import { type EvaluationResult, Evaluator, type RetrievalEncoder } from '../eval/evaluator';
import type { RankResult } from '../eval/rank';
import { IRRA } from '../model/irra';
import { ClipTokenizer } from '../tokenizer/clip_tokenizer';
import { buildMlmInputs } from '../tokenizer/index';
import { LRSchedulerWithWarmup } from '../train/lr_scheduler';
import { buildOptimizer } from '../train/optimizer';
import { type EpochLog, Trainer, type TrainerOptions } from '../train/trainer';

/** Defaults of {@link runDemo}: a run of a few minutes on 2 cores with the wasm backend. */
export const DEMO_DEFAULTS = {
  seed: 0,
  epochs: 8,
  maxSeconds: 900,
  losses: ['sdm', 'id', 'mlm'] as LossName[],
  identities: 320,
  imagesPerIdentity: 4,
  captionsPerImage: 2,
  imageSize: [64, 24] as [number, number],
  batchSize: 32,
  lr: 1.5e-3,
  /** Adam's epsilon. The reference hard-codes 1e-3, made for fine-tuning pretrained CLIP; from scratch it stalls (docs/demo.md). */
  eps: 1e-8,
  /** Epochs of linear warmup from lr/10 (the reference's `--warmup_epochs`; 0 when `epochs` is 1). */
  warmupEpochs: 1,
  /** Temperature of the similarity losses (the reference's `--temperature`, 0.02 there; logit scale 1/temperature). */
  temperature: 0.1,
  width: 64,
  layers: 2,
  /** Clean captions for SDM/ID: tied with the reference's masked ones in this recipe, ahead in the previous one (docs/training.md). */
  captionMasking: 'clean' as CaptionMasking,
  /** The reference's `--img_aug` (pad 10 + random crop + random erasing) on top of the random flip. */
  imgAug: false,
  /** Evaluate on the held-out identities every this many epochs (for the report's R1/mAP curve). */
  evalPeriod: 2,
} as const;

/** Options of {@link runDemo}; every field defaults to {@link DEMO_DEFAULTS}. */
export interface DemoOptions {
  seed?: number;
  /** Training epochs (fixed, so the same seed gives the same table). */
  epochs?: number;
  /** Hard cap on training time; a run cut short by it is reported as such (and is not repeatable). */
  maxSeconds?: number;
  losses?: LossName[];
  /** SynthPedes identities in all (train + test). */
  identities?: number;
  /** Identities held out for the test gallery, 1 ≤ testIdentities < identities; default a quarter of `identities`, rounded. */
  testIdentities?: number;
  imagesPerIdentity?: number;
  captionsPerImage?: number;
  imageSize?: [number, number];
  batchSize?: number;
  lr?: number;
  /** Adam's epsilon (see {@link DEMO_DEFAULTS}). */
  eps?: number;
  /** Epochs of linear warmup from lr/10 (an integer; the scheduler steps once per epoch, as the reference). */
  warmupEpochs?: number;
  /** Temperature of the similarity losses (logit scale 1/temperature). */
  temperature?: number;
  /** Width of both towers and of the joint embedding. */
  width?: number;
  /** Blocks of each tower. */
  layers?: number;
  /** What the retrieval losses see with 'mlm' ({@link CaptionMasking}; docs/training.md measures both). */
  captionMasking?: CaptionMasking;
  /** Training images also get the reference's `--img_aug` augmentations (pad + crop + erasing), not only the flip. */
  imgAug?: boolean;
  /** Evaluate every this many epochs during training (and always after the last). */
  evalPeriod?: number;
  /** Worker threads of data-parallel training (1: this thread); default: one per core (Node). */
  workers?: number | 'auto';
  /** The CLIP BPE merges file (bytes); without it captions use SynthPedes' own word vocabulary. */
  clipVocabulary?: Uint8Array;
  /** Progress output (default: the trainer's, to stdout). */
  progress?: 'auto' | 'bar' | 'lines' | 'none';
  /** Training hooks passed to the Trainer (the CLI's progress bar, src/cli/progress.ts), and where its output goes. */
  trainHooks?: Pick<TrainerOptions, 'onStep' | 'onEpoch' | 'output'>;
  /** Called with human-readable status lines. */
  log?: (line: string) => void;
}

/** What {@link runDemo} measured. */
export interface DemoResult {
  backend: string;
  losses: LossName[];
  /** What the retrieval losses saw with 'mlm'. */
  captionMasking?: CaptionMasking;
  tokenizer: 'clip-bpe' | 'synthpedes-words';
  vocabSize: number;
  trainIdentities: number;
  testIdentities: number;
  galleryImages: number;
  queries: number;
  /** Expected R1 (percent) of a random ranking: mean over queries of matching images / gallery size. */
  chanceR1: number;
  untrained: RankResult;
  trained: RankResult;
  epochsRun: number;
  /** Per-epoch means of every loss and accuracy. */
  history: EpochLog[];
  /** True when `maxSeconds` stopped training before `epochs`. */
  cutShort: boolean;
  trainSeconds: number;
  seconds: number;
  /** The trained model (the caller owns it: `dispose()` it). */
  model: IRRA;
  /** Encodes captions the way the model was trained (for exports and the web page). */
  encodeText: (texts: string[]) => Int32Array;
  contextLength: number;
  test: SynthSample[];
}

/** A vocabulary over the CLIP BPE ids that the corpus uses, with CLIP's special-token layout at its end. */
function compactClipVocabulary(tokenizer: ClipTokenizer, corpus: string[]) {
  const rows = tokenizer.tokenizeToArray(corpus, { contextLength: 77, truncate: true });
  const used = new Set<number>();
  for (const id of rows) if (id !== 0 && id !== tokenizer.sotId && id !== tokenizer.eotId) used.add(id);
  const ids = [...used].sort((a, b) => a - b);
  const toCompact = new Map<number, number>();
  for (const [i, id] of ids.entries()) toCompact.set(id, i + 1);
  const vocabSize = ids.length + 4; // pad 0, words, mask, sot, eot
  const sot = vocabSize - 2;
  const eot = vocabSize - 1;
  toCompact.set(tokenizer.sotId, sot);
  toCompact.set(tokenizer.eotId, eot);
  let longest = 0;
  for (let r = 0; r < corpus.length; r++) {
    let n = 0;
    while (n < 77 && rows[r * 77 + n] !== 0) n++;
    longest = Math.max(longest, n);
  }
  const contextLength = Math.ceil(longest / 4) * 4;
  const encode = (texts: string[]): Int32Array => {
    const full = tokenizer.tokenizeToArray(texts, { contextLength, truncate: true });
    return full.map((id) => (id === 0 ? 0 : (toCompact.get(id) ?? 0)));
  };
  return { vocabSize, maskId: vocabSize - 3, contextLength, encode };
}

function wordVocabulary(corpus: string[]) {
  const vocab = buildSynthVocabulary(corpus);
  let longest = 0;
  for (const c of corpus) longest = Math.max(longest, vocab.encode(c).length + 2);
  const contextLength = Math.ceil(longest / 4) * 4;
  return {
    vocabSize: vocab.vocabSize,
    maskId: vocab.maskId,
    contextLength,
    encode: (texts: string[]) => vocab.toIds(texts, contextLength),
  };
}

/** Test split as Evaluator input: every caption a query, every image in the gallery. */
function evaluationData(test: SynthSample[], encode: (t: string[]) => Int32Array, ctx: number, size: [number, number]) {
  const transform = buildTransforms({ imageSize: size, isTrain: false });
  const batch = 64;
  const captions = test.flatMap((s) => s.captions.map((c) => ({ pid: s.pid, c })));
  return {
    captions: function* () {
      for (let i = 0; i < captions.length; i += batch) {
        const part = captions.slice(i, i + batch);
        yield {
          pids: part.map((p) => p.pid),
          captionIds: tf.tensor2d(encode(part.map((p) => p.c)), [part.length, ctx], 'int32'),
        };
      }
    },
    gallery: function* () {
      for (let i = 0; i < test.length; i += batch) {
        const part = test.slice(i, i + batch);
        const images = tf.tidy(
          () =>
            tf.stack(part.map((s) => transform({ data: s.pixels, height: s.height, width: s.width }))) as tf.Tensor4D,
        );
        yield { pids: part.map((s) => s.pid), images };
      }
    },
  };
}

/** Expected R1 of a random ranking, in percent. */
function chanceR1(test: SynthSample[]): number {
  const perPid = new Map<number, number>();
  for (const s of test) perPid.set(s.pid, (perPid.get(s.pid) ?? 0) + 1);
  let sum = 0;
  let n = 0;
  for (const s of test) {
    for (let k = 0; k < s.captions.length; k++) {
      sum += (perPid.get(s.pid) ?? 0) / test.length;
      n++;
    }
  }
  return (100 * sum) / n;
}

/**
 * The SynthPedes generation of a demo run: `seed`, `identities`, `imagesPerIdentity`,
 * `captionsPerImage` and `imageSize` of `options` (each defaulting to {@link DEMO_DEFAULTS}), and
 * its caption corpus (every train then test caption, in order), from which the run's vocabulary
 * is built. The same options give byte-identical data, so an export can rebuild what a run saw.
 *
 * @example
 * const { data, corpus } = demoSynthPedes({ seed: 1 });
 */
export function demoSynthPedes(options: DemoOptions = {}): { data: SynthPedes; corpus: string[] } {
  const o = { ...DEMO_DEFAULTS, ...options };
  const testIdentities = o.testIdentities ?? Math.max(1, Math.round(o.identities / 4));
  if (!Number.isInteger(testIdentities) || testIdentities < 1 || testIdentities >= o.identities) {
    throw new Error(
      `runDemo: testIdentities must be an integer in [1, identities - 1] = [1, ${o.identities - 1}], got ${testIdentities}`,
    );
  }
  const data = generateSynthPedes({
    seed: o.seed,
    numIdentities: o.identities,
    imagesPerIdentity: o.imagesPerIdentity,
    captionsPerImage: o.captionsPerImage,
    height: o.imageSize[0],
    width: o.imageSize[1],
    testFraction: testIdentities / o.identities,
  });
  return { data, corpus: [...data.train, ...data.test].flatMap((s) => s.captions) };
}

/**
 * The main job: generates SynthPedes, trains a small IRRA on its training identities with the
 * chosen losses, and evaluates text→image retrieval on the held-out identities before and after
 * training. Runs on whichever tfjs backend is active.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const o = { ...DEMO_DEFAULTS, ...options };
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const { data, corpus } = demoSynthPedes(o);
  const text = o.clipVocabulary
    ? compactClipVocabulary(ClipTokenizer.fromGzip(o.clipVocabulary), corpus)
    : wordVocabulary(corpus);
  log(
    `SynthPedes: ${data.trainIdentities.length} training identities (${data.train.length} images), ` +
      `${data.testIdentities.length} held out (${data.test.length} images); ` +
      `${o.clipVocabulary ? 'CLIP BPE' : 'word'} vocabulary of ${text.vocabSize}, context ${text.contextLength}`,
  );

  const config = irraConfig({
    preset: 'tiny',
    imageSize: o.imageSize,
    visionPatchSize: 8,
    strideSize: 8,
    visionWidth: o.width,
    visionLayers: o.layers,
    embedDim: o.width,
    transformerWidth: o.width,
    transformerLayers: o.layers,
    cmtDepth: 1,
    contextLength: text.contextLength,
    vocabSize: text.vocabSize,
    numClasses: data.trainIdentities.length,
    lossNames: o.losses,
    temperature: o.temperature,
  });
  const model = IRRA.create(config, { seed: o.seed });
  const evaluator = new Evaluator(evaluationData(data.test, text.encode, text.contextLength, o.imageSize));
  const untrained = (await evaluator.evaluate(model as RetrievalEncoder)).t2i;

  const pairs: TrainSample[] = data.train.flatMap((s) =>
    s.captions.map((caption) => ({ pid: s.pid, imageId: s.imageId, imgPath: `synthpedes:${s.imageId}`, caption })),
  );
  const encodeText: CaptionEncoder = (texts) => text.encode(texts);
  const loader = new DataLoader(pairs, {
    batchSize: o.batchSize,
    seed: o.seed,
    contextLength: text.contextLength,
    transform: buildTransforms({ imageSize: o.imageSize, isTrain: true, aug: o.imgAug }),
    encodeText,
    captionMasking: o.captionMasking,
    mask: rowwiseMask((row, rng) => buildMlmInputs(row, { rng, maskId: text.maskId, vocabSize: text.vocabSize })),
    loadImage: async (s): Promise<DecodedImage> => {
      const img = data.train[s.imageId];
      return { data: img.pixels, height: img.height, width: img.width };
    },
  });
  const optimizer = buildOptimizer(model, { lr: o.lr, eps: o.eps });
  const scheduler = new LRSchedulerWithWarmup({
    baseLrs: optimizer.groups.map((g) => g.baseLr),
    warmupEpochs: o.epochs > 1 ? o.warmupEpochs : 0,
    totalEpochs: o.epochs,
    mode: 'cosine',
  });
  const controller = new AbortController();
  const deadline = performance.now() + o.maxSeconds * 1000;
  const tTrain = performance.now();
  const run = await new Trainer(model, {
    optimizer,
    scheduler,
    trainData: (epoch) => loader.epoch(epoch - 1),
    numEpochs: o.epochs,
    stepsPerEpoch: loader.numBatches,
    evaluator,
    evalPeriod: o.evalPeriod,
    progress: o.progress ?? 'auto',
    logPeriod: 10,
    signal: controller.signal,
    workers: o.workers ?? 'auto',
    ...o.trainHooks,
    onStep: (log) => {
      o.trainHooks?.onStep?.(log);
      if (performance.now() > deadline) controller.abort();
    },
  }).train();
  const trainSeconds = (performance.now() - tTrain) / 1000;
  optimizer.dispose();
  const last = run.history.at(-1);
  const trained: EvaluationResult =
    last && !run.cancelled && last.evaluation ? last.evaluation : await evaluator.evaluate(model);
  return {
    backend: tf.getBackend(),
    losses: [...o.losses],
    captionMasking: o.captionMasking,
    tokenizer: o.clipVocabulary ? 'clip-bpe' : 'synthpedes-words',
    vocabSize: text.vocabSize,
    trainIdentities: data.trainIdentities.length,
    testIdentities: data.testIdentities.length,
    galleryImages: data.test.length,
    queries: trained.numQueries,
    chanceR1: chanceR1(data.test),
    untrained,
    trained: trained.t2i,
    epochsRun: run.epochsRun,
    history: run.history,
    cutShort: run.cancelled,
    trainSeconds,
    seconds: (performance.now() - t0) / 1000,
    model,
    encodeText: text.encode,
    contextLength: text.contextLength,
    test: data.test,
  };
}

/** The demo's table: untrained, trained and chance, in the reference's columns. */
export function formatDemoTable(r: DemoResult): string {
  const rows: [string, string[]][] = [
    ['untrained', [r.untrained.R1, r.untrained.R5, r.untrained.R10, r.untrained.mAP, r.untrained.mINP].map(f2)],
    ['trained', [r.trained.R1, r.trained.R5, r.trained.R10, r.trained.mAP, r.trained.mINP].map(f2)],
    ['chance', [f2(r.chanceR1), '', '', '', '']],
  ];
  const head = ['t2i', 'R1', 'R5', 'R10', 'mAP', 'mINP'];
  const body = rows.map(([name, v]) => [name, ...v]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const fmt = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [line, fmt(head), line, ...body.map(fmt), line].join('\n');
}

function f2(x: number): string {
  return x.toFixed(2);
}
