/**
 * The single-byte encodings ftfy 6.3 tries when it looks for mojibake, in its order
 * (`chardata.CHARMAP_ENCODINGS`), and the UTF-8 decoders it re-reads their bytes with
 * (strict UTF-8, and `utf-8-variants`: UTF-8 plus CESU-8 surrogate pairs and Java's `C0 80` null).
 *
 * Bytes are carried as "binary strings": one UTF-16 code unit 0x00–0xFF per byte, so that ftfy's
 * byte-level regular expressions run on them unchanged.
 *
 * The "sloppy" code pages are ftfy's: a byte the real code page leaves undefined stands for the
 * Latin-1 character of the same number, and byte 0x1A stands for U+FFFD (so that text where a
 * strict decoder already put U+FFFD can still be encoded back).
 *
 * @module
 */

import {
  CP437,
  ISO_8859_2,
  MAC_ROMAN,
  WINDOWS_1250,
  WINDOWS_1251,
  WINDOWS_1252,
  WINDOWS_1253,
  WINDOWS_1254,
  WINDOWS_1257,
} from './codec_tables';

/** One single-byte encoding ftfy tries: its name in ftfy and its byte → character table. */
export interface CharmapEncoding {
  /** ftfy's (Python's) name, e.g. `sloppy-windows-1252`. */
  readonly name: string;
  /** Whether this is one of ftfy's sloppy code pages (they alone get `replace_lossy_sequences`). */
  readonly sloppy: boolean;
  /** Character (UTF-16 code unit) of each byte 0x00–0xFF. */
  readonly decode: Uint16Array;
  /** Character → byte, for every character the encoding can produce. */
  readonly encode: ReadonlyMap<number, number>;
}

const HOLE = 0xfffd;

function table(high: string | null, sloppy: boolean): Uint16Array {
  const t = new Uint16Array(256);
  for (let b = 0; b < 256; b++) {
    const c = b < 0x80 || high === null ? b : high.charCodeAt(b - 0x80);
    t[b] = c === HOLE ? b : c;
  }
  if (sloppy) t[0x1a] = HOLE;
  return t;
}

function charmap(name: string, high: string | null, sloppy: boolean): CharmapEncoding {
  const decode = table(high, sloppy);
  const encode = new Map<number, number>();
  for (let b = 0; b < 256; b++) encode.set(decode[b] as number, b);
  return { name, sloppy, decode, encode };
}

/** ftfy's `CHARMAP_ENCODINGS`, in the order it tries them. */
export const CHARMAP_ENCODINGS: readonly CharmapEncoding[] = [
  charmap('latin-1', null, false),
  charmap('sloppy-windows-1252', WINDOWS_1252, true),
  charmap('sloppy-windows-1251', WINDOWS_1251, true),
  charmap('sloppy-windows-1250', WINDOWS_1250, true),
  charmap('sloppy-windows-1253', WINDOWS_1253, true),
  charmap('sloppy-windows-1254', WINDOWS_1254, true),
  charmap('sloppy-windows-1257', WINDOWS_1257, true),
  charmap('iso-8859-2', ISO_8859_2, false),
  charmap('macroman', MAC_ROMAN, false),
  charmap('cp437', CP437, false),
];

/** Index of Latin-1 in {@link CHARMAP_ENCODINGS} (its bit in {@link possibleEncodings}). */
export const LATIN_1 = 0;
/** Index of MacRoman in {@link CHARMAP_ENCODINGS}. */
export const MACROMAN = 8;

let masks: Uint16Array | undefined;

/** For each BMP code unit, a bit per encoding of {@link CHARMAP_ENCODINGS} that can encode it. */
function encodableMasks(): Uint16Array {
  if (masks) return masks;
  const m = new Uint16Array(0x10000);
  CHARMAP_ENCODINGS.forEach((enc, i) => {
    for (const c of enc.encode.keys()) m[c] = (m[c] as number) | (1 << i);
  });
  masks = m;
  return m;
}

/**
 * ftfy's `possible_encoding` for all encodings at once: a bit mask over
 * {@link CHARMAP_ENCODINGS} of the encodings in which every character of `text` has a byte.
 */
export function possibleEncodings(text: string): number {
  const m = encodableMasks();
  let bits = (1 << CHARMAP_ENCODINGS.length) - 1;
  for (let i = 0; i < text.length && bits !== 0; i++) bits &= m[text.charCodeAt(i)] as number;
  return bits;
}

/** `text` encoded in `enc` as a binary string; every character must be encodable (see {@link possibleEncodings}). */
export function encodeCharmap(text: string, enc: CharmapEncoding): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const b = enc.encode.get(text.charCodeAt(i));
    if (b === undefined) throw new Error(`encodeCharmap: '${text[i]}' has no byte in ${enc.name}`);
    out += String.fromCharCode(b);
  }
  return out;
}

/** Bytes of a binary string. */
export function binaryToBytes(bin: string): Uint8Array {
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Python's strict `bytes.decode('utf-8')` of a binary string; `null` where Python raises. */
export function decodeUtf8(bin: string): string | null {
  try {
    return strictUtf8.decode(binaryToBytes(bin));
  } catch {
    return null;
  }
}

/** Java's null (`C0 80`) and a CESU-8 surrogate pair (six bytes), as ftfy's `utf-8-variants` reads them. */
const UTF8_VARIANT_RE = /\xc0\x80|\xed[\xa0-\xaf][\x80-\xbf]\xed[\xb0-\xbf][\x80-\xbf]/g;

/**
 * ftfy's `utf-8-variants` decoder: strict UTF-8, except that `C0 80` is U+0000 and a CESU-8 pair
 * of surrogates (`ED A0-AF xx ED B0-BF xx`) is the supplementary character it encodes. Any other
 * malformed sequence, lone surrogates included, fails (`null`), as in Python.
 */
export function decodeUtf8Variants(bin: string): string | null {
  let out = '';
  let last = 0;
  UTF8_VARIANT_RE.lastIndex = 0;
  for (let m = UTF8_VARIANT_RE.exec(bin); m !== null; m = UTF8_VARIANT_RE.exec(bin)) {
    const plain = decodeUtf8(bin.slice(last, m.index));
    if (plain === null) return null;
    const s = m[0];
    if (s.length === 2) {
      out += `${plain}\u0000`;
    } else {
      const b = (k: number) => s.charCodeAt(k);
      const cp = ((b(1) & 0x0f) << 16) + ((b(2) & 0x3f) << 10) + ((b(4) & 0x0f) << 6) + (b(5) & 0x3f) + 0x10000;
      out += plain + String.fromCodePoint(cp);
    }
    last = m.index + s.length;
  }
  const rest = decodeUtf8(bin.slice(last));
  return rest === null ? null : out + rest;
}

/** Python's strict `bytes.decode('windows-1252')` of a binary string; `null` on its five undefined bytes. */
export function decodeWindows1252Strict(bin: string): string | null {
  let out = '';
  for (let i = 0; i < bin.length; i++) {
    const b = bin.charCodeAt(i);
    if (b < 0x80) {
      out += bin[i];
      continue;
    }
    const c = WINDOWS_1252.charCodeAt(b - 0x80);
    if (c === HOLE) return null;
    out += String.fromCharCode(c);
  }
  return out;
}

/** The sloppy Windows-1252 character of byte `b` (undefined bytes map to U+0080–U+009F). */
export function sloppyWindows1252(b: number): string {
  return String.fromCharCode((CHARMAP_ENCODINGS[1] as CharmapEncoding).decode[b] as number);
}
