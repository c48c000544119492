import { Buffer } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { chromiumBrowserMode } from './test/helpers/browser_mode.js';
import { chromiumOrSkip } from './test/helpers/chromium.js';

// The parity suites again, in headless Debian Chromium, on the browser backends.
// Fixtures are read by the test server (a browser command) and handed to the page as base64.
const here = dirname(fileURLToPath(import.meta.url));
const shared = process.env.IRRA_SHARED ?? resolve(here, '../shared');

/**
 * Suites that must hold in a browser (issue 8, docs/backends.md). webgl runs the Node parity suites
 * as they are (they read results with `dataSync()`, which is exact on WebGL2) plus the async suite;
 * webgpu runs only the browser suites written with `await data()`: on tfjs-webgpu in this
 * SwiftShader Chromium `dataSync()` of a GPU-resident tensor returns zeros and loses the device.
 */
const BROWSER_SUITES: Record<'webgl' | 'webgpu', string[]> = {
  webgl: [
    'test/browser/backend.test.ts',
    'test/browser/async_parity.test.ts',
    'test/browser/select_backend.test.ts',
    'test/browser/onnx_web.test.ts',
    'test/browser/host_ids.test.ts',
    'test/browser/train_web_workers.test.ts',
    'test/losses.test.ts',
    'test/losses.properties.test.ts',
    'test/rank.test.ts',
    'test/evaluator.test.ts',
    'test/model.parity.test.ts',
    'test/model.test.ts',
    'test/layers.test.ts',
    'test/tokenizer.test.ts',
  ],
  webgpu: [
    'test/browser/backend.test.ts',
    'test/browser/async_parity.test.ts',
    'test/browser/select_backend.test.ts',
    'test/browser/model_async.test.ts',
    'test/browser/host_ids.test.ts',
  ],
};

const browserProject = (backend: 'webgl' | 'webgpu') => ({
  define: { 'process.env.IRRA_TEST_BACKEND': JSON.stringify(backend) },
  optimizeDeps: {
    include: [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-layers',
      '@tensorflow/tfjs-backend-cpu',
      '@tensorflow/tfjs-backend-webgl',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-backend-wasm',
      'fast-check',
      'fflate',
    ],
  },
  server: {
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  },
  test: {
    name: backend,
    include: BROWSER_SUITES[backend],
    setupFiles: ['test/setup/browser.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    provide: { backend },
    browser: chromiumBrowserMode({
      readShared: async (_ctx: unknown, rel: string) =>
        Buffer.from(await readFile(join(shared, rel))).toString('base64'),
    }),
  },
});

// Without Chromium: one line saying how to install it, and no tests (a failure under
// IRRA_REQUIRE_BROWSER=1, which .ci/run sets).
export default chromiumOrSkip('the webgl/webgpu suites (vitest.browser.config.ts)')
  ? defineConfig({ test: { projects: [browserProject('webgl'), browserProject('webgpu')] } })
  : defineConfig({ test: { include: [], passWithNoTests: true } });
