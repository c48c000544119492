/**
 * ftfy 6.3's "badness" heuristic (`ftfy/badness.py`): the few hundred characters that UTF-8
 * mojibake is made of, sorted into categories, and one regular expression of juxtapositions of
 * those categories that are far likelier in mojibake than in intended text (an accented lower-case
 * letter followed by a currency sign, `Ã` followed by a no-break space, …). Text "is bad" when the
 * expression matches anywhere; ftfy only tries to re-decode text that is bad.
 *
 * The categories are character-class bodies for a `u`-flag RegExp. Python's `\s` and `\w` are
 * Unicode-wide, so they are spelled out here (`PY_SPACE`, `PY_WORD`); Python's `.` is "not a
 * newline".
 *
 * @module
 */

/** Characters in many contexts; sequences with them are not mojibake by themselves. */
const COMMON = String.raw`\u00a0\u00ad\u00b7\u00b4\u2013\u2014\u2015\u2026\u2019`;
/** C1 controls: no use outside mojibake any more. */
const C1 = String.raw`\u0080-\u009f`;
/** Characters nearly always from mojibake (broken bar, currency sign, diaeresis, not sign, …, U+FFFD, ª º). */
const BAD = String.raw`\u00a6\u00a4\u00a8\u00ac\u00af\u00b8\u0192\u02c6\u02c7\u02d8\u02db\u02dc\u2020\u2021\u2030\u2310\u25ca\ufffd\u00aa\u00ba`;
/** Pilcrow and section sign. */
const LAW = String.raw`\u00b6\u00a7`;
/** Cent, pound, yen, peseta, euro. */
const CURRENCY = String.raw`\u00a2\u00a3\u00a5\u20a7\u20ac`;
/** Punctuation that opens: ¡ « ¿ ©, Greek tonos marks, opening quotes, bullet, ‹, Apple's logo. */
const START_PUNCTUATION = String.raw`\u00a1\u00ab\u00bf\u00a9\u0384\u0385\u2018\u201a\u201c\u201e\u2022\u2039\uf8ff`;
/** Punctuation that closes: ® » ˝ ” › ™. */
const END_PUNCTUATION = String.raw`\u00ae\u00bb\u02dd\u201d\u203a\u2122`;
/** Superscripts, fractions, × ÷ µ and the mathematical operators of MacRoman, №. */
const NUMERIC = String.raw`\u00b2\u00b3\u00b9\u00b1\u00bc\u00bd\u00be\u00d7\u00b5\u00f7\u2044\u2202\u2206\u220f\u2211\u221a\u221e\u2229\u222b\u2248\u2260\u2261\u2264\u2265\u2116`;
/** Letters that emoticon faces (kaomoji) are made of, which may sit in improbable places. */
const KAOMOJI = String.raw`\u00d2-\u00d6\u00d9-\u00dc\u00f2-\u00f6\u00f8-\u00fc\u0150\u014c\u016a\u0172\u00b0`;
/** Accented Latin capitals (without the O's and U's of kaomoji, but with Ø), and Ґ. */
const UPPER_ACCENTED = String.raw`\u00c0-\u00d1\u00d8\u00dc\u00dd\u0102\u0100\u0104\u0106\u010c\u010e\u0110\u0118\u011a\u0112\u0116\u011e\u0122\u0130\u012a\u0136\u0139\u013d\u0141\u013b\u0143\u0147\u0145\u0152\u0158\u015a\u015e\u0160\u0162\u0164\u016e\u0170\u0178\u0179\u017b\u017d\u0490`;
/** Accented Latin small letters (without the o's and u's of kaomoji), ґ and the fi/fl ligatures. */
const LOWER_ACCENTED = String.raw`\u00df\u00e0-\u00f1\u0103\u0105\u0101\u0107\u010d\u010f\u0111\u0119\u011b\u0113\u0117\u011f\u0123\u012f\u012b\u0137\u013a\u013e\u0142\u013c\u0153\u0155\u015b\u015f\u0161\u0165\u00fc\u017a\u017c\u017e\u0491\ufb01\ufb02`;
/** Þ, Greek and Cyrillic capitals. */
const UPPER_COMMON = String.raw`\u00de\u0391-\u03a9\u0386\u0388\u0389\u038a\u038c\u038e\u038f\u03aa\u03ab\u0401-\u042f`;
/** Greek and Cyrillic small letters. */
const LOWER_COMMON = String.raw`\u03b1-\u03c9\u03ac\u03ad\u03ae\u03af\u03b0\u0430-\u045f`;
/** Box drawing and block characters of code page 437 (not the single horizontal line). */
const BOX = String.raw`\u2502\u250c\u2510\u2518\u251c\u2524\u252c\u253c\u2550-\u256c\u2580\u2584\u2588\u258c\u2590\u2591\u2592\u2593`;

/** Python's `\s` on `str` (the characters for which `str.isspace()` holds). */
const PY_SPACE = String.raw`[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]`;
/** Python's `\w` on `str`: letters, numbers and `_`. */
const PY_WORD = String.raw`[\p{L}\p{N}_]`;

/** One alternative per line, as in ftfy's verbose expression. */
const BADNESS_ALTERNATIVES: readonly string[] = [
  `[${C1}]`,
  `[${BAD}${LOWER_ACCENTED}${UPPER_ACCENTED}${BOX}${START_PUNCTUATION}${END_PUNCTUATION}${CURRENCY}${NUMERIC}${LAW}][${BAD}]`,
  `[a-zA-Z][${LOWER_COMMON}${UPPER_COMMON}][${BAD}]`,
  `[${BAD}][${LOWER_ACCENTED}${UPPER_ACCENTED}${BOX}${START_PUNCTUATION}${END_PUNCTUATION}${CURRENCY}${NUMERIC}${LAW}]`,
  `[${LOWER_ACCENTED}${LOWER_COMMON}${BOX}${END_PUNCTUATION}${CURRENCY}${NUMERIC}][${UPPER_ACCENTED}]`,
  `[${BOX}${END_PUNCTUATION}${CURRENCY}${NUMERIC}][${LOWER_ACCENTED}]`,
  `[${LOWER_ACCENTED}${BOX}${END_PUNCTUATION}][${CURRENCY}]`,
  `${PY_SPACE}[${UPPER_ACCENTED}][${CURRENCY}]`,
  `[${UPPER_ACCENTED}${BOX}][${NUMERIC}${LAW}]`,
  `[${LOWER_ACCENTED}${UPPER_ACCENTED}${BOX}${CURRENCY}${END_PUNCTUATION}][${START_PUNCTUATION}][${NUMERIC}]`,
  `[${LOWER_ACCENTED}${UPPER_ACCENTED}${CURRENCY}${NUMERIC}${BOX}${LAW}][${END_PUNCTUATION}][${START_PUNCTUATION}]`,
  `[${CURRENCY}${NUMERIC}${BOX}][${START_PUNCTUATION}]`,
  `[a-z][${UPPER_ACCENTED}][${START_PUNCTUATION}${CURRENCY}]`,
  `[${BOX}][${KAOMOJI}]`,
  `[${LOWER_ACCENTED}${UPPER_ACCENTED}${CURRENCY}${NUMERIC}${START_PUNCTUATION}${END_PUNCTUATION}${LAW}][${BOX}]`,
  `[${BOX}][${END_PUNCTUATION}]`,
  `[${LOWER_ACCENTED}${UPPER_ACCENTED}][${START_PUNCTUATION}${END_PUNCTUATION}]${PY_WORD}`,
  // The ligature œ when not followed by an unaccented Latin letter.
  String.raw`[\u0152\u0153][^A-Za-z]`,
  // A degree sign after an accented capital.
  `[${UPPER_ACCENTED}]\u00b0`,
  // Common Windows-1252 two-character mojibake not covered above (Â Ã Î Ð and a continuation).
  String.raw`[\u00c2\u00c3\u00ce\u00d0][\u20ac\u0153\u0160\u0161\u00a2\u00a3\u0178\u017e\u00a0\u00ad\u00ae\u00a9\u00b0\u00b7\u00bb` +
    `${START_PUNCTUATION}${END_PUNCTUATION}\\u2013\\u2014\\u00b4]`,
  String.raw`\u00d7[\u00b2\u00b3]`,
  // Windows-1252 mojibake of Arabic: Ø/Ù and a continuation, twice.
  `[\\u00d8\\u00d9][${COMMON}${CURRENCY}${BAD}${NUMERIC}${START_PUNCTUATION}\\u0178\\u0160\\u00ae\\u00b0\\u00b5\\u00bb]`.repeat(
    2,
  ),
  // Windows-1252 starts of three-byte sequences of some South Asian scripts.
  String.raw`\u00e0[\u00b2\u00b5\u00b9\u00bc\u00bd\u00be]`,
  // MacRoman mojibake not covered above.
  String.raw`\u221a[\u00b1\u2202\u2020\u2260\u00ae\u2122\u00b4\u2264\u2265\u00a5\u00b5\u00f8]`,
  String.raw`\u2248[\u00b0\u00a2]`,
  String.raw`\u201a\u00c4[\u00ec\u00ee\u00ef\u00f2\u00f4\u00fa\u00f9\u00fb\u2020\u00b0\u00a2\u03c0]`,
  String.raw`\u201a[\u00e2\u00f3][\u00e0\u00e4\u00b0\u00ea]`,
  // Windows-1251 mojibake of characters in the U+2000 block.
  String.raw`\u0432\u0402`,
  // Windows-1251 mojibake of Latin-1 characters or Cyrillic: three characters.
  `[\\u0412\\u0413\\u0420\\u0421][${C1}${BAD}${START_PUNCTUATION}${END_PUNCTUATION}${CURRENCY}\\u00b0\\u00b5][\\u0412\\u0413\\u0420\\u0421]`,
  // Windows-1251 over Latin-1 over Windows-1252, with a Latin letter near.
  String.raw`\u0413\u045e\u0412\u0402\u0412[^\n][A-Za-z ]`,
  // Windows-1252 encodings of à and á, and of U+00A0 itself.
  String.raw`\u00c3[\u00a0\u00a1]`,
  `[a-z]${PY_SPACE}?[\\u00c3\\u00c2] `,
  String.raw`^[\u00c3\u00c2] `,
  // Â before the very character it encodes, when that character is common.
  `[a-z.,?!${END_PUNCTUATION}]\\u00c2[ ${START_PUNCTUATION}${END_PUNCTUATION}]`,
  // Windows-1253 mojibake of characters in the U+2000 block.
  String.raw`\u03b2\u20ac[\u2122\u00a0\u0386\u00ad\u00ae\u00b0]`,
  // Windows-1253 mojibake of Latin-1 characters or Greek.
  `[\\u0392\\u0393\\u039e\\u039f][${C1}${BAD}${START_PUNCTUATION}${END_PUNCTUATION}${CURRENCY}\\u00b0][\\u0392\\u0393\\u039e\\u039f]`,
  // Windows-1257 mojibake of characters in the U+2000 block.
  String.raw`\u0101\u20ac`,
];

/** ftfy's `BADNESS_RE` (searched, not counted: {@link isBad} is all that `fix_text` uses). */
export const BADNESS_RE = new RegExp(BADNESS_ALTERNATIVES.join('|'), 'u');

/**
 * ftfy's `is_bad`: whether `text` holds a sequence that looks like mojibake. Longer texts are
 * likelier to; ftfy only re-decodes text for which this holds.
 */
export function isBad(text: string): boolean {
  return BADNESS_RE.test(text);
}
