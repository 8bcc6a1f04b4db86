/**
 * Chinese characters to pinyin in the reference's form: pypinyin TONE3 without tone sandhi
 * (tone digit after each syllable, 5 for the neutral tone, ü as "v", syllables and everything
 * else concatenated with no separator). Numbers were already written as characters by the
 * reference's TextNorm (chinese-textnorm.ts).
 *
 * Pinyin comes from pinyin-pro. Where pypinyin's phrase dictionary reads a phrase differently
 * from pinyin-pro's (4,569 of its 47,111 phrases, many with the sandhi of 一 and 不 written in:
 * 一百 yì bǎi, 一个 yí gè, 不是 bú shì), pypinyin's reading wins: dict/zh-phrases.json holds those
 * phrases, made from pypinyin's dictionary (MIT) by trainer/reference/zh_phrases.py. Phrases
 * without 一/不 go into pinyin-pro's custom dictionary; with tone sandhi off pinyin-pro always
 * reads 一 as yī and 不 as bù, so phrases with them are matched here first (longest first).
 * pypinyin's own segmentation of a sentence can still differ from this one.
 */
import { readFileSync } from 'node:fs';
import { convert, customPinyin, pinyin } from 'pinyin-pro';
import { escapeRegExp } from './pyregex.ts';

const PYPINYIN = JSON.parse(readFileSync(new URL('./dict/zh-phrases.json', import.meta.url), 'utf8')) as {
  phrases: Record<string, string>;
  /** characters whose default reading in pypinyin differs from pinyin-pro's */
  chars: Record<string, string>;
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

const SANDHI: Record<string, string> = {};
const CUSTOM: Record<string, string> = {};
for (const [phrase, reading] of Object.entries(PHRASES)) {
  if (/[一不]/.test(phrase) || /(^|\s)[a-zü]+$|(^|\s)[a-zü]+\s/u.test(reading)) SANDHI[phrase] = tone3(reading);
  else CUSTOM[phrase] = reading;
}
// pinyin-pro's custom dictionary is module-wide; only this module uses pinyin-pro.
customPinyin(CUSTOM);
const SANDHI_RE = new RegExp(
  Object.keys(SANDHI)
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp)
    .join('|'),
  'gu',
);

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

function plainPinyin(text: string): string {
  if (!text) return '';
  return pinyin(text, { type: 'all', toneSandhi: false })
    .map((s) => {
      if (!s.isZh) return s.origin;
      if (s.num === 0) return characterReading(s.origin);
      return tone3(s.pinyin);
    })
    .join('');
}

export function chineseToPinyin(text: string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(SANDHI_RE)) {
    out += plainPinyin(text.slice(last, m.index)) + SANDHI[m[0]];
    last = m.index + m[0].length;
  }
  return out + plainPinyin(text.slice(last));
}
