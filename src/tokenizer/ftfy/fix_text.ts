/**
 * ftfy 6.3's `fix_text` with its default configuration (`TextFixerConfig()`): the text is cut
 * into lines (each keeps its `\n`; a line longer than `maxDecodeLength` code points is cut there),
 * and each piece is fixed on its own by {@link fixSegment} (`fix_and_explain`), which applies the
 * fixers in ftfy's order and repeats them until the text stops changing.
 *
 * HTML unescaping is `auto`: it is on until a piece containing `<` is met, then off for that piece
 * and every later one (the text is probably HTML, whose entities must stay).
 *
 * @module
 */

import { fixC1Controls, fixEncoding } from './fix_encoding';
import {
  fixCharacterWidth,
  fixLatinLigatures,
  fixLineBreaks,
  fixSurrogates,
  removeControlChars,
  removeTerminalEscapes,
  uncurlQuotes,
} from './fixes';
import { ftfyUnescapeHtml } from './html_unescape';

/** ftfy's defaults that {@link fixText} uses. */
export const FTFY_DEFAULTS = {
  /** Longest piece, in code points, that ftfy fixes at once; longer lines are cut. */
  maxDecodeLength: 1_000_000,
  /** Unicode normalization applied last in each round. */
  normalization: 'NFC',
} as const;

/**
 * ftfy's `fix_and_explain` on one piece (without the explanation): HTML entities (when
 * `unescapeHtml`), the encoding repair, C1 controls, Latin ligatures, character width, curly
 * quotes, line breaks, surrogates, terminal escapes, control characters and NFC, in that order,
 * repeated until a round changes nothing.
 */
export function fixSegment(segment: string, unescapeHtml: boolean): string {
  let text = segment;
  for (;;) {
    const orig = text;
    if (unescapeHtml) text = ftfyUnescapeHtml(text);
    text = fixEncoding(text);
    text = fixC1Controls(text);
    text = fixLatinLigatures(text);
    text = fixCharacterWidth(text);
    text = uncurlQuotes(text);
    text = fixLineBreaks(text);
    text = fixSurrogates(text);
    text = removeTerminalEscapes(text);
    text = removeControlChars(text);
    text = text.normalize(FTFY_DEFAULTS.normalization);
    if (text === orig) return text;
  }
}

/** Index in `text` after `count` code points from `pos` (or `text.length`). */
function advanceCodePoints(text: string, pos: number, count: number): number {
  let i = pos;
  for (let n = 0; n < count && i < text.length; n++) {
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    i += pair ? 2 : 1;
  }
  return i;
}

/** True when `text` needs no ftfy fixer at all: printable ASCII, tab and LF, without `&`. */
function isPlainAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7e || (c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0x26) return false;
  }
  return true;
}

/**
 * ftfy 6.3's `fix_text(text)` with the default configuration: mojibake repair (with the badness
 * heuristic, ten single-byte encodings, CESU-8 and Java's UTF-8), HTML entities in `auto` mode,
 * terminal escapes, C1 controls, Latin ligatures, character width, curly quotes, line breaks,
 * surrogates, control characters and NFC, line by line, each line until it is stable.
 *
 * @param text any string (lone surrogates become U+FFFD)
 * @returns the fixed text
 * @example
 * fixText('âœ” No problems') // '✔ No problems'
 */
export function fixText(text: string): string {
  if (typeof text !== 'string') {
    throw new Error(`fixText: expected text to be a string, got ${typeof text}`);
  }
  if (isPlainAscii(text)) return text;
  let unescapeHtml = true;
  let out = '';
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos) + 1;
    if (end === 0) end = text.length;
    if (end - pos > FTFY_DEFAULTS.maxDecodeLength)
      end = Math.min(end, advanceCodePoints(text, pos, FTFY_DEFAULTS.maxDecodeLength));
    const segment = text.slice(pos, end);
    if (unescapeHtml && segment.includes('<')) unescapeHtml = false;
    out += fixSegment(segment, unescapeHtml);
    pos = end;
  }
  return out;
}
