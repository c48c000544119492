/**
 * ftfy 6.3's character data for mojibake detection (`ftfy/chardata.py`): the "UTF-8 clues" that
 * find runs of embedded mojibake, and the byte patterns of `restore_byte_a0` and
 * `replace_lossy_sequences`.
 *
 * ftfy lists the clue characters by hand; each list is exactly the characters that some byte range
 * decodes to in Latin-1 or in the (strict) Windows code pages 1252, 1251, 1250, 1253, 1254 and
 * 1257, so they are derived here from the same code page tables the decoder uses.
 *
 * @module
 */

import { WINDOWS_1250, WINDOWS_1251, WINDOWS_1252, WINDOWS_1253, WINDOWS_1254, WINDOWS_1257 } from './codec_tables';

/** The code pages ftfy's clue lists are drawn from (Latin-1 is added by {@link decodedBy}). */
const CLUE_CODE_PAGES = [WINDOWS_1252, WINDOWS_1251, WINDOWS_1250, WINDOWS_1253, WINDOWS_1254, WINDOWS_1257];

/** Characters that the given bytes decode to in Latin-1 or in a clue code page (undefined bytes skipped). */
function decodedBy(bytes: readonly number[]): Set<number> {
  const out = new Set<number>(bytes);
  for (const page of CLUE_CODE_PAGES) {
    for (const b of bytes) {
      const c = page.charCodeAt(b - 0x80);
      if (c !== 0xfffd) out.add(c);
    }
  }
  return out;
}

const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

/** A character-class body (for a `u` RegExp) of a set of BMP characters. */
function classBody(chars: Iterable<number>): string {
  return Array.from(chars, (c) => `\\u${c.toString(16).padStart(4, '0')}`).join('');
}

/** Punctuation that stands for itself next to mojibake: – — ― ‘ ’ ‚ “ ” „ • …. */
const LOOSE_PUNCTUATION = [0x2013, 0x2014, 0x2015, 0x2018, 0x2019, 0x201a, 0x201c, 0x201d, 0x201e, 0x2022, 0x2026];

const continuation = decodedBy(range(0x80, 0xbf));
const continuationStrict = new Set([...continuation].filter((c) => !LOOSE_PUNCTUATION.includes(c)));
continuation.add(0x20); // a space standing in for a no-break space (byte A0)

/** ftfy's `UTF8_CLUES`, as character-class bodies. */
export const UTF8_CLUES = {
  /** Characters of bytes C2–DF: leads of two-byte sequences. */
  firstOf2: classBody(decodedBy(range(0xc2, 0xdf))),
  /** Characters of bytes E0–EF: leads of three-byte sequences. */
  firstOf3: classBody(decodedBy(range(0xe0, 0xef))),
  /** Characters of bytes F0 and F3: leads of the four-byte sequences in use. */
  firstOf4: classBody(decodedBy([0xf0, 0xf3])),
  /** Characters of bytes 80–BF, and the space. */
  continuation: classBody(continuation),
  /** Characters of bytes 80–BF, without the punctuation that usually stands for itself. */
  continuationStrict: classBody(continuationStrict),
} as const;

/**
 * ftfy's `UTF8_DETECTOR_RE`: runs of characters that look like UTF-8 read in a single-byte
 * encoding, not preceded by a strict continuation character (so that a few characters in the
 * middle of a longer garble are not fixed alone).
 */
export const UTF8_DETECTOR_RE = new RegExp(
  `(?<![${UTF8_CLUES.continuationStrict}])` +
    `(?:[${UTF8_CLUES.firstOf2}][${UTF8_CLUES.continuation}]` +
    `|[${UTF8_CLUES.firstOf3}][${UTF8_CLUES.continuation}]{2}` +
    `|[${UTF8_CLUES.firstOf4}][${UTF8_CLUES.continuation}]{3})+`,
  'gu',
);

/**
 * ftfy's `ALTERED_UTF8_RE` (on binary strings): UTF-8 sequences that would be valid if a space
 * were byte A0, for the lead bytes where that yields a likely character.
 */
export const ALTERED_UTF8_RE =
  /[\xc2\xc3\xc5\xce\xd0\xd9] |[\xe2\xe3] [\x80-\x84\x86-\x9f\xa1-\xbf]|[\xe0-\xe3][\x80-\x84\x86-\x9f\xa1-\xbf] |\xf0 [\x80-\xbf][\x80-\xbf]|\xf0[\x80-\xbf] [\x80-\xbf]|\xf0[\x80-\xbf][\x80-\xbf] /g;

/**
 * ftfy's `A_GRAVE_WORD_RE`: byte C3 and one space, read as `à` and a space (French "à la"),
 * except before the Portuguese "às", "àquele", "àquela", "àquilo" or a second space.
 */
export const A_GRAVE_WORD_RE = /\xc3 (?! |quele|quela|quilo|s )/g;

/**
 * ftfy's `LOSSY_UTF8_RE` (on binary strings): UTF-8 and CESU-8 sequences in which some bytes
 * became U+FFFD (byte 1A in the sloppy code pages) or, at most once, `?`.
 */
export const LOSSY_UTF8_RE = new RegExp(
  [
    '[\\xc2-\\xdf][\\x1a]',
    '[\\xc2-\\xc3][?]',
    '\\xed[\\xa0-\\xaf][\\x1a?]\\xed[\\xb0-\\xbf][\\x1a?\\x80-\\xbf]',
    '\\xed[\\xa0-\\xaf][\\x1a?\\x80-\\xbf]\\xed[\\xb0-\\xbf][\\x1a?]',
    '[\\xe0-\\xef][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xe0-\\xef][\\x1a\\x80-\\xbf][\\x1a?]',
    '[\\xf0-\\xf4][\\x1a?][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf][\\x1a?]',
    '\\x1a',
  ].join('|'),
  'g',
);

/** C1 control characters (U+0080–U+009F). */
export const C1_CONTROL_RE = /[\x80-\x9f]/g;
