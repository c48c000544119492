import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// The README's usage example must run as written: it imports the built package by its name
// (Node resolves a package's own name through its `exports`), so `npm run build` comes first.
describe.runIf(process.env.IRRA_TEST_BACKEND === 'cpu')('README', () => {
  it('runs its usage example as written', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = /## Install and use[\s\S]*?```js\n([\s\S]*?)```/.exec(readme);
    expect(block, 'README has a ```js usage example under "Install and use"').not.toBeNull();
    expect(block?.[1].split('\n').filter((l) => l.trim()).length).toBeLessThanOrEqual(12);
    if (!existsSync(join(root, 'dist/index.js'))) {
      throw new Error('dist/index.js is missing: run `npm run build` before the tests (as .ci/run does)');
    }
    const file = join(root, '.readme-example.mjs');
    writeFileSync(file, block?.[1] ?? '');
    try {
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 120_000 });
      expect(out).toMatch(/^SDM loss \d+\.\d+/m);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
