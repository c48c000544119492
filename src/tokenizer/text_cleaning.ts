/**
 * Text cleaning as CLIP's `SimpleTokenizer` does it before BPE: `ftfy.fix_text`, Python's
 * `html.unescape` (twice), whitespace collapse and lower-casing.
 *
 * `fixText` is a port of ftfy 6.3's `fix_text` with its default configuration (see
 * `./ftfy/fix_text.ts`): the mojibake repair with ftfy's badness heuristic, its ten single-byte
 * encodings (Latin-1, sloppy Windows-1250/1251/1252/1253/1254/1257, ISO-8859-2, MacRoman, CP437),
 * CESU-8 and Java's modified UTF-8, `restore_byte_a0`, `replace_lossy_sequences`,
 * `decode_inconsistent_utf8` and `fix_c1_controls`; then HTML entities (`auto`), Latin ligatures,
 * character width, curly quotes, line breaks, surrogates, terminal escapes, control characters
 * and NFC, line by line, each line until it is stable. Plain ASCII skips all of it.
 *
 * @module
 */

import { FTFY_DEFAULTS, fixText } from './ftfy/fix_text';
import { htmlUnescape } from './ftfy/html_unescape';

export { fixText, htmlUnescape };

// ---------------------------------------------------------------------------------------------
// Character sets of Python's `str.isspace()` (used by `str.strip`) and of `\s` in the `regex`
// module (used by the reference's whitespace collapse and pre-tokenizer). They differ from
// JavaScript's `\s`: JS includes U+FEFF and excludes U+0085.
// ---------------------------------------------------------------------------------------------

/** The characters of `\s` in Python's `regex` module (Unicode White_Space), as a class body. */
export const PY_REGEX_SPACE = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const PY_WS_RUN = new RegExp(`[${PY_REGEX_SPACE}]+`, 'g');

function isPyStripSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Python's `str.strip()` with no argument: trims the characters for which `isspace()` holds. */
export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isPyStripSpace(s.charCodeAt(a))) a++;
  while (b > a && isPyStripSpace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Defaults of {@link fixText}, as ftfy sets them. */
export const TEXT_CLEANING_DEFAULTS = {
  /** Longest piece (in code points) that ftfy fixes at once; longer lines are cut. */
  maxDecodeLength: FTFY_DEFAULTS.maxDecodeLength,
} as const;

/** The reference's `basic_clean`: `ftfy.fix_text`, `html.unescape` twice, strip. */
export function basicClean(text: string): string {
  return pyStrip(htmlUnescape(htmlUnescape(fixText(text))));
}

/** The reference's `whitespace_clean`: every run of whitespace becomes one space, then strip. */
export function whitespaceClean(text: string): string {
  return pyStrip(text.replace(PY_WS_RUN, ' '));
}

/**
 * The whole cleaning that `SimpleTokenizer.encode` applies before splitting into words:
 * `whitespace_clean(basic_clean(text)).lower()`.
 *
 * @example
 * cleanText('  “Curly”  &amp; ﬁne ') // '"curly" & fine'
 */
export function cleanText(text: string): string {
  return whitespaceClean(basicClean(text)).toLowerCase();
}
