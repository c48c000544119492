import { defineConfig } from 'vitest/config';
import { chromiumOrSkip } from './test/helpers/chromium.js';

// The web page's end-to-end tests (npm run test:web), one file after the other (each builds the
// page into web/dist/ and trains what it needs when its cache is missing):
// - web/test/page.test.ts: the demo (trains and exports the demo model to web/public/model/);
// - web/test/open_your_own.test.ts: "Open your own" (trains a CLIP-vocabulary checkpoint, cached
//   under node_modules/.cache/irra-tfjs-web/own/).
// Each builds the page with Vite, serves it with `vite preview` (COOP/COEP headers) and drives
// Debian's Chromium through playwright.
export default defineConfig({
  test: {
    name: 'web',
    // Without Chromium: one line saying how to install it, and no tests (a failure under
    // IRRA_REQUIRE_BROWSER=1, which .ci/run sets).
    include: chromiumOrSkip('the web page tests (vitest.web.config.ts)') ? ['web/test/**/*.test.ts'] : [],
    passWithNoTests: true,
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 3_600_000,
    reporters: ['default'],
  },
});
