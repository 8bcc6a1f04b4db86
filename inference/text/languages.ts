/**
 * The 17 languages of the released XTTS-v2 config.json and the per-language character
 * limits of the reference tokenizer (`char_limits`). Beyond a limit the reference warns
 * that audio may be truncated, and the sentence splitter packs sentences up to it.
 */
export const LANGUAGES = [
  'en',
  'es',
  'fr',
  'de',
  'it',
  'pt',
  'pl',
  'tr',
  'ru',
  'nl',
  'cs',
  'ar',
  'zh-cn',
  'hu',
  'ko',
  'ja',
  'hi',
] as const;

export type Language = (typeof LANGUAGES)[number];

/** The reference strips the region (`zh-cn` → `zh`) before cleaning; this is that base code. */
export type BaseLanguage = Exclude<Language, 'zh-cn'> | 'zh';

const CHAR_LIMITS: Record<BaseLanguage, number> = {
  en: 250,
  de: 253,
  fr: 273,
  es: 239,
  it: 213,
  pt: 203,
  pl: 224,
  zh: 82,
  ar: 166,
  cs: 186,
  ru: 182,
  nl: 251,
  tr: 226,
  ja: 71,
  hu: 224,
  ko: 95,
  hi: 150,
};

/** The reference's fallback for a language missing from `char_limits`. */
export const DEFAULT_CHAR_LIMIT = 250;

export class UnsupportedLanguageError extends Error {
  readonly code = 'LANGUAGE_NOT_SUPPORTED';
  readonly language: string;
  constructor(language: string) {
    super(`Language '${language}' is not supported by XTTS-v2`);
    this.language = language;
    this.name = 'UnsupportedLanguageError';
  }
}

/** `zh-cn` → `zh`, `en-US` → `en`; throws for a language XTTS-v2 was not trained on. */
export function baseLanguage(lang: string): BaseLanguage {
  const base = lang.toLowerCase().split('-')[0] ?? '';
  if (base in CHAR_LIMITS) return base as BaseLanguage;
  throw new UnsupportedLanguageError(lang);
}

export function charLimit(lang: string): number {
  const base = lang.toLowerCase().split('-')[0] ?? '';
  return (CHAR_LIMITS as Record<string, number>)[base] ?? DEFAULT_CHAR_LIMIT;
}

/** The language tag the vocabulary knows: zh is tagged `[zh-cn]`, the others by base code. */
export function languageTag(lang: string): string {
  const base = baseLanguage(lang);
  return base === 'zh' ? 'zh-cn' : base;
}
