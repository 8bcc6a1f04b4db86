/**
 * The reference's `split_sentence`: when a text is at least as long as the language's
 * character limit, split it into sentences and pack consecutive ones into chunks of at
 * most the limit; a sentence longer than the limit is wrapped at word boundaries
 * (textwrap.wrap, breaking over-long words).
 *
 * The reference finds sentences with spaCy's rule-based sentencizer on spaCy's tokens.
 * This follows the sentencizer's rule (a sentence ends after a token that is one of its
 * end characters, once a token that is not punctuation follows) on a simpler tokenisation:
 * end characters end a sentence when whitespace, the end of text, a closing punctuation
 * mark or a CJK full stop context follows them. spaCy's English abbreviation exceptions
 * ("Mr.", "e.g.") are reproduced for the common titles only, so rare abbreviations may
 * split where spaCy would not.
 */
import { charLimit } from './languages.ts';
import { textwrap } from './textwrap.ts';

// The sentencizer's default end characters most likely in XTTS's languages.
const ENDERS = new Set([
  '.',
  '!',
  '?',
  '։',
  '؟',
  '۔',
  '।',
  '॥',
  '‼',
  '‽',
  '⁇',
  '⁈',
  '⁉',
  '﹒',
  '﹖',
  '﹗',
  '！',
  '．',
  '？',
  '｡',
  '。',
]);
// CJK full-width enders need no following space (zh/ja text has none).
const CJK_ENDERS = new Set(['。', '！', '？', '｡', '．']);
const TITLES = new Set(['mr', 'mrs', 'ms', 'dr', 'st', 'jr', 'sr', 'prof', 'vs', 'etc', 'e.g', 'i.e', 'mt', 'no']);
const PUNCT = /^[\p{P}\p{S}]$/u;

/** Sentences of `text` (each trimmed), by the sentencizer's end-character rule. */
export function sentences(text: string): string[] {
  const out: string[] = [];
  const chars = Array.from(text);
  let start = 0;
  let seenEnd = false;
  let i = 0;
  let pos = 0; // UTF-16 offset of chars[i]
  const offsets: number[] = [];
  for (const c of chars) {
    offsets.push(pos);
    pos += c.length;
  }
  offsets.push(pos);
  for (; i < chars.length; i++) {
    const c = chars[i] as string;
    if (seenEnd && !/\s/u.test(c) && !PUNCT.test(c)) {
      out.push(text.slice(offsets[start], offsets[i]).trim());
      start = i;
      seenEnd = false;
    }
    if (!ENDERS.has(c)) continue;
    const next = chars[i + 1];
    const closes = next === undefined || /\s/u.test(next) || PUNCT.test(next) || CJK_ENDERS.has(c);
    if (closes && !(c === '.' && isAbbreviation(text.slice(offsets[start], offsets[i])))) seenEnd = true;
  }
  const last = text.slice(offsets[start]).trim();
  if (last) out.push(last);
  return out;
}

function isAbbreviation(before: string): boolean {
  const word = /([\p{L}.]+)$/u.exec(before)?.[1]?.toLowerCase();
  return word !== undefined && (TITLES.has(word) || /^\p{L}$/u.test(word));
}

// Python's len() counts code points, not UTF-16 units.
const pyLen = (s: string) => Array.from(s).length;

/** `split_sentence(text, lang, text_split_length=char_limit(lang))`. */
export function splitSentences(text: string, lang: string, limit = charLimit(lang)): string[] {
  if (pyLen(text) < limit) return [text.trimStart()];
  const splits: string[] = [''];
  for (const sentence of sentences(text)) {
    const lastIndex = splits.length - 1;
    const last = splits[lastIndex] as string;
    if (pyLen(last) + pyLen(sentence) <= limit) {
      splits[lastIndex] = `${last} ${sentence}`.trimStart();
    } else if (pyLen(sentence) > limit) {
      splits.push(...textwrap(sentence, limit));
    } else {
      splits.push(sentence);
    }
  }
  if (splits.length > 1 && splits[0] === '') splits.shift();
  return splits;
}
