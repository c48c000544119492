import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { IRRA, irraConfig, saveSafetensors } from '../src/index';
import { pngBytes, syntheticImage } from './helpers/search_fixtures';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The first ```js block under the README heading `## heading`, after checking that it has at most
 * `maxLines` non-blank lines and that the package is built (the examples import it by its name).
 */
function readmeExample(heading: string, maxLines: number): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = new RegExp(`## ${heading}[\\s\\S]*?\`\`\`js\\n([\\s\\S]*?)\`\`\``).exec(readme);
  expect(block, `README has a \`\`\`js example under "${heading}"`).not.toBeNull();
  const example = block?.[1] ?? '';
  expect(example.split('\n').filter((l) => l.trim()).length).toBeLessThanOrEqual(maxLines);
  if (!existsSync(join(root, 'dist/index.js'))) {
    throw new Error('dist/index.js is missing: run `npm run build` before the tests (as .ci/run does)');
  }
  return example;
}

// The README's usage example must run as written: it imports the built package by its name
// (Node resolves a package's own name through its `exports`), so `npm run build` comes first.
describe.runIf(process.env.IRRA_TEST_BACKEND === 'cpu')('README', () => {
  it('runs its usage example as written', () => {
    const example = readmeExample('Install and use', 12);
    const file = join(root, '.readme-example.mjs');
    writeFileSync(file, example);
    try {
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 120_000 });
      expect(out).toMatch(/^SDM loss \d+\.\d+/m);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('runs its "Search your gallery" example as written, on a best.pth at the default 384×128 geometry', async () => {
    const example = readmeExample('Search your gallery', 3);
    // A small IRRA with the reference's geometry and CLIP's vocabulary, saved as best.pth would be.
    const dir = mkdtempSync(join(tmpdir(), 'irra-readme-'));
    const model = IRRA.create(
      irraConfig({
        preset: 'tiny',
        imageSize: [384, 128],
        visionPatchSize: 16,
        strideSize: 16,
        visionLayers: 1,
        transformerLayers: 1,
        embedDim: 64,
        visionWidth: 64,
        transformerWidth: 64,
        contextLength: 77,
        vocabSize: 49408,
        cmtDepth: 1,
      }),
      { seed: 3 },
    );
    writeFileSync(join(dir, 'best.pth'), saveSafetensors(model));
    model.dispose();
    const paths = [0, 1, 2].map((i) => {
      const path = join(dir, `person_${i}.png`);
      writeFileSync(path, pngBytes(syntheticImage(i, 60 + 10 * i, 30)));
      return path;
    });
    const file = join(root, '.readme-search.mjs');
    const prelude = `import '@tensorflow/tfjs-backend-cpu';\nimport { IRRA, PersonSearch } from 'irra-tfjs';\nprocess.chdir(${JSON.stringify(dir)});\nconst paths = ${JSON.stringify(paths)};\n`;
    writeFileSync(file, `${prelude}${example}\nconsole.log(JSON.stringify(hits));\n`);
    try {
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 240_000 });
      const hits = JSON.parse(out.trim().split('\n').pop() as string) as Array<{
        id: string;
        rank: number;
        score: number;
      }>;
      expect(hits.map((h) => h.rank)).toEqual([1, 2, 3]);
      expect(new Set(hits.map((h) => h.id))).toEqual(new Set(paths));
      for (const h of hits) expect(Math.abs(h.score)).toBeLessThanOrEqual(1 + 1e-6);
    } finally {
      rmSync(file, { force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
