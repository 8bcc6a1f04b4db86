/**
 * The reference's per-language abbreviation tables (`_abbreviations`), applied in order,
 * case-insensitively, each followed by a "." — except Russian, whose entries end at a word
 * boundary instead.
 */
import type { BaseLanguage } from './languages.ts';
import { escapeRegExp, WORD_END, WORD_START } from './pyregex.ts';

const TABLES: Record<BaseLanguage, Array<[string, string]>> = {
  en: [
    ['mrs', 'misess'],
    ['mr', 'mister'],
    ['dr', 'doctor'],
    ['st', 'saint'],
    ['co', 'company'],
    ['jr', 'junior'],
    ['maj', 'major'],
    ['gen', 'general'],
    ['drs', 'doctors'],
    ['rev', 'reverend'],
    ['lt', 'lieutenant'],
    ['hon', 'honorable'],
    ['sgt', 'sergeant'],
    ['capt', 'captain'],
    ['esq', 'esquire'],
    ['ltd', 'limited'],
    ['col', 'colonel'],
    ['ft', 'fort'],
  ],
  es: [
    ['sra', 'señora'],
    ['sr', 'señor'],
    ['dr', 'doctor'],
    ['dra', 'doctora'],
    ['st', 'santo'],
    ['co', 'compañía'],
    ['jr', 'junior'],
    ['ltd', 'limitada'],
  ],
  fr: [
    ['mme', 'madame'],
    ['mr', 'monsieur'],
    ['dr', 'docteur'],
    ['st', 'saint'],
    ['co', 'compagnie'],
    ['jr', 'junior'],
    ['ltd', 'limitée'],
  ],
  de: [
    ['fr', 'frau'],
    ['dr', 'doktor'],
    ['st', 'sankt'],
    ['co', 'firma'],
    ['jr', 'junior'],
  ],
  pt: [
    ['sra', 'senhora'],
    ['sr', 'senhor'],
    ['dr', 'doutor'],
    ['dra', 'doutora'],
    ['st', 'santo'],
    ['co', 'companhia'],
    ['jr', 'júnior'],
    ['ltd', 'limitada'],
  ],
  it: [
    ['sig', 'signore'],
    ['dr', 'dottore'],
    ['st', 'santo'],
    ['co', 'compagnia'],
    ['jr', 'junior'],
    ['ltd', 'limitata'],
  ],
  pl: [
    ['p', 'pani'],
    ['m', 'pan'],
    ['dr', 'doktor'],
    ['sw', 'święty'],
    ['jr', 'junior'],
  ],
  ar: [],
  zh: [],
  cs: [
    ['dr', 'doktor'],
    ['ing', 'inženýr'],
    ['p', 'pan'],
  ],
  ru: [
    ['г-жа', 'госпожа'],
    ['г-н', 'господин'],
    ['д-р', 'доктор'],
  ],
  nl: [
    ['dhr', 'de heer'],
    ['mevr', 'mevrouw'],
    ['dr', 'dokter'],
    ['jhr', 'jonkheer'],
  ],
  tr: [
    ['b', 'bay'],
    ['byk', 'büyük'],
    ['dr', 'doktor'],
  ],
  hu: [
    ['dr', 'doktor'],
    ['b', 'bácsi'],
    ['nőv', 'nővér'],
  ],
  ko: [],
  hi: [],
  ja: [],
};

const COMPILED = Object.fromEntries(
  Object.entries(TABLES).map(([lang, table]) => [
    lang,
    table.map(([abbr, word]): [RegExp, string] => {
      const tail = lang === 'ru' ? WORD_END : String.raw`\.`;
      return [new RegExp(`${WORD_START}${escapeRegExp(abbr)}${tail}`, 'giu'), word];
    }),
  ]),
) as Record<BaseLanguage, Array<[RegExp, string]>>;

export function expandAbbreviations(text: string, lang: BaseLanguage): string {
  let out = text;
  for (const [re, word] of COMPILED[lang]) out = out.replace(re, word);
  return out;
}
