/**
 * Chinese: numbers to characters, then characters to pinyin in the reference's form
 * (pypinyin TONE3: tone digit after each syllable, 5 for the neutral tone, ü as "v",
 * syllables and everything else concatenated with no separator).
 *
 * Pinyin comes from pinyin-pro, whose phrase dictionary picks readings for polyphonic
 * characters; pypinyin's dictionary may choose differently for rare words.
 *
 * The reference's number step is `zh_num2words.TextNorm`, a large Chinese text normaliser
 * (dates, money, phone numbers, fractions, quantifier-dependent readings, "两" for 2).
 * Ported here: percentages, decimals and integers, read as everyday numerals. Not
 * ported: dates, phone numbers, fractions, digit-by-digit codes and 两.
 */
import { pinyin } from 'pinyin-pro';
import { numberSpeller } from './numbers.ts';

const zh = numberSpeller('zh');

function spellNumber(text: string): string {
  return text.includes('.') ? zh.decimal(text) : zh.cardinal(BigInt(text));
}

export function chineseNumbers(text: string): string {
  return text
    .replace(/(\d+(?:\.\d+)?)[%％]/g, (_m, n: string) => `百分之${spellNumber(n)}`)
    .replace(/\d+(?:\.\d+)?/g, (m) => spellNumber(m));
}

export function chineseToPinyin(text: string): string {
  const syllables = pinyin(text, { toneType: 'num', type: 'array', v: true, nonZh: 'consecutive' });
  // pinyin-pro writes the neutral tone as 0; pypinyin's neutral_tone_with_five writes 5.
  return syllables.map((s) => s.replace(/^([a-zv]+)0$/, '$15')).join('');
}
