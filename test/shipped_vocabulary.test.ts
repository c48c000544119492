import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../src/index';
import { SHIPPED_VOCABULARY_FILE, shippedVocabularyUrl } from '../src/tokenizer/shipped_vocabulary';
import { vocabPath } from './helpers/fixtures';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('the CLIP vocabulary shipped in the package', () => {
  it('is the same bytes as the shared copy', () => {
    const shipped = readFileSync(new URL(`../src/tokenizer/${SHIPPED_VOCABULARY_FILE}`, import.meta.url));
    expect(sha256(shipped)).toBe(sha256(readFileSync(vocabPath())));
    expect(shippedVocabularyUrl().protocol).toBe('file:');
  });

  it('ClipTokenizer.load() with no argument reads it, offline, and tokenizes as fromFile does', async () => {
    const shipped = await ClipTokenizer.load();
    const reference = await ClipTokenizer.fromFile(vocabPath());
    for (const text of ['a woman in a red coat with a black bag', 'Ünïcödé &amp; emoji 👜', '']) {
      expect(shipped.encode(text)).toEqual(reference.encode(text));
    }
    expect(shipped.vocabSize).toBe(49408);
  });

  it('load(path | file: URL | bytes) keep working, and bad sources are clear errors', async () => {
    const text = 'a man in a blue shirt';
    const want = (await ClipTokenizer.load()).encode(text);
    expect((await ClipTokenizer.load(vocabPath())).encode(text)).toEqual(want);
    expect((await ClipTokenizer.load(`file://${vocabPath()}`)).encode(text)).toEqual(want);
    expect((await ClipTokenizer.load(new Uint8Array(readFileSync(vocabPath())))).encode(text)).toEqual(want);
    await expect(ClipTokenizer.load('/nonexistent/bpe.txt.gz')).rejects.toThrow(/could not read '\/nonexistent/);
    await expect(ClipTokenizer.load(42 as unknown as string)).rejects.toThrow(
      /expected nothing, a path, a URL or gzip bytes/,
    );
  });

  it.runIf(existsSync('dist/index.js') && existsSync('dist/index.cjs'))(
    'the built package (ESM and CJS) finds the vocabulary beside its bundle',
    () => {
      expect(existsSync(`dist/${SHIPPED_VOCABULARY_FILE}`)).toBe(true);
      const esm = `import('./dist/index.js').then(async (m) => { const t = await m.ClipTokenizer.load(); console.log(JSON.stringify(t.encode('a red coat'))); })`;
      const cjs = `require('./dist/index.cjs').ClipTokenizer.load().then((t) => console.log(JSON.stringify(t.encode('a red coat'))))`;
      const run = (code: string, type: string) =>
        execFileSync(process.execPath, [`--input-type=${type}`, '-e', code], { encoding: 'utf8' }).trim();
      expect(run(esm, 'module')).toBe('[320,736,7356]');
      expect(run(cjs, 'commonjs')).toBe('[320,736,7356]');
    },
  );
});
