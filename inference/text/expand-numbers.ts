/**
 * The reference's `expand_numbers_multilingual` (all languages but zh, see chinese.ts):
 * thousands separators, £ $ € amounts, decimals, ordinals and remaining integers become
 * words, in that order. Its regular expressions are kept as they are, quirks included.
 */
import { type Currency, spellCurrency } from './currency.ts';
import type { BaseLanguage } from './languages.ts';
import { numberSpeller, pythonFloatDigits } from './numbers.ts';
import { DIGIT, WORD_END, WORD_START } from './pyregex.ts';

const COMMA_NUMBER = new RegExp(
  String.raw`${WORD_START}${DIGIT}{1,3}(?:,${DIGIT}{3})*(?:\.${DIGIT}+)?${WORD_END}`,
  'gu',
);
// The reference leaves the first "." unescaped, so any character may separate the groups
// (only dots are then removed).
const DOT_NUMBER = new RegExp(
  String.raw`${WORD_START}${DIGIT}{1,3}(?:[^\n]${DIGIT}{3})*(?:,${DIGIT}+)?${WORD_END}`,
  'gu',
);

// The reference's `[0-9.,]*[0-9]+` before or after the symbol, written `[0-9.,]*[0-9]`: the same
// matches without the cubic backtracking of the original on a long run of digits.
const CURRENCY_RE: Array<[Currency, string, RegExp]> = [
  ['GBP', '£', /(£[0-9.,]*[0-9])|([0-9.,]*[0-9]£)/gu],
  ['USD', '$', /(\$[0-9.,]*[0-9])|([0-9.,]*[0-9]\$)/gu],
  ['EUR', '€', /([0-9.,]*[0-9]€)|(€[0-9.,]*[0-9])/gu],
];
const DECIMAL = /([0-9]+[.,][0-9]+)/gu;
const NUMBER = /[0-9]+/gu;

const ORDINAL: Record<Exclude<BaseLanguage, 'zh' | 'ja'>, RegExp> = {
  en: /([0-9]+)(st|nd|rd|th)/gu,
  es: /([0-9]+)(º|ª|er|o|a|os|as)/gu,
  fr: /([0-9]+)(º|ª|er|re|e|ème)/gu,
  de: /([0-9]+)(st|nd|rd|th|º|ª|\.(?=\s|$))/gu,
  pt: /([0-9]+)(º|ª|o|a|os|as)/gu,
  it: /([0-9]+)(º|°|ª|o|a|i|e)/gu,
  pl: /([0-9]+)(º|ª|st|nd|rd|th)/gu,
  ar: /([0-9]+)(ون|ين|ث|ر|ى)/gu,
  cs: /([0-9]+)\.(?=\s|$)/gu,
  ru: /([0-9]+)(-й|-я|-е|-ое|-ье|-го)/gu,
  nl: /([0-9]+)(de|ste|e)/gu,
  tr: /([0-9]+)(\.|inci|nci|uncu|üncü|\.)/gu,
  hu: /([0-9]+)(\.|adik|edik|odik|edik|ödik|ödike|ik)/gu,
  ko: /([0-9]+)(번째|번|차|째)/gu,
  hi: /([0-9]+)(st|nd|rd|th)/gu,
};

export function expandNumbers(text: string, lang: Exclude<BaseLanguage, 'zh' | 'ja'>): string {
  const speller = numberSpeller(lang);
  let out = text;
  if (lang === 'en' || lang === 'ru') out = out.replace(COMMA_NUMBER, (m) => m.replaceAll(',', ''));
  else out = out.replace(DOT_NUMBER, (m) => m.replaceAll('.', ''));

  // The reference wraps the three substitutions in one bare try/except: the first failure
  // (a currency num2words lacks for the language, an unparsable amount) skips the rest.
  try {
    for (const [currency, symbol, re] of CURRENCY_RE) {
      if (!out.includes(symbol)) continue;
      out = out.replace(re, (m) => {
        const amount = m.replaceAll(',', '.').replace(/[^\p{Nd}.]/gu, '');
        return spellCurrency(amount, currency, lang, speller);
      });
    }
  } catch {
    // as the reference: leave the remaining amounts to the number and symbol steps
  }

  // A number past the range of the words (num2words raises OverflowError, or ValueError on a float
  // Python prints as 1e+21; n2words throws on numbers past its tables) is read digit by digit
  // instead of failing the whole text.
  const digitByDigit = (digits: string) => [...digits].map((d) => speller.cardinal(BigInt(d))).join(' ');
  const orDigits = (digits: string, spell: () => string) => {
    try {
      return spell();
    } catch {
      return digitByDigit(digits.replace(/\D/gu, ''));
    }
  };
  if (lang !== 'tr') {
    out = out.replace(DECIMAL, (m) => orDigits(m, () => speller.decimal(pythonFloatDigits(m.replace(',', '.')))));
  }
  out = out.replace(ORDINAL[lang], (_m, n: string) => orDigits(n, () => speller.ordinal(BigInt(n))));
  out = out.replace(NUMBER, (m) => orDigits(m, () => speller.cardinal(BigInt(m))));
  return out;
}
