import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { gunzipSync, gzipSync } from 'fflate';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MergeTable } from '../src/tokenizer/bpe';
import { preTokenize, splitWordsRegex } from '../src/tokenizer/clip_tokenizer';
import {
  buildMlmInputs,
  CLIP_TOKENIZER_DEFAULTS,
  ClipTokenizer,
  cleanText,
  createRng,
  fixText,
  htmlUnescape,
  tokenize,
  whitespaceClean,
} from '../src/tokenizer/index';
import { fixtureJson, vocabBytes, vocabPath } from './helpers/fixtures';

interface TokenizerCase {
  text: string;
  source: string;
  ids: number[];
  context77: number[];
  decoded: string;
}
interface TokenizerFixture {
  special: { mask: number; sot: number; eot: number };
  cases: TokenizerCase[];
}

// Backend-independent suites run once per environment: on the cpu project in Node and on the
// webgl project in the browser (vitest.browser.config.ts). The vocabulary is read as bytes
// (fromGzip), which works in both; fromFile is Node-only and checked in Node.
const onCpu = ['cpu', 'webgl'].includes(process.env.IRRA_TEST_BACKEND ?? '');
const inNode = typeof window === 'undefined';
const SPECIAL_WORDS = new Set(['<|startoftext|>', '<|mask|>', '<|endoftext|>']);

/**
 * Fixture texts allowed to differ, by name, with the reason. Every one of the 3,237 texts matches
 * (mojibake included), so the list is empty; a new exception must be added here with its reason.
 */
const KNOWN_MISMATCHES: Record<string, string> = {};

let tok: ClipTokenizer;
let fixture: TokenizerFixture;
beforeAll(async () => {
  tok = ClipTokenizer.fromGzip(vocabBytes());
  fixture = fixtureJson<TokenizerFixture>('tokenizer.json');
});

describe('ClipTokenizer: special ids and vocabulary', () => {
  it('has the reference special ids and vocabulary size', () => {
    expect(tok.sotId).toBe(fixture.special.sot);
    expect(tok.eotId).toBe(fixture.special.eot);
    expect(tok.maskId).toBe(fixture.special.mask);
    expect([tok.sotId, tok.eotId, tok.maskId, tok.vocabSize]).toEqual([49406, 49407, 49405, 49408]);
    expect(tok.idToToken(49405)).toBe('<|mask|>');
    expect(tok.tokenToId('a</w>')).toBe(320);
  });

  it('keeps the word of the dropped last merge split instead of failing', () => {
    // The reference raises KeyError('jekyll</w>') here: the last merge's token was removed.
    const ids = tok.encode('jekyll');
    expect(tok.decode(ids)).toBe('jekyll ');
    expect(ids.map((i) => tok.idToToken(i))).toEqual(['jeky', 'll</w>']);
  });
});

describe('tokenize() returns an int32 tensor (every backend)', () => {
  it('matches context77 of the fixture and leaks nothing', () => {
    const cases = fixture.cases.filter((c) => c.source === 'hard-cases').slice(0, 6);
    const before = tf.memory().numTensors;
    const t = tok.tokenize(cases.map((c) => c.text));
    expect(t.shape).toEqual([cases.length, 77]);
    expect(t.dtype).toBe('int32');
    expect(t.arraySync()).toEqual(cases.map((c) => c.context77));
    t.dispose();
    const single = tokenize(tok, cases[0]?.text ?? '', { contextLength: 12 });
    expect(single.shape).toEqual([1, 12]);
    single.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe.runIf(onCpu)('ClipTokenizer: parity with the reference fixture (3,237 texts)', () => {
  it('ids, context77 and decoded equal the reference for every text', () => {
    const mismatches: string[] = [];
    let matched = 0;
    for (const c of fixture.cases) {
      const ids = tok.encode(c.text);
      const row = Array.from(tok.tokenizeToArray(c.text));
      const decoded = tok.decode(c.ids);
      const ok =
        JSON.stringify(ids) === JSON.stringify(c.ids) &&
        JSON.stringify(row) === JSON.stringify(c.context77) &&
        decoded === c.decoded;
      if (ok) matched++;
      else if (!(c.text in KNOWN_MISMATCHES)) mismatches.push(JSON.stringify(c.text));
    }
    console.log(`tokenizer parity: ${matched}/${fixture.cases.length} fixture texts match exactly`);
    expect(mismatches).toEqual([]);
    expect(matched).toBe(fixture.cases.length - Object.keys(KNOWN_MISMATCHES).length);
  });

  it('decodes its own encoding to the fixture decoding', () => {
    for (const c of fixture.cases.filter((x) => x.source !== 'clip-prompts')) {
      expect(tok.decode(tok.encode(c.text))).toBe(c.decoded);
    }
  });

  it('truncates keeping the end id last, or throws when truncate is false', () => {
    const long = fixture.cases.find((c) => c.ids.length > 75) as TokenizerCase;
    const row = tok.tokenizeToArray(long.text);
    expect(row.length).toBe(77);
    expect(row[76]).toBe(tok.eotId);
    expect(Array.from(row.subarray(1, 76))).toEqual(long.ids.slice(0, 75));
    expect(() => tok.tokenizeToArray(long.text, { truncate: false })).toThrow(/needs \d+ tokens.*contextLength 77/);
    const short = tok.tokenizeToArray(['a man', ''], { contextLength: 5 });
    expect(Array.from(short)).toEqual([49406, 320, 786, 49407, 0, 49406, 49407, 0, 0, 0]);
    expect(Array.from(tok.tokenizeToArray('a b c d', { contextLength: 4 }))).toEqual([49406, 320, 321, 49407]);
  });

  it('keeps the BPE cache bounded', async () => {
    const small = ClipTokenizer.fromGzip(vocabBytes(), { cacheSize: 100 });
    const words = Array.from({ length: 1000 }, (_, i) => `word${String.fromCharCode(97 + (i % 26))}${i}x`);
    for (const w of words) small.encode(w);
    expect(small.cacheSize).toBeLessThanOrEqual(100);
    expect(small.cacheSize).toBeGreaterThan(0);
    expect(small.encode('a photographer')).toEqual(tok.encode('a photographer'));
    small.clearCache();
    expect(small.cacheSize).toBe(0);
    const none = ClipTokenizer.fromGzip(vocabBytes(), { cacheSize: 0 });
    expect(none.encode('a red shirt')).toEqual(tok.encode('a red shirt'));
    expect(none.cacheSize).toBe(0);
  });
});

describe.runIf(onCpu)('text cleaning (ftfy-like fix_text, html.unescape, whitespace)', () => {
  it('applies the ftfy fixes of its documentation examples (NFC form)', () => {
    expect(fixText('u\u00cc\u02c6nicode')).toBe('\u00fcnicode');
    expect(fixText('This \u00e2\u20ac\u201d should be an em dash')).toBe('This \u2014 should be an em dash');
    expect(fixText('\x01\x1b[36;44mI&#x92;m blue, da ba dee da ba doo&#133;\x1b[0m')).toBe(
      "I'm blue, da ba dee da ba doo\u2026",
    );
    expect(fixText('HTML entities &lt;3')).toBe('HTML entities <3');
    expect(fixText('<em>HTML entities &lt;3</em>')).toBe('<em>HTML entities &lt;3</em>');
    expect(fixText('Broken text&hellip; it&#x2019;s \ufb02ubberi\ufb01c!')).toBe("Broken text\u2026 it's flubberific!");
    expect(fixText('\ufb01'.repeat(100000)).length).toBe(200000);
    expect(fixText('')).toBe('');
  });

  it('normalizes, uncurls, unligates, narrows, strips controls, keeps zero-width space', () => {
    expect(fixText('cafe\u0301')).toBe('caf\u00e9');
    expect(fixText('\u201cq\u201d \u2018a\u2019 \u02bc')).toBe("\"q\" 'a' '");
    expect(fixText('\uff21\uff42\uff43\uff11\u3000\uff01')).toBe('Abc1 !');
    expect(fixText('\u0133 \ufb00 \u01c6')).toBe('ij ff d\u017e');
    expect(fixText('a\x07b\x1b[1mc\x7fd\ufeffe\u200bf')).toBe('abcde\u200bf');
    expect(fixText('a\r\nb\rc\u2028d')).toBe('a\nb\nc\nd');
    expect(fixText('x\ud800y\udc00')).toBe('x\ufffdy\ufffd');
    expect(fixText('caf\u00c3\u00a9 \u00e2\u20ac\u0153q\u00e2\u20ac\x9d')).toBe('caf\u00e9 "q"');
    expect(fixText('price \x80 5')).toBe('price \u20ac 5');
    expect(fixText('CAF\u00c9\u201d')).toBe('CAF\u00c9"');
    // legitimate Latin-1 letters followed by symbols stay as they are
    for (const keep of ['Stra\u00dfe\u00a0x', '\u00dcber\u2122', 'na\u00efve \u00b0C']) {
      expect(fixText(keep)).toBe(keep);
    }
    // ftfy 6.3.1 reads 'ß€' as the UTF-8 of U+07C0 (windows-1252 bytes DF 80) and repairs it
    expect(fixText('Ma\u00df\u20ac')).toBe('Ma\u07c0');
  });

  it('unescapes HTML exactly as Python html.unescape (values from CPython 3.11)', () => {
    const table: Array<[string, string]> = [
      ['&amp;amp;', '&amp;'],
      ['&ampx', '&x'],
      ['&amp', '&'],
      ['&AMP;', '&'],
      ['&#128;', '\u20ac'],
      ['&#x80;', '\u20ac'],
      ['&#129;', '\u0081'],
      ['&#0;', '\ufffd'],
      ['&#x110000;', '\ufffd'],
      ['&#xD800;', '\ufffd'],
      ['&#1;', ''],
      ['&#65279;', '\ufeff'],
      ['&#99999999999999999999;', '\ufffd'],
      ['&notit;', '\u00acit;'],
      ['&notin;', '\u2209'],
      ['&copy2024', '\u00a92024'],
      ['&unknown;', '&unknown;'],
      ['&#38;lt;', '&lt;'],
      ['a & b', 'a & b'],
      ['&;', '&;'],
      ['&#;', '&#;'],
      ['&#x;', '&#x;'],
      ['&ltx&gt', '<x>'],
      ['&Eacute;t&eacute;', '\u00c9t\u00e9'],
      ['&#X41;&#x42', 'AB'],
      ['&#65&#66;', 'AB'],
      ['&lt &gt', '< >'],
      ['&ThisIsAVeryLongNameThatGoesOnAndOnForever;', '&ThisIsAVeryLongNameThatGoesOnAndOnForever;'],
    ];
    for (const [input, expected] of table) expect(htmlUnescape(input)).toBe(expected);
  });

  it("collapses whitespace with Python's \\s (not JavaScript's)", () => {
    const table: Array<[string, string]> = [
      ['a\u0085b', 'a b'],
      ['a\u3000b', 'a b'],
      ['a\ufeffb', 'a\ufeffb'],
      ['a\u200bb', 'a\u200bb'],
      ['a\u001cb', 'a\u001cb'],
      ['a\u00a0\u00a0b', 'a b'],
      [' \u001c x \u001f ', 'x'],
    ];
    for (const [input, expected] of table) expect(whitespaceClean(input)).toBe(expected);
    expect(cleanText('  A\tB\n\nC  ')).toBe('a b c');
  });
});

/** What decode(encode(x)) must be: each word of the cleaned text followed by a space (specials without). */
function expectedRoundTrip(x: string): string {
  return preTokenize(cleanText(x))
    .map((w) => (SPECIAL_WORDS.has(w) ? w : `${w} `))
    .join('');
}

describe.runIf(onCpu)('property tests', () => {
  const printable = fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: 80,
  });
  const asciiAny = fc.string({ unit: 'binary-ascii', maxLength: 80 });

  it('decode(encode(x)) is the cleaned text, word by word, for printable ASCII', () => {
    fc.assert(
      fc.property(printable, (x) => {
        const round = tok.decode(tok.encode(x));
        expect(round).toBe(expectedRoundTrip(x));
        expect(round.replace(/ /g, '')).toBe(cleanText(x).replace(/ /g, ''));
      }),
      { numRuns: 400 },
    );
  });

  it('the fast ASCII pre-tokenizer splits exactly as the reference regex', () => {
    const words = fc.constantFrom(
      "'s",
      "'re",
      "'LL",
      "'x",
      '<|mask|>',
      '<|endoftext|>',
      '<|',
      'abc',
      '12',
      ' ',
      '\t',
      '\x1c',
      '?!',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          asciiAny,
          fc.array(words, { maxLength: 12 }).map((w) => w.join('')),
        ),
        (x) => {
          expect(preTokenize(x)).toEqual(splitWordsRegex(x));
        },
      ),
      { numRuns: 600 },
    );
  });

  it('heap-ordered BPE merges exactly as the reference loop on long words', () => {
    const lines = new TextDecoder().decode(gunzipSync(vocabBytes())).split('\n');
    const pairs: Array<[number, number, number]> = [];
    for (let r = 0; r < CLIP_TOKENIZER_DEFAULTS.numMerges; r++) {
      const [a, b] = (lines[r + 1] as string).split(' ') as [string, string];
      const m = tok.tokenToId(a + b);
      if (m !== undefined) pairs.push([tok.tokenToId(a) as number, tok.tokenToId(b) as number, m]);
    }
    const table = new MergeTable(pairs, tok.vocabSize, 512);
    expect(table.ranksIncrease).toBe(true);
    const letters = fc.string({ unit: fc.constantFrom(...'abcdeilnorst'), minLength: 2, maxLength: 300 });
    fc.assert(
      fc.property(letters, (w) => {
        const syms = Int32Array.from(w, (ch) => tok.tokenToId(ch) as number);
        syms[syms.length - 1] = tok.tokenToId(`${w[w.length - 1]}</w>`) as number;
        expect(Array.from(table.applyHeap(syms.slice()))).toEqual(Array.from(table.applyLoop(syms.slice())));
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on random Unicode, lone surrogates and control characters', () => {
    const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
    const anyText = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc
        .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 4 }), loneSurrogate), { maxLength: 20 })
        .map((a) => a.join('')),
      fc.string({ unit: fc.integer({ min: 0, max: 0x2ff }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
    );
    fc.assert(
      fc.property(anyText, (x) => {
        const ids = tok.encode(x);
        for (const id of ids) expect(id >= 0 && id < tok.vocabSize).toBe(true);
        expect(typeof tok.decode(ids)).toBe('string');
        const row = tok.tokenizeToArray(x);
        expect(row[0]).toBe(tok.sotId);
        expect(Array.from(row).includes(tok.eotId)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('decodes any valid ids without throwing', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 49407 }), { maxLength: 40 }), (ids) => {
        expect(typeof tok.decode(ids)).toBe('string');
      }),
    );
  });

  it('handles the empty string and 1 MB strings in bounded time', () => {
    expect(tok.encode('')).toEqual([]);
    expect(tok.decode([])).toBe('');
    expect(Array.from(tok.tokenizeToArray('', { contextLength: 4 }))).toEqual([49406, 49407, 0, 0]);
    const MB = 1 << 20;
    const rng = createRng(3);
    const big = [
      'a'.repeat(MB),
      Array.from({ length: MB }, () => String.fromCharCode(97 + Math.floor(rng() * 26))).join(''),
      ' '.repeat(MB),
      '&amp;'.repeat(MB / 5),
      Array.from({ length: MB / 2 }, () => String.fromCodePoint(Math.floor(rng() * 0x2ffff))).join(''),
    ];
    for (const text of big) {
      const t0 = performance.now();
      const ids = tok.encode(text);
      expect(ids.every((id) => id >= 0 && id < tok.vocabSize)).toBe(true);
      expect(performance.now() - t0).toBeLessThan(15_000);
    }
  });
});

describe.runIf(onCpu)('bad input gets a clear error', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('rejects bytes that are not gzip, corrupt gzip, and wrong merges files', () => {
    expect(() => ClipTokenizer.fromGzip(new TextEncoder().encode('i n\nt h\n'))).toThrow(/expected gzip data/);
    const good = gzipSync(new TextEncoder().encode('#version: 0.2\ni n\n'));
    const corrupt = good.slice();
    corrupt.fill(0xff, 10);
    expect(() => ClipTokenizer.fromGzip(corrupt)).toThrow(/fromGzip: the gzip data is corrupt/);
    expect(() => ClipTokenizer.fromGzip(good)).toThrow(/at least 48894 merge lines, got 2 lines/);
    const threeParts = ['#version: 0.2', 'i n x', ...Array.from({ length: 48900 }, () => 'i n')].join('\n');
    expect(() => ClipTokenizer.fromGzip(gzipSync(new TextEncoder().encode(threeParts)))).toThrow(
      /merge line 2 to hold two symbols/,
    );
    expect(() => ClipTokenizer.fromGzip('nope' as unknown as Uint8Array)).toThrow(/Uint8Array or ArrayBuffer/);
  });

  it.runIf(inNode)('loads from a file, and reports a missing one (Node)', async () => {
    const fromFile = await ClipTokenizer.fromFile(vocabPath());
    expect(fromFile.encode('a red shirt')).toEqual(tok.encode('a red shirt'));
    await expect(ClipTokenizer.fromFile('/nonexistent/bpe.txt.gz')).rejects.toThrow(/could not read '\/nonexistent/);
  });

  it('reports a failing URL', async () => {
    vi.stubGlobal('fetch', async () => new Response('not found', { status: 404, statusText: 'Not Found' }));
    await expect(ClipTokenizer.fromUrl('https://example.invalid/bpe.gz')).rejects.toThrow(
      /expected HTTP 200 from 'https:\/\/example.invalid\/bpe.gz', got 404/,
    );
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('fetch failed');
    });
    await expect(ClipTokenizer.fromUrl()).rejects.toThrow(
      /could not fetch 'https:\/\/raw.githubusercontent.com\/openai\/CLIP/,
    );
  });

  it('loads through fromUrl when fetch succeeds', async () => {
    const bytes = vocabBytes().slice();
    vi.stubGlobal('fetch', async () => new Response(bytes, { status: 200 }));
    const fromUrl = await ClipTokenizer.fromUrl();
    expect(fromUrl.encode('a red shirt')).toEqual(tok.encode('a red shirt'));
  });

  it('rejects ids outside the vocabulary and non-string text', () => {
    for (const bad of [-1, 49408, 1.5, Number.NaN]) {
      expect(() => tok.decode([320, bad])).toThrow(/expected ids to be integers in \[0, 49408\)/);
    }
    expect(() => tok.encode(42 as unknown as string)).toThrow(/expected text to be a string, got number/);
    expect(() => tok.tokenizeToArray(['ok', 7 as unknown as string])).toThrow(/texts\[1\] to be a string/);
    expect(() => tok.tokenizeToArray('x', { contextLength: 1 })).toThrow(/contextLength to be an integer >= 2, got 1/);
    expect(() => tokenize({} as ClipTokenizer, 'x')).toThrow(/expected a ClipTokenizer/);
  });

  it('loads a Hugging Face tokenizer.json and rejects a malformed one', () => {
    const lines = new TextDecoder().decode(gunzipSync(vocabBytes())).split('\n');
    const merges = lines.slice(1, 1 + CLIP_TOKENIZER_DEFAULTS.numMerges);
    const vocab: Record<string, number> = {};
    for (let id = 0; id < tok.maskId; id++) vocab[tok.idToToken(id)] = id;
    vocab['jekyll</w>'] = 49405;
    vocab['<|startoftext|>'] = 49406;
    vocab['<|endoftext|>'] = 49407;
    const hf = ClipTokenizer.fromHuggingFace(JSON.stringify({ model: { type: 'BPE', vocab, merges } }));
    expect(hf.encode('A woman in a blue coat.')).toEqual(tok.encode('A woman in a blue coat.'));
    expect(hf.maskId).toBe(49405);
    expect(() => ClipTokenizer.fromHuggingFace('{')).toThrow(/unparsable JSON/);
    expect(() => ClipTokenizer.fromHuggingFace({ model: {} })).toThrow(/model.vocab \(object\) and model.merges/);
    expect(() => ClipTokenizer.fromHuggingFace({ model: { vocab, merges: merges.slice(0, 10) } })).toThrow(
      /at least 48894 merges/,
    );
    expect(() => ClipTokenizer.fromHuggingFace({ model: { vocab: { ...vocab, a: 7 }, merges } })).toThrow(
      /model.vocab\['a'\] = 64/,
    );
  });
});

describe('buildMlmInputs: the reference masking rules', () => {
  /** An rng that returns the given values in order. */
  const scripted = (values: number[]) => {
    let i = 0;
    return () => {
      if (i >= values.length) throw new Error('scripted rng exhausted');
      return values[i++] as number;
    };
  };

  it('follows the reference decision structure draw by draw', () => {
    const ids = [49406, 10, 20, 30, 40, 50, 49407, 0, 0];
    // 10: p=0.06 -> /0.15=0.4 -> mask; 20: 0.5 -> not chosen; 30: 0.13 -> 0.867 -> random (next draw 0.5);
    // 40: 0.14 -> 0.933 -> kept; 50: 0.149 -> 0.993 -> kept.
    const { mlmIds, mlmLabels } = buildMlmInputs(ids, { rng: scripted([0.06, 0.5, 0.13, 0.5, 0.14, 0.149]) });
    expect(Array.from(mlmIds)).toEqual([49406, 49405, 20, 1 + Math.floor(0.5 * 49404), 40, 50, 49407, 0, 0]);
    expect(Array.from(mlmLabels)).toEqual([0, 10, 0, 30, 40, 50, 0, 0, 0]);
    expect(ids).toEqual([49406, 10, 20, 30, 40, 50, 49407, 0, 0]);
  });

  it('masks position 1 when nothing was chosen, and works for a tiny vocabulary', () => {
    const forced = buildMlmInputs([49406, 7, 8, 49407, 0], { rng: scripted([0.9, 0.9]) });
    expect(Array.from(forced.mlmIds)).toEqual([49406, 49405, 8, 49407, 0]);
    expect(Array.from(forced.mlmLabels)).toEqual([0, 7, 0, 0, 0]);
    const empty = buildMlmInputs([49406, 49407, 0], { rng: scripted([]) });
    expect(Array.from(empty.mlmIds)).toEqual([49406, 49405, 0]);
    expect(Array.from(empty.mlmLabels)).toEqual([0, 49407, 0]);
    const tiny = buildMlmInputs([510, 5, 508, 511, 0], {
      rng: scripted([0.01, 0.13, 0.999]),
      maskId: 509,
      vocabSize: 512,
    });
    expect(Array.from(tiny.mlmIds)).toEqual([510, 509, 1 + Math.floor(0.999 * 508), 511, 0]);
    expect(Array.from(tiny.mlmLabels)).toEqual([0, 5, 508, 0, 0]);
  });

  it('is reproducible with the same seed and differs with another', () => {
    const row = tok.tokenizeToArray('a man wearing a black jacket, blue jeans and white sneakers');
    const a = buildMlmInputs(row, { rng: createRng(11) });
    const b = buildMlmInputs(row, { rng: createRng(11) });
    expect(a).toEqual(b);
    const seqs = [1, 2, 3].map((s) => Array.from(buildMlmInputs(row, { rng: createRng(s) }).mlmIds).join(','));
    expect(new Set(seqs).size).toBeGreaterThan(1);
    const r1 = createRng(5);
    const r2 = createRng(5);
    for (let i = 0; i < 100; i++) {
      const v = r1();
      expect(v).toBe(r2());
      expect(v >= 0 && v < 1).toBe(true);
    }
  });

  it('rejects bad arguments', () => {
    const row = [49406, 320, 49407];
    expect(() => buildMlmInputs(row, {} as { rng: () => number })).toThrow(/options.rng to be a function/);
    expect(() => buildMlmInputs([1], { rng: Math.random })).toThrow(/at least 2 token ids, got length 1/);
    expect(() => buildMlmInputs([49406, 49408], { rng: Math.random })).toThrow(
      /ids in \[0, 49408\), got 49408 at index 1/,
    );
    expect(() => buildMlmInputs(row, { rng: Math.random, maskRate: 1.5 })).toThrow(/maskRate in \[0, 1\], got 1.5/);
    expect(() => buildMlmInputs(row, { rng: Math.random, maskTokenRate: 0.95, randomTokenRate: 0.1 })).toThrow(
      /maskTokenRate \+ randomTokenRate <= 1/,
    );
    expect(() => buildMlmInputs(row, { rng: () => 1 })).toThrow(/options.rng\(\) in \[0, 1\), got 1/);
    expect(() => buildMlmInputs([510, 5], { rng: Math.random, maskId: 512, vocabSize: 512 })).toThrow(
      /maskId to be an integer in \[2, 512\)/,
    );
    expect(() => createRng(Number.NaN)).toThrow(/finite number/);
  });
});

describe.runIf(onCpu)('buildMlmInputs: statistics on 100,000 captions', () => {
  it('hits the 15% / 80-10-10 / forced-position rates within 3 standard errors', () => {
    // Realistic rows: the fixture's 3,237 tokenized texts (2 to 75 candidate tokens), cycled.
    const rows = fixture.cases.map((c) => Int32Array.from(c.context77));
    const rng = createRng(2023);
    const N = 100_000;
    const MASK = 49405;
    let candidates = 0;
    let chosen = 0;
    let masked = 0;
    let random = 0;
    let kept = 0;
    // O: "the only label is at position 1 and that token is masked" = forced, or chosen there alone.
    let observedO = 0;
    let violations = 0;
    let expectedO = 0;
    let varianceO = 0;
    for (let n = 0; n < N; n++) {
      const row = rows[n % rows.length] as Int32Array;
      const { mlmIds, mlmLabels } = buildMlmInputs(row, { rng });
      let k = 0;
      let labelled = 0;
      for (let i = 0; i < row.length; i++) {
        const id = row[i] as number;
        const isCandidate = id > 0 && id < MASK;
        if (isCandidate) k++;
        if (mlmLabels[i] !== 0) labelled++;
        if (i === 1) continue; // the forced rule only ever touches position 1
        if (!isCandidate) {
          if (mlmIds[i] !== id || mlmLabels[i] !== 0) violations++;
          continue;
        }
        candidates++;
        if (mlmLabels[i] === 0) {
          if (mlmIds[i] !== id) violations++;
          continue;
        }
        chosen++;
        if (mlmLabels[i] !== id) violations++;
        if (mlmIds[i] === MASK) masked++;
        else if (mlmIds[i] !== id) random++;
        else kept++;
      }
      if (labelled === 1 && mlmLabels[1] !== 0 && mlmIds[1] === MASK) observedO++;
      const first = row[1] as number;
      const pForced = 0.85 ** k;
      const pO = first > 0 && first < MASK ? pForced + 0.15 * 0.8 * 0.85 ** (k - 1) : pForced;
      expectedO += pO;
      varianceO += pO * (1 - pO);
      if (labelled === 0) violations++;
    }
    const zScore = (count: number, total: number, p: number) =>
      Math.abs(count / total - p) / Math.sqrt((p * (1 - p)) / total);
    const pSame = 0.1 / 49404; // a random replacement that drew the original id looks kept
    const z = {
      chosen: zScore(chosen, candidates, 0.15),
      masked: zScore(masked, chosen, 0.8),
      random: zScore(random, chosen, 0.1 - pSame),
      kept: zScore(kept, chosen, 0.1 + pSame),
      forced: Math.abs(observedO - expectedO) / Math.sqrt(varianceO),
    };
    console.log(
      `masking: chosen ${(chosen / candidates).toFixed(4)} of ${candidates} candidates; mask/random/kept ` +
        `${(masked / chosen).toFixed(4)}/${(random / chosen).toFixed(4)}/${(kept / chosen).toFixed(4)}; ` +
        `position-1-only masks ${observedO} (expected ${expectedO.toFixed(1)}); z ${JSON.stringify(z)}`,
    );
    expect(violations).toBe(0);
    for (const v of Object.values(z)) expect(v).toBeLessThan(3);
    expect(expectedO).toBeGreaterThan(200);
  });
});
