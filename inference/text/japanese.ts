/**
 * Japanese: the reference romanises with cutlet (MeCab + UniDic morphological analysis,
 * Hepburn, particles は/へ as "wa"/"e", foreign spellings for katakana loanwords), then
 * lowercases. No maintained npm library reproduces cutlet: this converts kana with
 * wanakana (Hepburn) and leaves kanji unchanged, so Japanese text with kanji, particles
 * or loanwords tokenizes differently from the reference. Treat Japanese as unfaithful.
 */
import { toRomaji } from 'wanakana';

export function japaneseCleaners(text: string): string {
  return toRomaji(text).toLowerCase();
}
