import { Buffer } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';

// The parity suites again, in headless Debian Chromium, on the browser backends.
// Fixtures are read by the test server (a browser command) and handed to the page as base64.
const here = dirname(fileURLToPath(import.meta.url));
const shared = process.env.IRRA_SHARED ?? resolve(here, '../shared');

/**
 * Suites that must hold in a browser (issue 8). webgl runs the Node parity suites as they are;
 * webgpu runs the browser-only suites, written with `await data()` (FACTS.md: `dataSync()` on
 * tfjs-webgpu in SwiftShader returned zeros and broke the device).
 */
const BROWSER_SUITES: Record<'webgl' | 'webgpu', string[]> = {
  webgl: [
    'test/browser/*.test.ts',
    'test/losses.test.ts',
    'test/losses.properties.test.ts',
    'test/rank.test.ts',
    'test/evaluator.test.ts',
  ],
  webgpu: ['test/browser/*.test.ts'],
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
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--enable-unsafe-webgpu'],
        },
      }),
      instances: [{ browser: 'chromium' as const }],
      commands: {
        readShared: async (_ctx: unknown, rel: string) =>
          Buffer.from(await readFile(join(shared, rel))).toString('base64'),
      },
    },
  },
});

export default defineConfig({
  test: { projects: [browserProject('webgl'), browserProject('webgpu')] },
});
