import { describe, expect, it } from 'vitest';
import { terminalBar, trainProgress } from '../src/cli/progress';
import type { EpochLog, StepLog } from '../src/train/trainer';
import { captureIO } from './helpers/command_io';

const step = (s: number, total: number | undefined, loss: number): StepLog => ({
  epoch: 2,
  step: s,
  ...(total ? { stepsPerEpoch: total } : {}),
  globalStep: 10 + s,
  totalLoss: loss,
  values: { sdm_loss: loss },
  lrs: [1e-3],
  batchSize: 4,
});
const epoch: EpochLog = { epoch: 2, steps: 3, means: { sdm_loss: 1.5 }, seconds: 2.25 };

describe('CLI progress', () => {
  it('trainProgress on a terminal: a bar of step / total, it/s, ETA and loss, then the epoch line', () => {
    const io = captureIO(true);
    const p = trainProgress(io, 5);
    expect(p.progress).toBe('none');
    for (let s = 0; s < 3; s++) p.onStep(step(s, 3, 1.23456 - s));
    p.onEpoch(epoch);
    const text = io.text();
    expect(text).toMatch(/epoch 2\/5 \[[^\]]+\] 3\/3 steps \| [\d.]+ it\/s \| ETA \S+ \| loss -0\.7654/);
    expect(text).toMatch(/epoch 2 done in 2\.3 s \| sdm_loss 1\.5000\n$/);
    p.stop();
  });

  it('trainProgress off a terminal leaves the log lines to the trainer and writes nothing itself', () => {
    const io = captureIO(false);
    const p = trainProgress(io, 5);
    expect(p.progress).toBe('lines');
    p.onStep(step(0, 3, 1));
    p.onEpoch(epoch);
    p.stop();
    expect(io.text()).toBe('');
    p.output.write('x');
    expect(io.text()).toBe('x');
    expect(p.output.isTTY).toBe(false);
  });

  it('terminalBar draws nothing before its first update, and stop ends it once', () => {
    const io = captureIO(true);
    const bar = terminalBar(io, 'job [{bar}] {value}/{total} | {note}');
    bar.stop();
    expect(io.text()).toBe('');
    bar.update(2, 4, { note: 'half' });
    bar.stop();
    bar.stop();
    expect(io.text()).toMatch(/job \[[^\]]+\] 2\/4 \| half/);
  });
});
