import { Buffer } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { chromiumBrowserMode } from '../test/helpers/browser_mode.js';
import { chromiumOrSkip } from '../test/helpers/chromium.js';

// The browser benchmarks, in headless Debian Chromium (SwiftShader), one page each, chosen by
// BENCH_PAGE (default 'encode'):
// - 'encode' (npm run bench:browser-encode): encodeText / computeLosses with tensor ids vs Int32Array
//   ids on wasm, webgl and webgpu, one backend after the other (bench/browser_encode.browser.ts);
// - 'train_workers' (npm run bench:browser-train): the demo-size training step in the page and over
//   1 and 2 Web Workers on wasm (bench/browser_train_workers.browser.ts).
// Results go to bench/browser_<page>_results.json.
const here = dirname(fileURLToPath(import.meta.url));
const shared = process.env.IRRA_SHARED ?? resolve(here, '../../shared');
const PAGES = ['encode', 'train_workers'];
const page = process.env.BENCH_PAGE ?? 'encode';
if (!PAGES.includes(page))
  throw new Error(`bench/browser.config.ts: BENCH_PAGE must be one of ${PAGES.join(', ')}, got '${page}'`);
const RESULTS = join(here, `browser_${page}_results.json`);

/** Knobs of a run (defaults in the page file), e.g. `BENCH_BACKENDS=webgl,webgpu BENCH_REPS=5 npm run bench:browser-encode`. */
const knobs = {
  backends: process.env.BENCH_BACKENDS?.split(','),
  width: process.env.BENCH_WIDTH ? Number(process.env.BENCH_WIDTH) : undefined,
  layers: process.env.BENCH_LAYERS ? Number(process.env.BENCH_LAYERS) : undefined,
  batch: process.env.BENCH_BATCH ? Number(process.env.BENCH_BATCH) : undefined,
  reps: process.env.BENCH_REPS ? Number(process.env.BENCH_REPS) : undefined,
  steps: process.env.BENCH_STEPS ? Number(process.env.BENCH_STEPS) : undefined,
};

export default chromiumOrSkip(`the browser benchmark '${page}' (bench/browser.config.ts)`)
  ? defineConfig({
      root: resolve(here, '..'),
      define: { __BENCH_KNOBS__: JSON.stringify(knobs) },
      optimizeDeps: {
        include: [
          '@tensorflow/tfjs-core',
          '@tensorflow/tfjs-layers',
          '@tensorflow/tfjs-backend-cpu',
          '@tensorflow/tfjs-backend-wasm',
          '@tensorflow/tfjs-backend-webgl',
          '@tensorflow/tfjs-backend-webgpu',
          'fflate',
        ],
      },
      server: {
        headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
      },
      test: {
        name: `browser-${page}`,
        include: [`bench/browser_${page}.browser.ts`],
        testTimeout: 1_800_000,
        hookTimeout: 300_000,
        browser: chromiumBrowserMode({
          readClipVocabulary: async () =>
            Buffer.from(readFileSync(join(shared, 'clip/bpe_simple_vocab_16e6.txt.gz'))).toString('base64'),
          benchLog: async (_ctx: unknown, line: string) => {
            process.stdout.write(`${line}\n`);
          },
          writeBenchResults: async (_ctx: unknown, json: string) => {
            writeFileSync(RESULTS, json);
            return RESULTS;
          },
        }),
      },
    })
  : defineConfig({ test: { include: [], passWithNoTests: true } });
