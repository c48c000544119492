/**
 * Text cleaning as CLIP's `SimpleTokenizer` does it before BPE: `ftfy.fix_text`, HTML unescaping
 * (twice), whitespace collapse and lower-casing.
 *
 * `fixText` follows ftfy 6's `fix_text` with its default settings, fixer by fixer and in ftfy's
 * order: HTML entities (only while no `<` has been seen), mojibake repair, C1 controls, Latin
 * ligatures, full-/half-width forms, curly quotes, line breaks, lone surrogates, terminal escapes,
 * control characters and NFC, repeated until the text stops changing, line by line.
 *
 * Mojibake repair covers the common case: UTF-8 that was decoded as Latin-1 or as (sloppy)
 * Windows-1252, fixed for the whole line when the whole line re-decodes, else run by run. ftfy
 * also tries Windows-1250/1251/1253/1254/1257, ISO-8859-2, MacRoman and CP437, restores bytes that
 * became spaces and replaces lossy sequences, gated by a statistical "badness" score; those
 * refinements are not reproduced here. This module detects mojibake with a simpler rule: the
 * text holds a Latin-1/Windows-1252 rendering of a UTF-8 sequence (for two-byte sequences led by
 * 0xC4–0xDB, only when the second character is one of Windows-1252's 0x80–0x9F characters other
 * than quotes, dashes, ellipsis and bullet; none led by 0xDC–0xDF), so it may differ from ftfy on
 * rare, ambiguous text.
 *
 * @module
 */

import { HTML5_ENTITIES } from './html_entities';

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

// ---------------------------------------------------------------------------------------------
// Python's html.decodeEntities
// ---------------------------------------------------------------------------------------------

let entityMap: Map<string, string> | undefined;
function entities(): Map<string, string> {
  entityMap ??= new Map(Object.entries(HTML5_ENTITIES));
  return entityMap;
}

/** Windows-1252 characters of the bytes 0x80–0x9F; `undefined` where the code page has a hole. */
const CP1252_HIGH: ReadonlyArray<number | undefined> = [
  0x20ac,
  undefined,
  0x201a,
  0x0192,
  0x201e,
  0x2026,
  0x2020,
  0x2021,
  0x02c6,
  0x2030,
  0x0160,
  0x2039,
  0x0152,
  undefined,
  0x017d,
  undefined,
  undefined,
  0x2018,
  0x2019,
  0x201c,
  0x201d,
  0x2022,
  0x2013,
  0x2014,
  0x02dc,
  0x2122,
  0x0161,
  0x203a,
  0x0153,
  undefined,
  0x017e,
  0x0178,
];

/** Code point → Windows-1252 byte for the 27 characters that live in 0x80–0x9F. */
const CP1252_ENCODE: ReadonlyMap<number, number> = new Map(
  CP1252_HIGH.flatMap((cp, i) => (cp === undefined ? [] : [[cp, 0x80 + i] as [number, number]])),
);

/** Code points that `html.decodeEntities` drops from numeric references (as Python's table lists them). */
function isInvalidCodepoint(n: number): boolean {
  return (
    (n >= 0x1 && n <= 0x8) ||
    n === 0xb ||
    (n >= 0xe && n <= 0x1f) ||
    (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) ||
    (n & 0xfffe) === 0xfffe
  );
}

function numericCharref(num: number): string {
  if (num === 0) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) {
    const cp = CP1252_HIGH[num - 0x80];
    return String.fromCharCode(cp ?? num);
  }
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  if (isInvalidCodepoint(num)) return '';
  return String.fromCodePoint(num);
}

function parseBig(digits: string, radix: number): number {
  const trimmed = digits.replace(/^0+/, '');
  // Anything with more than 8 significant digits exceeds U+10FFFF in either radix.
  if (trimmed.length > 8) return Number.POSITIVE_INFINITY;
  return trimmed.length === 0 ? 0 : Number.parseInt(trimmed, radix);
}

const CHARREF_RE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

/**
 * Python's `html.decodeEntities`: numeric references (with Windows-1252 repair of 0x80–0x9F, U+FFFD
 * for surrogates and out-of-range values, removal of the code points HTML forbids) and the HTML5
 * named references, including the longest-prefix rule for names written without `;`.
 */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  const table = entities();
  return s.replace(CHARREF_RE, (_m, ref: string) => {
    if (ref.charCodeAt(0) === 0x23 /* # */) {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      const body = ref.slice(hex ? 2 : 1).replace(/;$/, '');
      return numericCharref(parseBig(body, hex ? 16 : 10));
    }
    const direct = table.get(ref);
    if (direct !== undefined) return direct;
    for (let x = ref.length - 1; x > 1; x--) {
      const hit = table.get(ref.slice(0, x));
      if (hit !== undefined) return hit + ref.slice(x);
    }
    return `&${ref}`;
  });
}

// ---------------------------------------------------------------------------------------------
// ftfy fixers
// ---------------------------------------------------------------------------------------------

let ftfyEntityMap: Map<string, string> | undefined;
/** ftfy's entity table: `&name;` for every HTML5 name with `;`, plus all-caps forms of lower-case names. */
function ftfyEntities(): Map<string, string> {
  if (ftfyEntityMap) return ftfyEntityMap;
  const m = new Map<string, string>();
  const table = entities();
  for (const [name, ch] of table) {
    if (!name.endsWith(';')) continue;
    m.set(`&${name}`, ch);
    if (name === name.toLowerCase()) {
      const upper = `&${name.toUpperCase()}`;
      if (htmlUnescape(upper) === upper) m.set(upper, ch.toUpperCase());
    }
  }
  ftfyEntityMap = m;
  return m;
}

const FTFY_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;

/** ftfy's `unescape_html`: only complete `&...;` references, with all-caps names accepted. */
function ftfyUnescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  const table = ftfyEntities();
  return text.replace(FTFY_ENTITY_RE, (m) => {
    const hit = table.get(m);
    if (hit !== undefined) return hit;
    if (m.startsWith('&#')) {
      const un = htmlUnescape(m);
      return un.includes(';') ? m : un;
    }
    return m;
  });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const ANSI_RE = /\x1b\[((?:\p{Nd}|;)*)([a-zA-Z])/gu;
// biome-ignore lint/suspicious/noControlCharactersInRegex: ftfy's set of control characters to remove
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const C1_RE = /[\x80-\x9f]/g;
const SINGLE_QUOTE_RE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE_RE = /[\u201c-\u201f]/g;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const LINE_BREAK_RE = /\r\n|[\r\u2028\u2029\x85]/g;

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

/** ftfy's width map: U+3000 → space, and every U+FF01..U+FFEF that NFKC changes. */
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;
function widthFix(ch: string): string {
  if (ch === '\u3000') return ' ';
  return ch.normalize('NFKC');
}

/** C1 control characters read as the Windows-1252 characters they most likely were. */
function fixC1Controls(text: string): string {
  return text.replace(C1_RE, (ch) => {
    const cp = CP1252_HIGH[ch.charCodeAt(0) - 0x80];
    return cp === undefined ? ch : String.fromCharCode(cp);
  });
}

// --- mojibake ---------------------------------------------------------------------------------

/** Byte of `c` in Latin-1 (-1 when none). ftfy's encodability test excludes U+001A. */
function latin1Byte(c: number): number {
  return c < 0x100 && c !== 0x1a ? c : -1;
}

/** Byte of `c` in ftfy's sloppy Windows-1252 (holes decode to the C1 control of that byte). */
function sloppy1252Byte(c: number): number {
  if (c < 0x80) return c === 0x1a ? -1 : c;
  if (c >= 0xa0 && c <= 0xff) return c;
  if (c === 0x81 || c === 0x8d || c === 0x8f || c === 0x90 || c === 0x9d) return c;
  return CP1252_ENCODE.get(c) ?? -1;
}

function encodeAll(text: string, enc: (c: number) => number): Uint8Array | null {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const b = enc(text.charCodeAt(i));
    if (b < 0) return null;
    out[i] = b;
  }
  return out;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
function decodeUtf8Strict(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Windows-1252 bytes of quotes, dashes, ellipsis and bullet: after a letter with lead byte
 * 0xC4–0xDF they are more likely real punctuation than a UTF-8 continuation byte.
 */
const PUNCTUATION_AFTER_WORD: ReadonlySet<number> = new Set([0x85, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97]);

/**
 * Length in characters of a sloppy-Windows-1252 rendering of one UTF-8 sequence starting at `i`
 * (0 if there is none). With `narrowLeads`, a two-byte sequence led by 0xC4–0xDB must continue
 * with one of Windows-1252's 0x80–0x9F characters other than punctuation (Latin-1 symbols and
 * NBSP legitimately follow such letters in real text), and the leads 0xDC–0xDF (`Ü Ý Þ ß`, whose
 * UTF-8 readings are Syriac, Thaana and N'Ko) are not accepted at all.
 */
function mojibakeSeqLength(text: string, i: number, narrowLeads: boolean): number {
  const lead = sloppy1252Byte(text.charCodeAt(i));
  let n: number;
  if (lead >= 0xc2 && lead <= 0xdf) {
    if (narrowLeads && lead > 0xc3) {
      const cont = sloppy1252Byte(text.charCodeAt(i + 1));
      if (lead >= 0xdc || cont >= 0xa0 || PUNCTUATION_AFTER_WORD.has(cont)) return 0;
    }
    n = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) n = 3;
  else if (lead >= 0xf0 && lead <= 0xf4) n = 4;
  else return 0;
  if (i + n > text.length) return 0;
  for (let k = 1; k < n; k++) {
    const b = sloppy1252Byte(text.charCodeAt(i + k));
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return n;
}

function looksLikeMojibake(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 0xc2 && mojibakeSeqLength(text, i, true) > 0) return true;
  }
  return false;
}

/** Decodes each run of mojibake sequences on its own (ftfy's `decode_inconsistent_utf8`). */
function decodeInconsistentUtf8(text: string): string {
  let out = '';
  let last = 0;
  let i = 0;
  while (i < text.length) {
    let j = i;
    let len = mojibakeSeqLength(text, j, true);
    while (len > 0) {
      j += len;
      len = j < text.length ? mojibakeSeqLength(text, j, false) : 0;
    }
    if (j > i) {
      const bytes = encodeAll(text.slice(i, j), sloppy1252Byte);
      const fixed = bytes ? decodeUtf8Strict(bytes) : null;
      if (fixed !== null) {
        out += text.slice(last, i) + fixed;
        last = j;
      }
      i = j;
    } else {
      i++;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function fixEncodingOneStep(text: string): string {
  if (text.length === 0 || isAscii(text) || !looksLikeMojibake(text)) return text;
  const latin1 = encodeAll(text, latin1Byte);
  if (latin1) {
    const fixed = decodeUtf8Strict(latin1);
    if (fixed !== null) return fixed;
  }
  const sloppy = encodeAll(text, sloppy1252Byte);
  if (sloppy) {
    const fixed = decodeUtf8Strict(sloppy);
    if (fixed !== null) return fixed;
  }
  const partial = decodeInconsistentUtf8(text);
  if (partial !== text) return partial;
  if (latin1 && !sloppy) {
    // Latin-1 but not Windows-1252: C1 controls that were meant as Windows-1252 characters.
    return fixC1Controls(text);
  }
  return text;
}

function fixEncoding(text: string): string {
  let prev = text;
  for (;;) {
    const next = fixEncodingOneStep(prev);
    if (next === prev) return next;
    prev = next;
  }
}

function fixSegment(segment: string, decodeEntities: boolean): string {
  let text = segment;
  for (;;) {
    const orig = text;
    if (decodeEntities) text = ftfyUnescapeHtml(text);
    text = fixEncoding(text);
    text = fixC1Controls(text);
    text = text.replace(LIGATURE_RE, (ch) => LIGATURES.get(ch) ?? ch);
    text = text.replace(WIDTH_RE, widthFix);
    text = text.replace(SINGLE_QUOTE_RE, "'").replace(DOUBLE_QUOTE_RE, '"');
    text = text.replace(LINE_BREAK_RE, '\n');
    text = text.replace(LONE_SURROGATE_RE, '\ufffd');
    text = text.replace(ANSI_RE, '');
    text = text.replace(CONTROL_RE, '');
    text = text.normalize('NFC');
    if (text === orig) return text;
  }
}

/** Defaults of {@link fixText}, as ftfy sets them. */
export const TEXT_CLEANING_DEFAULTS = {
  /** Longest piece (in UTF-16 code units) that ftfy fixes at once; longer lines are split. */
  maxDecodeLength: 1_000_000,
} as const;

/** True when `text` needs no ftfy fixer at all: printable ASCII, tab and LF, without `&`. */
function isPlainAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7e || (c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0x26) return false;
  }
  return true;
}

/**
 * ftfy's `fix_text` with default settings (see the module notes for the extent of the mojibake
 * repair): works line by line; HTML entities are decoded until a line containing `<` is met.
 *
 * @param text any string (lone surrogates become U+FFFD)
 * @returns the fixed text
 */
export function fixText(text: string): string {
  if (typeof text !== 'string') {
    throw new Error(`fixText: expected text to be a string, got ${typeof text}`);
  }
  if (isPlainAscii(text)) return text;
  let decodeEntities = true;
  let out = '';
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos) + 1;
    if (end === 0) end = text.length;
    if (end - pos > TEXT_CLEANING_DEFAULTS.maxDecodeLength) end = pos + TEXT_CLEANING_DEFAULTS.maxDecodeLength;
    const segment = text.slice(pos, end);
    if (decodeEntities && segment.includes('<')) decodeEntities = false;
    out += fixSegment(segment, decodeEntities);
    pos = end;
  }
  return out;
}

/** The reference's `basic_clean`: `fix_text`, HTML-decodeEntities twice, strip. */
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
