import cliProgress from 'cli-progress';
import { type EpochLog, formatEpochLine, type StepLog } from '../train/trainer';
import type { CommandIO } from './options';

/** A cli-progress bar started on its first update (when the total is known). */
export interface TerminalBar {
  /** Draws `value` of `total` with the format's `{…}` payload fields. */
  update(value: number, total: number, payload: Record<string, string>): void;
  /** Ends the bar's line (nothing when it was never drawn). */
  stop(): void;
}

/**
 * The commands' one progress bar: a cli-progress `SingleBar` with `format` drawn through
 * `io.write`, for a terminal (`io.isTTY`). cli-progress fills `{bar}`, `{value}`, `{total}` and
 * `{eta_formatted}`; the other fields come from each update's payload.
 */
export function terminalBar(io: CommandIO, format: string, options: { clearOnComplete?: boolean } = {}): TerminalBar {
  const stream = {
    write: (s: string) => {
      io.write(s);
      return true;
    },
    isTTY: true,
    columns: process.stdout.columns ?? 100,
  } as unknown as NodeJS.WritableStream;
  const bar = new cliProgress.SingleBar({
    stream,
    format,
    clearOnComplete: options.clearOnComplete ?? false,
    hideCursor: true,
    barCompleteChar: cliProgress.Presets.shades_classic.barCompleteChar,
    barIncompleteChar: cliProgress.Presets.shades_classic.barIncompleteChar,
  });
  let started = false;
  return {
    update(value, total, payload) {
      if (!started) {
        bar.start(total, 0, payload);
        started = true;
      }
      bar.setTotal(total);
      bar.update(value, payload);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

/** The `Trainer` options that draw a command's training progress, and what ends it. */
export interface TrainProgress {
  /** The trainer's own output: log lines off a terminal, none on one (the bar replaces it). */
  progress: 'lines' | 'none';
  output: { write(s: string): unknown; isTTY: boolean };
  /** Draws the bar (on a terminal). */
  onStep(log: StepLog): void;
  /** Ends the epoch's bar with the epoch's line (on a terminal). */
  onEpoch(log: EpochLog): void;
  /** Ends a bar left open (an interrupted epoch). */
  stop(): void;
}

/**
 * Training progress of `train` and `demo`: on a terminal a bar per epoch (step / total, it/s,
 * ETA, loss), then the epoch's line; elsewhere the trainer's log lines every `--log_period` steps.
 */
export function trainProgress(io: CommandIO, numEpochs: number): TrainProgress {
  const output = { write: (text: string) => io.write(text), isTTY: io.isTTY === true };
  if (!io.isTTY) return { progress: 'lines', output, onStep() {}, onEpoch() {}, stop() {} };
  const bar = terminalBar(
    io,
    'epoch {epoch} [{bar}] {value}/{total} steps | {rate} it/s | ETA {eta_formatted} | loss {loss}',
  );
  let started = performance.now();
  return {
    progress: 'none',
    output,
    onStep(log) {
      if (log.step === 0) started = performance.now();
      const rate = (log.step + 1) / Math.max((performance.now() - started) / 1000, 1e-3);
      bar.update(log.step + 1, log.stepsPerEpoch ?? log.step + 1, {
        epoch: `${log.epoch}/${numEpochs}`,
        rate: rate.toFixed(2),
        loss: log.totalLoss.toFixed(4),
      });
    },
    onEpoch(log) {
      bar.stop();
      io.write(`${formatEpochLine(log)}\n`);
    },
    stop: () => bar.stop(),
  };
}
