/**
 * Checking a dataset's image files before training or evaluation reads them: a missing test image
 * would otherwise surface only when the first evaluation reaches it, an epoch later. Node only
 * (`node:fs/promises` is imported on call, out of a bundler's sight).
 */
import { nodeFs } from '../util/node';
import type { PersonDataset, SplitName } from './annotations';
import { decodeImage } from './image';

/** Defaults of {@link checkDatasetImages}, shared by the code and the docs. */
export const IMAGE_CHECK_DEFAULTS = Object.freeze({
  /** Splits whose images are checked. */
  splits: Object.freeze(['train', 'test', 'val']) as readonly SplitName[],
  /** Decode every image as well (else: only check that each file exists). */
  decode: false,
  /** Files checked at once. */
  concurrency: 64,
  /** Paths the error lists per kind of problem. */
  listed: 10,
});

/** Options of {@link checkDatasetImages}. */
export interface CheckImagesOptions {
  /** Splits whose images are checked, e.g. `['train', 'test']` (default all three; empty splits add nothing). */
  splits?: readonly SplitName[];
  /** Also read and decode every image with {@link decodeImage} (default false: existence only). */
  decode?: boolean;
  /** Files stat-ed (or read and decoded) at once, an integer ≥ 1 (default 64). */
  concurrency?: number;
  /** Called after each image with the counts so far (e.g. to draw a progress bar). */
  onProgress?: (progress: ImageCheckProgress) => void;
}

/** Counts reported to {@link CheckImagesOptions.onProgress}. */
export interface ImageCheckProgress {
  /** Images checked so far. */
  done: number;
  /** Distinct images to check. */
  total: number;
  /** Missing so far. */
  missing: number;
  /** Present but not decodable so far (with `decode`). */
  undecodable: number;
}

/** One image that failed the check. */
export interface ImageProblem {
  /** The image path, as the dataset names it. */
  path: string;
  /** Why: the file system's error code (`ENOENT`, 'not a regular file', ...) or the decoder's message. */
  reason: string;
}

/** What {@link checkDatasetImages} found. */
export interface ImageCheckReport {
  /** Distinct images checked (an image named by several captions or splits counts once). */
  total: number;
  /** The splits whose images were checked. */
  splits: SplitName[];
  /** Whether the images were decoded too. */
  decoded: boolean;
  /** Missing images (or paths that are not regular files), in dataset order. */
  missing: ImageProblem[];
  /** Images that exist but could not be read or decoded (with `decode`), in dataset order. */
  undecodable: ImageProblem[];
  /** Wall-clock time of the check in seconds. */
  seconds: number;
}

/** The error {@link checkDatasetImages} throws when images are missing or undecodable; `report` has every path. */
export class DatasetImagesError extends Error {
  /** The full report (every problem, not only the ten the message lists). */
  readonly report: ImageCheckReport;

  constructor(message: string, report: ImageCheckReport) {
    super(message);
    this.name = 'DatasetImagesError';
    this.report = report;
  }
}

/** The distinct image paths of the splits, in dataset order (train first, then test, then val). */
function imagePaths(dataset: PersonDataset, splits: readonly SplitName[]): string[] {
  const seen = new Set<string>();
  for (const split of splits) {
    const paths = split === 'train' ? dataset.train.map((s) => s.imgPath) : dataset[split].imgPaths;
    for (const p of paths) seen.add(p);
  }
  return [...seen];
}

function listProblems(title: string, problems: readonly ImageProblem[], withReason: boolean): string {
  const shown = problems
    .slice(0, IMAGE_CHECK_DEFAULTS.listed)
    .map((p) => `  ${p.path}${withReason ? `: ${p.reason}` : ''}`);
  const more = problems.length - shown.length;
  return [title, ...shown, ...(more > 0 ? [`  ... and ${more} more`] : [])].join('\n');
}

/** The message of a {@link DatasetImagesError}: counts, then up to ten paths per kind of problem. */
function problemMessage(dataset: PersonDataset, report: ImageCheckReport): string {
  const of = `of ${report.total} images of ${dataset.name} (${report.splits.join(', ')})`;
  const parts: string[] = [];
  if (report.missing.length > 0) {
    parts.push(listProblems(`${report.missing.length} ${of} are missing:`, report.missing, false));
  }
  if (report.undecodable.length > 0) {
    parts.push(listProblems(`${report.undecodable.length} ${of} cannot be decoded:`, report.undecodable, true));
  }
  return parts.join('\n');
}

/**
 * Checks, in one concurrent pass, that every image the given splits of `dataset` name exists as a
 * regular file, and with `decode` that it reads and decodes as JPEG or PNG (the decoder the data
 * loader uses). At most `concurrency` files are in flight at once. Node only.
 *
 * @param dataset a parsed dataset (e.g. from `loadDataset`).
 * @param options splits (default all), decode (default false), concurrency (default 64),
 *   onProgress; see {@link IMAGE_CHECK_DEFAULTS}.
 * @returns the report when every image passed.
 * @throws DatasetImagesError when any image is missing or undecodable: the message gives each
 *   count and the first ten paths (with the decoder's error for undecodable ones), `report` has
 *   them all. Error naming the option for an unknown split or a bad concurrency.
 * @example
 * const ds = await loadDataset('ICFG-PEDES', '/data');
 * await checkDatasetImages(ds, { splits: ['train', 'test'] });           // existence, 64 at a time
 * await checkDatasetImages(ds, { splits: ['test'], decode: true, onProgress: (p) => bar.update(p.done) });
 */
export async function checkDatasetImages(
  dataset: PersonDataset,
  options: CheckImagesOptions = {},
): Promise<ImageCheckReport> {
  const splits = [...(options.splits ?? IMAGE_CHECK_DEFAULTS.splits)];
  for (const split of splits) {
    if (!IMAGE_CHECK_DEFAULTS.splits.includes(split)) {
      throw new Error(
        `checkDatasetImages: options.splits must hold ${IMAGE_CHECK_DEFAULTS.splits.join(', ')}, got ${JSON.stringify(split)}`,
      );
    }
  }
  const concurrency = options.concurrency ?? IMAGE_CHECK_DEFAULTS.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error(`checkDatasetImages: options.concurrency must be an integer >= 1, got ${concurrency}`);
  }
  const decode = options.decode ?? IMAGE_CHECK_DEFAULTS.decode;
  const fs = await nodeFs();
  const started = performance.now();
  const paths = imagePaths(dataset, splits);
  const missing: (ImageProblem | undefined)[] = new Array(paths.length);
  const undecodable: (ImageProblem | undefined)[] = new Array(paths.length);
  const counts: ImageCheckProgress = { done: 0, total: paths.length, missing: 0, undecodable: 0 };

  const checkOne = async (i: number): Promise<void> => {
    const path = paths[i];
    const info = await fs.stat(path).catch((e: NodeJS.ErrnoException) => e.code ?? e.message);
    if (typeof info === 'string' || !info.isFile()) {
      missing[i] = { path, reason: typeof info === 'string' ? info : 'not a regular file' };
      counts.missing++;
      return;
    }
    if (!decode) return;
    try {
      await decodeImage(await fs.readFile(path));
    } catch (e) {
      undecodable[i] = { path, reason: (e as Error).message };
      counts.undecodable++;
    }
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const i = next++;
      await checkOne(i);
      counts.done++;
      options.onProgress?.({ ...counts });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));

  const report: ImageCheckReport = {
    total: paths.length,
    splits,
    decoded: decode,
    missing: missing.filter((p): p is ImageProblem => p !== undefined),
    undecodable: undecodable.filter((p): p is ImageProblem => p !== undefined),
    seconds: (performance.now() - started) / 1000,
  };
  if (report.missing.length > 0 || report.undecodable.length > 0) {
    throw new DatasetImagesError(problemMessage(dataset, report), report);
  }
  return report;
}
