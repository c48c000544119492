/**
 * ftfy 6.3's fixers other than the encoding repair (`ftfy/fixes.py`), each one string → string,
 * applied by {@link fixSegment} in ftfy's order.
 *
 * @module
 */

/** Python's `\d` (Unicode decimal digits) is `\p{Nd}`. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const ANSI_RE = /\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;
// biome-ignore lint/suspicious/noControlCharactersInRegex: ftfy's set of control characters to remove
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const SINGLE_QUOTE_RE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE_RE = /[\u201c-\u201f]/g;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const LINE_BREAK_RE = /\r\n|[\r\u2028\u2029\x85]/g;

/** ftfy's `LIGATURES`: Latin typographic ligatures and legacy digraphs, split into letters. */
const LIGATURES: ReadonlyMap<string, string> = new Map([
  ['\u0132', 'IJ'],
  ['\u0133', 'ij'],
  ['\u0149', '\u02bcn'],
  ['\u01f1', 'DZ'],
  ['\u01f2', 'Dz'],
  ['\u01f3', 'dz'],
  ['\u01c4', 'D\u017d'],
  ['\u01c5', 'D\u017e'],
  ['\u01c6', 'd\u017e'],
  ['\u01c7', 'LJ'],
  ['\u01c8', 'Lj'],
  ['\u01c9', 'lj'],
  ['\u01ca', 'NJ'],
  ['\u01cb', 'Nj'],
  ['\u01cc', 'nj'],
  ['\ufb00', 'ff'],
  ['\ufb01', 'fi'],
  ['\ufb02', 'fl'],
  ['\ufb03', 'ffi'],
  ['\ufb04', 'ffl'],
  ['\ufb05', '\u017ft'],
  ['\ufb06', 'st'],
]);
const LIGATURE_RE = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;

/** ftfy's width map: U+3000 → space, and every U+FF01–U+FFEF that NFKC changes. */
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;

/** ftfy's `remove_terminal_escapes`: ANSI escape sequences (`ESC [ … letter`) are removed. */
export function removeTerminalEscapes(text: string): string {
  return text.replace(ANSI_RE, '');
}

/** ftfy's `fix_latin_ligatures`: `ﬁ` → `fi`, `ĳ` → `ij`, `ǆ` → `dž`, … */
export function fixLatinLigatures(text: string): string {
  return text.replace(LIGATURE_RE, (ch) => LIGATURES.get(ch) ?? ch);
}

/** ftfy's `fix_character_width`: full-width and half-width forms to their usual width (NFKC). */
export function fixCharacterWidth(text: string): string {
  return text.replace(WIDTH_RE, (ch) => (ch === '\u3000' ? ' ' : ch.normalize('NFKC')));
}

/** ftfy's `uncurl_quotes`: curly single quotes (and ʼ) → `'`, curly double quotes → `"`. */
export function uncurlQuotes(text: string): string {
  return text.replace(DOUBLE_QUOTE_RE, '"').replace(SINGLE_QUOTE_RE, "'");
}

/** ftfy's `fix_line_breaks`: CRLF, CR, U+2028, U+2029 and U+0085 become LF. */
export function fixLineBreaks(text: string): string {
  return text.replace(LINE_BREAK_RE, '\n');
}

/**
 * ftfy's `fix_surrogates`. A JavaScript string already reads a paired surrogate as the character
 * it encodes, so what is left is to replace lone surrogates with U+FFFD.
 */
export function fixSurrogates(text: string): string {
  return text.replace(LONE_SURROGATE_RE, '\ufffd');
}

/** ftfy's `remove_control_chars`: C0 controls but tab, LF, FF, CR; DEL; U+206A–206F; BOM; U+FFF9–FFFC. */
export function removeControlChars(text: string): string {
  return text.replace(CONTROL_RE, '');
}
