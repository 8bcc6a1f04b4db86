/**
 * Python `re` on `str` is Unicode-aware where JavaScript's is not: `\b` and `\w` use
 * `str.isalnum()` (letters and numbers, not marks) and `\d` is any decimal digit. These
 * fragments stand in for them when porting the reference's regular expressions.
 */
const WORD = String.raw`[\p{L}\p{N}_]`;
/** Python `\b` where the next character is a word character. */
export const WORD_START = `(?<!${WORD})`;
/** Python `\b` where the previous character is a word character. */
export const WORD_END = `(?!${WORD})`;
/** Python `\d` on str. */
export const DIGIT = String.raw`\p{Nd}`;

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
