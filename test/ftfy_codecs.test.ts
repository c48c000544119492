/**
 * The pieces of the ftfy 6.3 port below `fix_text`: the code page tables (against the script that
 * generates them from Python's codecs, and against the WHATWG decoders of the JavaScript runtime),
 * the `utf-8-variants` decoder, the byte-level transcoders and `fix_text`'s segmentation.
 * Expected values marked "ftfy 6.3.1" were computed with ftfy 6.3.1 in Python.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tables from '../src/tokenizer/ftfy/codec_tables';
import { CHARMAP_ENCODINGS, decodeUtf8Variants, encodeCharmap, possibleEncodings } from '../src/tokenizer/ftfy/codecs';
import { fixEncoding, replaceLossySequences, restoreByteA0 } from '../src/tokenizer/ftfy/fix_encoding';
import { fixText } from '../src/tokenizer/index';

const onCpu = (process.env.IRRA_TEST_BACKEND ?? 'cpu') === 'cpu';
const root = new URL('../', import.meta.url);

function hasPython(): boolean {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.runIf(onCpu)('ftfy port: code page tables', () => {
  it.runIf(hasPython())('codec_tables.ts is what scripts/ftfy_codec_tables.py writes', () => {
    const script = new URL('scripts/ftfy_codec_tables.py', root).pathname;
    const expected = execFileSync('python3', [script, '--stdout'], { encoding: 'utf8' });
    const committed = readFileSync(new URL('src/tokenizer/ftfy/codec_tables.ts', root), 'utf8');
    expect(committed).toBe(expected);
  });

  it("agrees with the runtime's WHATWG decoders on every byte both define", () => {
    const pairs: Array<[string, string]> = [
      [tables.WINDOWS_1250, 'windows-1250'],
      [tables.WINDOWS_1251, 'windows-1251'],
      [tables.WINDOWS_1252, 'windows-1252'],
      [tables.WINDOWS_1253, 'windows-1253'],
      [tables.WINDOWS_1254, 'windows-1254'],
      [tables.WINDOWS_1257, 'windows-1257'],
      [tables.ISO_8859_2, 'iso-8859-2'],
      [tables.MAC_ROMAN, 'macintosh'],
    ];
    let compared = 0;
    for (const [table, label] of pairs) {
      expect(table).toHaveLength(128);
      const decoder = new TextDecoder(label);
      for (let b = 0x80; b < 0x100; b++) {
        const ours = table[b - 0x80];
        const theirs = decoder.decode(Uint8Array.of(b));
        if (ours === '\ufffd' || theirs === '\ufffd' || (theirs >= '\x80' && theirs <= '\x9f')) continue;
        expect(`${label} ${b.toString(16)} ${ours}`).toBe(`${label} ${b.toString(16)} ${theirs}`);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(900);
  });

  it('makes sloppy code pages: undefined bytes are Latin-1, byte 1A is U+FFFD', () => {
    const sloppy1252 = CHARMAP_ENCODINGS.find((e) => e.name === 'sloppy-windows-1252');
    expect(sloppy1252?.decode[0x81]).toBe(0x81);
    expect(sloppy1252?.decode[0x80]).toBe(0x20ac);
    expect(sloppy1252?.decode[0x1a]).toBe(0xfffd);
    expect(sloppy1252?.encode.get(0x1a)).toBeUndefined();
    for (const enc of CHARMAP_ENCODINGS) expect(enc.encode.size, enc.name).toBe(256);
    expect(CHARMAP_ENCODINGS.map((e) => e.name)).toEqual([
      'latin-1',
      'sloppy-windows-1252',
      'sloppy-windows-1251',
      'sloppy-windows-1250',
      'sloppy-windows-1253',
      'sloppy-windows-1254',
      'sloppy-windows-1257',
      'iso-8859-2',
      'macroman',
      'cp437',
    ]);
  });

  it('knows which encodings can hold a text (as ftfy 6.3.1 possible_encoding)', () => {
    const bits = (names: string[]) =>
      names.reduce((m, n) => m | (1 << CHARMAP_ENCODINGS.findIndex((e) => e.name === n)), 0);
    expect(possibleEncodings('\u0081\u00e9')).toBe(
      bits([
        'latin-1',
        'sloppy-windows-1252',
        'sloppy-windows-1250',
        'sloppy-windows-1254',
        'sloppy-windows-1257',
        'iso-8859-2',
      ]),
    );
    expect(possibleEncodings('\u2500\u00e9')).toBe(bits(['cp437']));
    expect(possibleEncodings('\u001a')).toBe(bits(['latin-1', 'iso-8859-2', 'macroman', 'cp437']));
    expect(possibleEncodings('\u4e00')).toBe(0);
    expect(encodeCharmap('\u2500\u00e9', CHARMAP_ENCODINGS[9] as (typeof CHARMAP_ENCODINGS)[number])).toBe('\xc4\x82');
    expect(() => encodeCharmap('\u4e00', CHARMAP_ENCODINGS[0] as (typeof CHARMAP_ENCODINGS)[number])).toThrow(
      /has no byte in latin-1/,
    );
  });
});

describe.runIf(onCpu)('ftfy port: UTF-8 variants and byte transcoders (ftfy 6.3.1)', () => {
  it('decodes CESU-8 pairs and Java nulls, and fails where Python raises', () => {
    expect(decodeUtf8Variants('\xed\xa0\xbd\xed\xb8\x8d \xc0\x80')).toBe('\u{1f60d} \u0000');
    expect(decodeUtf8Variants('\xed\x9f\xbf')).toBe('\ud7ff');
    for (const bad of ['\xed\xa0\xbd', '\xed\xa0\xbd\xed\xa0\xbd', '\xc0', '\xc0\x81', 'a\xe2\x82']) {
      expect(decodeUtf8Variants(bad), JSON.stringify(bad)).toBeNull();
    }
  });

  it('restores bytes A0 that became spaces, keeping Portuguese "às" whole', () => {
    expect(restoreByteA0('voil\xc3 le \xc3 s \xc3  x \xe2 \x80 \xc2 ')).toBe(
      'voil\xc3\xa0 le \xc3\xa0s \xc3\xa0 x \xe2\xa0\x80 \xc2\xa0',
    );
  });

  it('replaces UTF-8 sequences that lost bytes with one U+FFFD', () => {
    expect(replaceLossySequences('\xe2\x80\x1a \xc3? \xf0\x9f\x1a\x8d \x1a \xed\xa0\xbd\xed\xb8?')).toBe(
      Array(5).fill('\xef\xbf\xbd').join(' '),
    );
  });

  it('fixes encodings layer by layer and leaves clean text', () => {
    expect(fixEncoding('sÃ³')).toBe('só');
    expect(fixEncoding('The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t')).toBe('The Mona Lisa doesn\u2019t');
    expect(fixEncoding('&ATILDE;&SUP3;')).toBe('&ATILDE;&SUP3;');
    expect(fixEncoding('')).toBe('');
  });
});

describe.runIf(onCpu)('ftfy port: fix_text segmentation (ftfy 6.3.1)', () => {
  it('stops unescaping HTML from the first line holding "<" on', () => {
    expect(fixText('caf&eacute; Ã©\n<b>&amp; Ã©</b>\n&lt;x')).toBe('café é\n<b>&amp; é</b>\n&lt;x');
    expect(fixText('&lt;x\ncaf&eacute;')).toBe('<x\ncafé');
  });

  it('fixes C1 controls before line breaks', () => {
    expect(fixText('a\rb\u2028c\x85d\r\ne')).toBe('a\nb\nc\u2026d\ne');
  });

  it('cuts lines longer than a million code points (not UTF-16 units)', () => {
    const long = `${'a'.repeat(999_998)}\u{1f600}\u00c3\u00a9`;
    const fixed = fixText(long);
    expect(fixed.length).toBe(long.length);
    expect(fixed.endsWith('\u{1f600}\u00c3\u00a9')).toBe(true);
    expect(fixText(`${'a'.repeat(10)}\u00c3\u00a9`)).toBe(`${'a'.repeat(10)}\u00e9`);
  });

  it('names the argument when it is not a string', () => {
    expect(() => fixText(3 as unknown as string)).toThrow('fixText: expected text to be a string, got number');
  });
});
