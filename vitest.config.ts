import { defineConfig } from 'vitest/config';
import { chromiumOrSkip } from './test/helpers/chromium.js';

// test/report.test.ts and the page test of test/cli_search.test.ts launch Chromium: without it they
// skip, after one line here (a failure under IRRA_REQUIRE_BROWSER=1, which .ci/run sets).
chromiumOrSkip('the Chromium tests of test/report.test.ts and test/cli_search.test.ts');

// Every Node test file runs once per tfjs backend: the `cpu` and `wasm` projects differ only in
// the backend that test/setup/backend.ts selects before the file runs.
const nodeProject = (backend: 'cpu' | 'wasm') => ({
  test: {
    name: backend,
    include: ['test/**/*.test.ts'],
    exclude: ['test/browser/**'],
    env: { IRRA_TEST_BACKEND: backend },
    setupFiles: ['test/setup/backend.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

export default defineConfig({
  test: {
    projects: [nodeProject('cpu'), nodeProject('wasm')],
    pool: 'forks',
    reporters: ['default'],
  },
});
