/**
 * Python's `html.unescape` (used by the reference twice after `ftfy.fix_text`, and by ftfy for
 * numeric references), and ftfy's own, more careful `unescape_html`.
 *
 * @module
 */

import { HTML5_ENTITIES } from '../html_entities';

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

/** Code points that `html.unescape` drops from numeric references (as Python's table lists them). */
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
 * Python's `html.unescape`: numeric references (with Windows-1252 repair of 0x80–0x9F, U+FFFD
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

let ftfyEntityMap: Map<string, string> | undefined;
/** ftfy's entity table: `&name;` for every HTML5 name with `;`, plus all-caps forms of lower-case names. */
function ftfyEntities(): Map<string, string> {
  if (ftfyEntityMap) return ftfyEntityMap;
  const m = new Map<string, string>();
  for (const [name, ch] of entities()) {
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

/**
 * ftfy's `unescape_html`: only complete `&…;` references are decoded (so "this&not that" stays),
 * all-caps forms of lower-case names are accepted (`&EACUTE;` → `É`), and numeric references go
 * through {@link htmlUnescape} unless it would leave the `;`.
 */
export function ftfyUnescapeHtml(text: string): string {
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
