/**
 * ftfy 6.3's `fix_encoding`: finds text that is UTF-8 read in a single-byte encoding (mojibake)
 * and reads it again, one layer at a time, until nothing changes.
 *
 * One step (`_fix_encoding_one_step_and_explain`), in ftfy's order:
 * 1. ASCII text, and text the badness heuristic does not flag ({@link isBad}), stay as they are.
 * 2. For each encoding of {@link CHARMAP_ENCODINGS} that can encode the whole text (Latin-1,
 *    sloppy Windows-1252, -1251, -1250, -1253, -1254, -1257, ISO-8859-2, MacRoman, CP437): encode
 *    it; put back bytes A0 that became spaces (`restore_byte_a0`, not for MacRoman); in the sloppy
 *    code pages, turn UTF-8 sequences that lost a byte to U+FFFD into one U+FFFD
 *    (`replace_lossy_sequences`); decode as UTF-8 (as `utf-8-variants` when byte ED or C0 occurs).
 *    The first encoding whose bytes decode is the step's result.
 * 3. Else fix runs of mojibake on their own (`decode_inconsistent_utf8`).
 * 4. Else, for Latin-1 text with C1 controls, read it as Windows-1252; else replace the C1
 *    controls one by one (`fix_c1_controls`).
 *
 * ftfy 6 keeps a decoding when it succeeds on text that the heuristic flagged; it no longer
 * compares the badness before and after (ftfy 5's cost rule).
 *
 * @module
 */

import { isBad } from './badness';
import { A_GRAVE_WORD_RE, ALTERED_UTF8_RE, C1_CONTROL_RE, LOSSY_UTF8_RE, UTF8_DETECTOR_RE } from './chardata';
import {
  CHARMAP_ENCODINGS,
  decodeUtf8,
  decodeUtf8Variants,
  decodeWindows1252Strict,
  encodeCharmap,
  LATIN_1,
  MACROMAN,
  possibleEncodings,
  sloppyWindows1252,
} from './codecs';

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * ftfy's `restore_byte_a0` on a binary string: `C3` and one space becomes `C3 A0` and a space
 * (see {@link A_GRAVE_WORD_RE}), then each space inside an {@link ALTERED_UTF8_RE} match becomes A0.
 */
export function restoreByteA0(bin: string): string {
  return bin.replace(A_GRAVE_WORD_RE, '\xc3\xa0 ').replace(ALTERED_UTF8_RE, (m) => m.replaceAll(' ', '\xa0'));
}

/** ftfy's `replace_lossy_sequences` on a binary string: each {@link LOSSY_UTF8_RE} match becomes U+FFFD's UTF-8. */
export function replaceLossySequences(bin: string): string {
  return bin.replace(LOSSY_UTF8_RE, '\xef\xbf\xbd');
}

/** ftfy's `fix_c1_controls`: each C1 control becomes its sloppy Windows-1252 character. */
export function fixC1Controls(text: string): string {
  return text.replace(C1_CONTROL_RE, (ch) => sloppyWindows1252(ch.charCodeAt(0)));
}

/**
 * ftfy's `decode_inconsistent_utf8`: each run that looks like UTF-8 mojibake, is shorter than the
 * whole text and is itself flagged by the heuristic gets {@link fixEncoding} on its own.
 */
export function decodeInconsistentUtf8(text: string): string {
  return text.replace(UTF8_DETECTOR_RE, (run) => (run.length < text.length && isBad(run) ? fixEncoding(run) : run));
}

/** Step 2 for one encoding: the re-decoded text, or `null` when its bytes are not UTF-8. */
function redecode(text: string, index: number): string | null {
  const enc = CHARMAP_ENCODINGS[index];
  if (enc === undefined) return null;
  let bin = encodeCharmap(text, enc);
  ALTERED_UTF8_RE.lastIndex = 0;
  if (index !== MACROMAN && ALTERED_UTF8_RE.test(bin)) bin = restoreByteA0(bin);
  if (enc.sloppy) bin = replaceLossySequences(bin);
  return bin.includes('\xed') || bin.includes('\xc0') ? decodeUtf8Variants(bin) : decodeUtf8(bin);
}

/** One step of ftfy's `fix_encoding_and_explain` (see the module notes). */
export function fixEncodingOneStep(text: string): string {
  if (text.length === 0 || isAscii(text) || !isBad(text)) return text;
  const possible = possibleEncodings(text);
  for (let i = 0; i < CHARMAP_ENCODINGS.length; i++) {
    if ((possible & (1 << i)) === 0) continue;
    const fixed = redecode(text, i);
    if (fixed !== null) return fixed;
  }
  UTF8_DETECTOR_RE.lastIndex = 0;
  if (UTF8_DETECTOR_RE.test(text)) {
    const fixed = decodeInconsistentUtf8(text);
    if (fixed !== text) return fixed;
  }
  if (possible & (1 << LATIN_1)) {
    // Latin-1 text (the Windows-1252 reading is never among the possible ones in ftfy 6.3, whose
    // list names the sloppy code page): its C1 controls were meant as Windows-1252.
    const fixed = decodeWindows1252Strict(text);
    if (fixed !== null && fixed !== text) return fixed;
  }
  C1_CONTROL_RE.lastIndex = 0;
  if (C1_CONTROL_RE.test(text)) return fixC1Controls(text);
  return text;
}

/**
 * ftfy's `fix_encoding` with its default settings: {@link fixEncodingOneStep} until the text stops
 * changing.
 *
 * @example
 * fixEncoding('sÃ³') // 'só'
 */
export function fixEncoding(text: string): string {
  let prev = text;
  for (;;) {
    const next = fixEncodingOneStep(prev);
    if (next === prev) return next;
    prev = next;
  }
}
