/**
 * What `train`, `eval` and `encode` check about a dataset before they start: that the splits they
 * read hold data (ICFG-PEDES has no val split), and for `train` / `eval` that every image of those
 * splits exists (`--verify_images`: and decodes), so that a bad file stops the command before its
 * first step instead of at the end of an epoch.
 */
import { assertSplitNotEmpty, type PersonDataset, type SplitName } from '../data/annotations';
import { checkDatasetImages, DatasetImagesError, type ImageCheckProgress } from '../data/verify';
import type { CommandIO } from './options';
import { terminalBar } from './progress';

/**
 * Refuses an empty split that a command is about to read.
 *
 * @param option the option that chose the split (e.g. `--val_dataset`), named in the error, or
 *   null when the command always reads it (the training split).
 * @throws Error `<command>: [<option> <split>: ]<dataset> has no '<split>' split: it holds 0 images
 *   and 0 captions (splits with data: ...)`.
 */
export function requireSplit(command: string, option: string | null, dataset: PersonDataset, split: SplitName): void {
  try {
    assertSplitNotEmpty(dataset, split);
  } catch (e) {
    throw new Error(`${command}: ${option ? `${option} ${split}: ` : ''}${(e as Error).message}`);
  }
}

/** Log lines for a decoding pass that is not on a terminal: about every tenth of the images, and the last. */
function progressLines(io: CommandIO, started: number): { update: (p: ImageCheckProgress) => void; stop: () => void } {
  let nextLine = 0;
  return {
    update: (p) => {
      if (p.done < nextLine && p.done < p.total) return;
      nextLine = p.done + Math.max(1, Math.ceil(p.total / 10));
      const rate = p.done / Math.max((performance.now() - started) / 1000, 1e-3);
      io.write(
        `verify_images: ${p.done}/${p.total} images (${rate.toFixed(0)} images/s, ETA ${Math.ceil((p.total - p.done) / rate)} s)\n`,
      );
    },
    stop: () => {},
  };
}

/** A cli-progress bar drawn through `io.write` (a terminal). */
function progressBar(io: CommandIO, started: number): { update: (p: ImageCheckProgress) => void; stop: () => void } {
  const bar = terminalBar(io, 'verify_images [{bar}] {value}/{total} images | {speed} images/s | ETA {eta_formatted}', {
    clearOnComplete: true,
  });
  return {
    update: (p) =>
      bar.update(p.done, p.total, {
        speed: (p.done / Math.max((performance.now() - started) / 1000, 1e-3)).toFixed(0),
      }),
    stop: () => bar.stop(),
  };
}

/**
 * Checks the images of `splits` before a command starts: every file must exist (one concurrent
 * pass of `fs.stat`), and with `decode` (`--verify_images`) decode, with a progress bar on a
 * terminal and log lines elsewhere. Prints one summary line unless `quiet`.
 *
 * @throws DatasetImagesError `<command>: N of M images of <dataset> (<splits>) are missing:` then
 *   the first ten paths (and `cannot be decoded:` with each decoder error).
 */
export async function checkCommandImages(
  command: string,
  io: CommandIO,
  dataset: PersonDataset,
  splits: readonly SplitName[],
  options: { decode: boolean; quiet?: boolean },
): Promise<void> {
  const started = performance.now();
  const progress =
    options.decode && !options.quiet ? (io.isTTY ? progressBar(io, started) : progressLines(io, started)) : null;
  let report: Awaited<ReturnType<typeof checkDatasetImages>>;
  try {
    report = await checkDatasetImages(dataset, {
      splits,
      decode: options.decode,
      ...(progress ? { onProgress: progress.update } : {}),
    });
  } catch (e) {
    if (e instanceof DatasetImagesError) {
      throw new DatasetImagesError(`${command}: ${e.message}`, e.report);
    }
    throw e;
  } finally {
    progress?.stop();
  }
  if (!options.quiet) {
    io.write(
      `images: all ${report.total} of ${splits.join(', ')} ${options.decode ? 'exist and decode' : 'exist'} (${report.seconds.toFixed(1)} s)\n`,
    );
  }
}
