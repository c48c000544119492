import { describe, expect, it } from 'vitest';
import { commandDemo } from '../src/cli/demo_command';
import type { CommandIO } from '../src/cli/options';

function capture(isTTY: boolean): CommandIO & { text: () => string } {
  const out: string[] = [];
  return { write: (s) => void out.push(s), isTTY, warn: () => {}, text: () => out.join('') };
}

// A tiny demo: 46 identities (with 40 held out, 6 train on 48 captions: 12 steps of 4), 1 epoch.
// The step count depends on the held-out share, so the bar is matched as N/N.
const TINY = [
  '--identities',
  '46',
  '--epochs',
  '1',
  '--width',
  '16',
  '--layers',
  '1',
  '--batch_size',
  '4',
  '--workers',
  '1',
  '--no_clip',
  '--no_report',
  '--backend',
  'wasm',
];
const BAR = /epoch 1\/1 \[[^\]]+\] (\d+)\/\1 steps \| [\d.]+ it\/s \| ETA \S+ \| loss \d+\.\d{4}/;

// `irra-tfjs demo` draws the CLI's progress bar (src/cli/progress.ts) as `train` does. The demo
// selects the wasm backend, so this runs in the wasm project only.
describe.runIf(process.env.IRRA_TEST_BACKEND === 'wasm')('irra-tfjs demo progress', () => {
  it('on a terminal: a bar of step / total, it/s, ETA and loss, the epoch line, then the table', async () => {
    const io = capture(true);
    expect(await commandDemo(TINY, io)).toBe(0);
    const text = io.text();
    expect(text).toMatch(BAR);
    // The bar ends before the epoch line, which the table follows.
    const bar = text.search(BAR);
    const epochLine = text.search(/epoch 1 done in [\d.]+ s \| /);
    const table = text.indexOf('| trained ');
    expect(bar).toBeLessThan(epochLine);
    expect(epochLine).toBeLessThan(table);
    // The trainer's own status line (`step 12/12 (… it/s`) is not drawn beside the bar.
    expect(text).not.toMatch(/step \d+\/\d+ \(/);
  });

  it('off a terminal: the trainer log lines every 10 steps and the epoch line, no bar', async () => {
    const io = capture(false);
    expect(await commandDemo(TINY, io)).toBe(0);
    const text = io.text();
    expect(text).toMatch(/^epoch 1\/1 step 10\/\d+ \([\d.]+ it\/s, ETA \S+\) loss \d+\.\d{4} \| sdm_loss /m);
    expect(text).toMatch(/^epoch 1 done in [\d.]+ s \| /m);
    expect(text).not.toMatch(/\[[░█]+\]|\r/);
  });

  it('with --json on a terminal: one JSON line and nothing else', async () => {
    const io = capture(true);
    expect(await commandDemo([...TINY, '--json'], io)).toBe(0);
    const lines = io.text().split('\n');
    expect(lines.length, io.text()).toBe(2);
    expect(lines[1]).toBe('');
    const r = JSON.parse(lines[0] as string);
    expect(r).toMatchObject({ epochsRun: 1, backend: 'wasm', cutShort: false });
    expect(typeof r.trained.R1).toBe('number');
  });
});
