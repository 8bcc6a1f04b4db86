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
import { createRequire } from 'node:module';

// pinyin-pro (a large dictionary) and pypinyin's phrase tables load on the first Chinese text, not
// when the text module is imported: every process that imports the engine would pay for them.
type PinyinPro = typeof import('pinyin-pro');
type Tables = {
  pinyinPro: PinyinPro;
  /** characters whose default reading in pypinyin differs from pinyin-pro's */
  chars: Record<string, string>;
  /** pypinyin's phrases, TONE3 */
  tone3: Map<string, string>;
  /** pypinyin's other phrases, which pinyin-pro reads alone as pypinyin does */
  words: Set<string>;
  /** every beginning of a phrase (pypinyin's prefix set for its segmentation) */
  prefixes: Set<string>;
};
let loaded: Tables | null = null;

function tables(): Tables {
  if (loaded) return loaded;
  const pinyinPro = createRequire(import.meta.url)('pinyin-pro') as PinyinPro;
  const pypinyin = JSON.parse(readFileSync(new URL('./dict/zh-phrases.json', import.meta.url), 'utf8')) as {
    phrases: Record<string, string>;
    chars: Record<string, string>;
    /** pypinyin's other phrases, space-separated */
    words: string;
  };
  const t: Tables = {
    pinyinPro,
    chars: pypinyin.chars,
    tone3: new Map(),
    words: new Set(pypinyin.words.split(' ')),
    prefixes: new Set(),
  };
  for (const [phrase, reading] of Object.entries(pypinyin.phrases)) t.tone3.set(phrase, tone3(reading, pinyinPro));
  for (const phrase of [...t.tone3.keys(), ...t.words]) {
    const cps = Array.from(phrase);
    for (let n = 1; n <= cps.length; n++) t.prefixes.add(cps.slice(0, n).join(''));
  }
  loaded = t;
  return t;
}

/** "yì bǎi" → "yi4bai3"; the neutral tone as 5, ü as v. */
function tone3(marked: string, { convert }: PinyinPro = tables().pinyinPro): string {
  return convert(marked, { format: 'symbolToNum' })
    .split(' ')
    .map((s) => s.replace(/^([a-zü]+)0?$/, (_m, base: string) => `${base}${/[1-4]$/.test(s) ? '' : '5'}`))
    .map((s) => s.replace(/^([a-zü]+[1-4]).*$/, '$1').replaceAll('ü', 'v'))
    .join('');
}

const ownTone = new Map<string, string>();
/** A character's reading on its own as pypinyin gives it, TONE3 ("le5" for 了). */
function characterReading(c: string): string {
  let r = ownTone.get(c);
  if (r === undefined) {
    const t = tables();
    r = tone3(t.chars[c] ?? t.pinyinPro.pinyin(c, { toneSandhi: false }));
    ownTone.set(c, r);
  }
  return r;
}

/** A phrase of pypinyin's dictionary, TONE3. */
function phraseReading(phrase: string): string {
  const t = tables();
  return t.tone3.get(phrase) ?? tone3(t.pinyinPro.pinyin(phrase, { toneSandhi: false }));
}

/**
 * pypinyin's segmentation of a run of Chinese characters (mmseg.Seg with no_non_phrases): from
 * the left, the longest phrase of its dictionary reached before the characters stop being the
 * beginning of one; a character that begins no phrase stands alone.
 */
function* segment(run: string[]): Generator<string> {
  const { prefixes: PREFIXES, tone3: TONE3, words: WORDS } = tables();
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
    const t = tables();
    for (const piece of segment(run)) {
      out +=
        t.tone3.has(piece) || t.words.has(piece)
          ? phraseReading(piece)
          : Array.from(piece).map(characterReading).join('');
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
