/**
 * Character classes for splitting streamed text into display units: a word with the whitespace
 * before it and the punctuation after it, or one character of a script written without spaces.
 */

/** Whitespace: ends a unit that has content; otherwise leads the next one. */
export const SPACE = 0;
/** Letters, digits, symbols, emoji: a run of them is one word. */
export const WORD = 1;
/** Han, kana, bopomofo: each character is a unit of its own. */
export const CJK = 2;
/** Never starts a unit: combining marks, joiners, selectors, closing punctuation. */
export const ATTACH = 3;
/** CJK opening brackets: start a unit that the next character joins. */
export const OPEN = 4;

export type CharClass = typeof SPACE | typeof WORD | typeof CJK | typeof ATTACH | typeof OPEN;

/** ASCII closing punctuation and quotes: attached to the unit before them (matters after CJK). */
const ASCII_ATTACH = new Set(Array.from('.,;:!?)]}%\'"', (c) => c.charCodeAt(0)));
/** CJK and fullwidth closing punctuation, and the kana prolonged sound mark. */
const CJK_ATTACH = new Set(Array.from('、。〉》」』】〕〗〙〛〞！），．：；？］｝ー…', (c) => c.charCodeAt(0)));
const CJK_OPEN = new Set(Array.from('〈《「『【〔〖〘〚〝（［｛', (c) => c.charCodeAt(0)));

const within = (cp: number, lo: number, hi: number): boolean => cp >= lo && cp <= hi;

/** The class of one code point (a surrogate pair already combined). */
export function charClass(cp: number): CharClass {
  if (cp < 0x80) {
    if (cp <= 0x20 || cp === 0x7f) return cp === 0x20 || within(cp, 0x09, 0x0d) ? SPACE : WORD;
    return ASCII_ATTACH.has(cp) ? ATTACH : WORD;
  }
  // Unicode White_Space, except the no-break spaces that exist to keep their neighbours together.
  if (cp === 0x85 || cp === 0x1680 || within(cp, 0x2000, 0x200a) || cp === 0x2028 || cp === 0x2029 || cp === 0x205f || cp === 0x3000) {
    return cp === 0x2007 ? WORD : SPACE;
  }
  if (
    within(cp, 0x0300, 0x036f) ||
    within(cp, 0x1ab0, 0x1aff) ||
    within(cp, 0x1dc0, 0x1dff) ||
    within(cp, 0x200c, 0x200d) ||
    within(cp, 0x20d0, 0x20ff) ||
    within(cp, 0x3099, 0x309a) ||
    within(cp, 0xfe00, 0xfe0f) ||
    within(cp, 0xfe20, 0xfe2f) ||
    within(cp, 0x1f3fb, 0x1f3ff) ||
    within(cp, 0xe0020, 0xe007f) ||
    within(cp, 0xe0100, 0xe01ef) ||
    CJK_ATTACH.has(cp)
  ) {
    return ATTACH;
  }
  if (CJK_OPEN.has(cp)) return OPEN;
  if (
    within(cp, 0x2e80, 0x2fdf) ||
    within(cp, 0x3005, 0x3007) ||
    within(cp, 0x3040, 0x30ff) ||
    within(cp, 0x3100, 0x312f) ||
    within(cp, 0x31a0, 0x31ff) ||
    within(cp, 0x3400, 0x4dbf) ||
    within(cp, 0x4e00, 0x9fff) ||
    within(cp, 0xf900, 0xfaff) ||
    within(cp, 0xff66, 0xff9f) ||
    within(cp, 0x20000, 0x3ffff)
  ) {
    return CJK;
  }
  return WORD;
}
