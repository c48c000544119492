/**
 * The byte ↔ printable-character tables of CLIP's byte-level BPE (GPT-2's reversible scheme).
 *
 * Every UTF-8 byte is shown as one printable Unicode character, so the BPE vocabulary never holds
 * whitespace or control characters: the bytes `!`..`~`, `¡`..`¬` and `®`..`ÿ` stand for themselves,
 * the remaining 68 bytes (0–32, 127–160, 173) take the characters U+0100.. in byte order.
 *
 * @module
 */

/** The three byte ranges that map to the character of the same code point. */
const SELF_MAPPED_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x21, 0x7e],
  [0xa1, 0xac],
  [0xae, 0xff],
];

function buildTables(): {
  order: Uint8Array;
  byteToChar: string[];
  byteToCode: Uint16Array;
  codeToByte: Int16Array;
} {
  const order: number[] = [];
  const mapped = new Uint8Array(256);
  for (const [lo, hi] of SELF_MAPPED_RANGES) {
    for (let b = lo; b <= hi; b++) {
      order.push(b);
      mapped[b] = 1;
    }
  }
  const byteToCode = new Uint16Array(256);
  for (const b of order) byteToCode[b] = b;
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (!mapped[b]) {
      order.push(b);
      byteToCode[b] = 256 + next;
      next++;
    }
  }
  const byteToChar = Array.from(byteToCode, (c) => String.fromCharCode(c));
  const codeToByte = new Int16Array(512).fill(-1);
  for (let b = 0; b < 256; b++) codeToByte[byteToCode[b] as number] = b;
  return { order: Uint8Array.from(order), byteToChar, byteToCode, codeToByte };
}

const TABLES = buildTables();

/**
 * The bytes in vocabulary order: `BYTE_ORDER[i]` is the byte whose character is the i-th entry of
 * the vocabulary (and, with `</w>` appended, the (256 + i)-th).
 */
export const BYTE_ORDER: Readonly<Uint8Array> = TABLES.order;

/** `BYTE_TO_CHAR[b]`: the one-character string that stands for byte `b`. */
export const BYTE_TO_CHAR: readonly string[] = TABLES.byteToChar;

/** `BYTE_TO_CODE[b]`: the UTF-16 code unit of {@link BYTE_TO_CHAR}`[b]` (all lie below 512). */
export const BYTE_TO_CODE: Readonly<Uint16Array> = TABLES.byteToCode;

/** `CODE_TO_BYTE[c]`: the byte that character code `c` (< 512) stands for, or -1 when none does. */
export const CODE_TO_BYTE: Readonly<Int16Array> = TABLES.codeToByte;

/** The byte-level string of `bytes`: each byte replaced by its printable stand-in character. */
export function bytesToUnicode(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i] as number];
  return s;
}

/**
 * The bytes behind a byte-level string (the inverse of {@link bytesToUnicode}).
 * Throws when a character is not one of the 256 stand-ins.
 */
export function unicodeToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const b = c < 512 ? (CODE_TO_BYTE[c] as number) : -1;
    if (b < 0) {
      throw new Error(
        `unicodeToBytes: expected only byte stand-in characters, got U+${c.toString(16).padStart(4, '0')} at index ${i}`,
      );
    }
    out[i] = b;
  }
  return out;
}
