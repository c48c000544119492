/**
 * Tokenizer throughput: captions/s of `tokenizeToArray` on the fixture corpus (3,237 texts of
 * ../shared/fixtures/tokenizer.json) repeated to 100,000 captions, with a cold cache (fresh
 * tokenizer) and a warm one (second pass), plus the cleaning and pre-tokenizing stages alone.
 *
 * Run: npx tsx bench/tokenizer.ts   (IRRA_SHARED overrides the shared folder)
 * Reference figure on this machine: the Python SimpleTokenizer + bases.tokenize, warm cache,
 * ~19,900 captions/s (measured by the project; not re-run here).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { preTokenize } from '../src/tokenizer/clip_tokenizer';
import { ClipTokenizer, cleanText } from '../src/tokenizer/index';

const here = dirname(fileURLToPath(import.meta.url));
const shared = process.env.IRRA_SHARED ?? resolve(here, '../../shared');
const corpus: string[] = JSON.parse(readFileSync(join(shared, 'fixtures', 'tokenizer.json'), 'utf8')).cases.map(
  (c: { text: string }) => c.text,
);
const N = 100_000;
const captions = Array.from({ length: N }, (_, i) => corpus[i % corpus.length] as string);
const PYTHON_WARM = 19_900;

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

const gz = readFileSync(join(shared, 'clip', 'bpe_simple_vocab_16e6.txt.gz'));
let tok!: ClipTokenizer;
const loadS = time(() => {
  tok = ClipTokenizer.fromGzip(gz);
});

const rows: Array<[string, number]> = [];
const cold = time(() => tok.tokenizeToArray(captions));
rows.push(['tokenize, cold cache (first pass)', N / cold]);
const warmRuns = [0, 1, 2].map(() => time(() => tok.tokenizeToArray(captions)));
const warm = Math.min(...warmRuns);
rows.push(['tokenize, warm cache (best of 3)', N / warm]);
const cleanS = time(() => {
  for (const c of captions) cleanText(c);
});
rows.push(['  cleaning alone', N / cleanS]);
const cleaned = captions.map(cleanText);
const splitS = time(() => {
  for (const c of cleaned) preTokenize(c);
});
rows.push(['  pre-tokenizing alone', N / splitS]);
const small = ClipTokenizer.fromGzip(gz, { cacheSize: 0 });
const noCache = time(() => small.tokenizeToArray(captions.slice(0, 20_000)));
rows.push(['tokenize, cache disabled', 20_000 / noCache]);

console.log(`load merges: ${(loadS * 1000).toFixed(0)} ms; corpus ${corpus.length} texts repeated to ${N}`);
console.log('| stage | captions/s | vs Python warm (19,900/s) |');
console.log('|---|---:|---:|');
for (const [name, rate] of rows) {
  console.log(`| ${name} | ${Math.round(rate).toLocaleString('en-US')} | ${(rate / PYTHON_WARM).toFixed(1)}× |`);
}
