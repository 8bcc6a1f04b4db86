/**
 * The reference's `multilingual_cleaners` and `preprocess_text`: the per-language text
 * pipeline that runs before BPE.
 */
import { expandAbbreviations } from './abbreviations.ts';
import { chineseToPinyin } from './chinese.ts';
import { chineseTextNorm } from './chinese-textnorm.ts';
import { expandNumbers } from './expand-numbers.ts';
import { japaneseCleaners } from './japanese.ts';
import { romanizeKorean } from './korean.ts';
import { type BaseLanguage, baseLanguage } from './languages.ts';
import { expandSymbols } from './symbols.ts';

export function collapseWhitespace(text: string): string {
  return text.replace(/\s+/gu, ' ');
}

export function multilingualCleaners(text: string, lang: Exclude<BaseLanguage, 'ja'>): string {
  let out = text.replaceAll('"', '');
  if (lang === 'tr') out = out.replaceAll('İ', 'i').replaceAll('Ö', 'ö').replaceAll('Ü', 'ü');
  out = out.toLowerCase();
  out = lang === 'zh' ? chineseTextNorm(out) : expandNumbers(out, lang);
  out = expandAbbreviations(out, lang);
  out = expandSymbols(out, lang);
  return collapseWhitespace(out);
}

/** `preprocess_text`: cleaners, then pinyin for zh and romanisation for ko; ja apart. */
export function preprocessText(text: string, lang: string): string {
  const base = baseLanguage(lang);
  if (base === 'ja') return japaneseCleaners(text);
  const cleaned = multilingualCleaners(text, base);
  if (base === 'zh') return chineseToPinyin(cleaned);
  if (base === 'ko') return romanizeKorean(cleaned);
  return cleaned;
}
