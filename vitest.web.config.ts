import { defineConfig } from 'vitest/config';

// The web page's end-to-end test (npm run test:web): builds the demo export if it is missing
// (a full demo training run, minutes on 2 cores), builds the page with Vite, serves it with
// `vite preview` and drives Debian's Chromium through playwright. Not part of `npm test`.
export default defineConfig({
  test: {
    name: 'web',
    include: ['web/test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 3_600_000,
    reporters: ['default'],
  },
});
