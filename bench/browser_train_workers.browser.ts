import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import '../test/browser/wasm_paths';
import { it } from 'vitest';
import { commands } from 'vitest/browser';
import { describeBackend } from '../src/backends';
import { median } from './stats';
import { demoSizeStepRows } from './step_setups';

// The demo-size training step (batch 32, Adam with its state in JavaScript memory) on wasm in
// headless Chromium: in the page's thread, and over 1 and 2 Web Workers (DataParallelGroup with
// createWorker; each worker one wasm thread). npm run bench:browser-train (bench/browser.config.ts,
// BENCH_PAGE=train_workers). The setups take their steps in turn, so the machine's speed drifts
// reach all three alike; read the ratios.

declare module 'vitest/browser' {
  interface BrowserCommands {
    writeBenchResults: (json: string) => Promise<string>;
    benchLog: (line: string) => Promise<void>;
  }
}

/** Overrides from the environment (bench/browser.config.ts): BENCH_STEPS. */
declare const __BENCH_KNOBS__: { steps?: number };
const STEPS = __BENCH_KNOBS__.steps ?? 10;

const createWorker = () =>
  new Worker(new URL('../test/browser/train_worker_entry.ts', import.meta.url), { type: 'module' });

it('demo-size training step: in the page, over 1 and over 2 Web Workers (wasm)', async () => {
  if (!(await tf.setBackend('wasm'))) throw new Error('browser train bench: the wasm backend did not load');
  await tf.ready();
  const {
    rows: stepRows,
    times,
    phases,
  } = await demoSizeStepRows(
    STEPS,
    (name, workers) => ({
      workload: `browser_train_step_small_${workers === 0 ? name : `web_${name}`}`,
      note: `${workers === 0 ? "in the page's thread" : `${workers} Web Worker(s)`}; median of ${STEPS} steps, interleaved`,
    }),
    { createWorker },
  );
  const rows = stepRows.map((r, k) => ({ ...r, phasesMs: phases[k] }));
  for (const r of rows) {
    await commands.benchLog(`  ${r.workload}: ${r.value.toPrecision(3)} s/step (${r.note})`);
  }
  const pairRatios = times[1].map((t, i) => t / times[2][i]);
  const summary = {
    twoOverOne: rows[1].value / rows[2].value,
    twoOverOnePairsMedian: median(pairRatios),
    twoOverInline: rows[0].value / rows[2].value,
  };
  await commands.benchLog(
    `  demo-size step in Chromium: 2 Web Workers ${summary.twoOverOne.toFixed(2)}× faster than 1 ` +
      `(median of the back-to-back pairs ${summary.twoOverOnePairsMedian.toFixed(2)}×), ` +
      `${summary.twoOverInline.toFixed(2)}× faster than in the page`,
  );
  const meta = {
    date: new Date().toISOString(),
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    steps: STEPS,
    pageBackend: await describeBackend(),
  };
  await commands.writeBenchResults(`${JSON.stringify({ ...meta, summary, rows }, null, 2)}\n`);
}, 1_800_000);
