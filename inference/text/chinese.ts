/**
 * Chinese characters to pinyin in the reference's form: pypinyin TONE3 without tone sandhi
 * (tone digit after each syllable, 5 for the neutral tone, ü as "v", syllables and everything
 * else concatenated with no separator). Numbers were already written as characters by the
 * reference's TextNorm (chinese-textnorm.ts).
 *
 * As pypinyin does: a run of Chinese characters is cut into the phrases of pypinyin's dictionary
 * (its forward maximum matching, mmseg with no_non_phrases), a phrase is read as the dictionary
 * reads it, any other character by its first reading. dict/zh-phrases.json (made from pypinyin's
 * dictionary, MIT, by trainer/reference/zh_phrases.py and zh-phrases.ts) holds the phrases
 * pinyin-pro reads otherwise alone (many with the sandhi of 一 and 不 written in: 一百 yì bǎi,
 * 一个 yí gè, 不是 bú shì) with pypinyin's readings, the other phrases without (pinyin-pro reads
 * them alone as pypinyin does), and the characters pinyin-pro reads otherwise on their own.
 */
import { readFileSync } from 'node:fs';
import { convert, pinyin } from 'pinyin-pro';

const PYPINYIN = JSON.parse(readFileSync(new URL('./dict/zh-phrases.json', import.meta.url), 'utf8')) as {
  phrases: Record<string, string>;
  /** characters whose default reading in pypinyin differs from pinyin-pro's */
  chars: Record<string, string>;
  /** pypinyin's other phrases, space-separated */
  words: string;
};
const PHRASES = PYPINYIN.phrases;

/** "yì bǎi" → "yi4bai3"; the neutral tone as 5, ü as v. */
function tone3(marked: string): string {
  return convert(marked, { format: 'symbolToNum' })
    .split(' ')
    .map((s) => s.replace(/^([a-zü]+)0?$/, (_m, base: string) => `${base}${/[1-4]$/.test(s) ? '' : '5'}`))
    .map((s) => s.replace(/^([a-zü]+[1-4]).*$/, '$1').replaceAll('ü', 'v'))
    .join('');
}

const TONE3 = new Map<string, string>();
for (const [phrase, reading] of Object.entries(PHRASES)) TONE3.set(phrase, tone3(reading));
// pypinyin's other phrases, which pinyin-pro reads alone as pypinyin does
const WORDS = new Set(PYPINYIN.words.split(' '));
// every beginning of a phrase (pypinyin's prefix set for its segmentation)
const PREFIXES = new Set<string>();
for (const phrase of [...TONE3.keys(), ...WORDS]) {
  const cps = Array.from(phrase);
  for (let n = 1; n <= cps.length; n++) PREFIXES.add(cps.slice(0, n).join(''));
}

const ownTone = new Map<string, string>();
/** A character's reading on its own as pypinyin gives it, TONE3 ("le5" for 了). */
function characterReading(c: string): string {
  let r = ownTone.get(c);
  if (r === undefined) {
    r = tone3(PYPINYIN.chars[c] ?? pinyin(c, { toneSandhi: false }));
    ownTone.set(c, r);
  }
  return r;
}

/** A phrase of pypinyin's dictionary, TONE3. */
function phraseReading(phrase: string): string {
  return TONE3.get(phrase) ?? tone3(pinyin(phrase, { toneSandhi: false }));
}

/**
 * pypinyin's segmentation of a run of Chinese characters (mmseg.Seg with no_non_phrases): from
 * the left, the longest phrase of its dictionary reached before the characters stop being the
 * beginning of one; a character that begins no phrase stands alone.
 */
function* segment(run: string[]): Generator<string> {
  let start = 0;
  while (start < run.length) {
    let lastValid = 0; // length of the longest phrase found from start
    let word = '';
    let end = start;
    for (; end < run.length; end++) {
      word += run[end];
      if (!PREFIXES.has(word)) break;
      if (TONE3.has(word) || WORDS.has(word)) lastValid = end + 1 - start;
    }
    if (lastValid) {
      yield run.slice(start, start + lastValid).join('');
      start += lastValid;
    } else if (end === run.length) {
      // the rest is the beginning of a phrase but none: its characters one by one
      yield* run.slice(start);
      start = run.length;
    } else {
      yield run[start] as string;
      start += 1;
    }
  }
}

// pypinyin's RE_HANS: the characters it reads (others are kept as they are)
const HAN =
  /[\u3007\ue815-\ue864\ufa18\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{2A6DF}\u{2A703}-\u{2B73F}\u{2B740}-\u{2B81D}\u{2B825}-\u{2BF6E}\u{2C029}-\u{2CE93}\u{2D016}\u{2D11B}-\u{2EBD9}\u{2F80A}-\u{2FA1F}\u{30000}-\u{3134A}\u{31350}-\u{32389}]/u;

/** pypinyin.pinyin(text, TONE3, neutral tone as 5) joined: its phrases and characters read as it reads them. */
export function chineseToPinyin(text: string): string {
  let out = '';
  let run: string[] = [];
  const flush = () => {
    for (const piece of segment(run)) {
      out +=
        TONE3.has(piece) || WORDS.has(piece) ? phraseReading(piece) : Array.from(piece).map(characterReading).join('');
    }
    run = [];
  };
  for (const c of text) {
    if (HAN.test(c)) run.push(c);
    else {
      if (run.length) flush();
      out += c;
    }
  }
  if (run.length) flush();
  return out;
}
