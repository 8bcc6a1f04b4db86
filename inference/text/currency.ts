/**
 * £ $ € amounts as the reference writes them: `num2words(amount, to="currency",
 * currency=..., lang=...)`, i.e. "<units> <unit name><separator> <cents> <cent name>",
 * with the "and zero cents" tail cut for whole amounts by the reference itself.
 * The unit names, plural rules and separators are num2words' per-language tables; a
 * language/currency pair num2words lacks raises, and the reference then silently skips
 * currency expansion for the rest of the text (its bare `except: pass`).
 */
import type { BaseLanguage } from './languages.ts';
import { arabic } from './num2words-ar.ts';
import { czechPlural } from './num2words-cs.ts';
import { spanishCurrencyWords } from './num2words-es.ts';
import { italianCurrencyWords } from './num2words-it.ts';
import { portugueseCurrencyWords } from './num2words-pt.ts';
import { type NumberSpeller, pythonFloatDigits } from './numbers.ts';

export type Currency = 'GBP' | 'USD' | 'EUR';

type Forms = readonly string[];
type CurrencyTable = {
  separator: string;
  plural: (n: bigint) => number;
  forms: Partial<Record<Currency, readonly [Forms, Forms]>>;
};

const oneOrMany = (n: bigint) => (n === 1n ? 0 : 1);
const frenchPlural = (n: bigint) => (n <= 1n ? 0 : 1);
// Slavic three-form plurals: 1, 2–4, 5+ (11–14 take the last form).
const slavicPlural = (n: bigint) => {
  const m100 = n % 100n;
  const m10 = n % 10n;
  if (m100 >= 10n && m100 <= 20n) return 2;
  if (m10 === 1n) return 0;
  if (m10 >= 2n && m10 <= 4n) return 1;
  return 2;
};

const CENTS = ['cent', 'cents'];

const TABLES: Partial<Record<BaseLanguage, CurrencyTable>> = {
  en: {
    separator: ',',
    plural: oneOrMany,
    forms: {
      EUR: [['euro', 'euro'], CENTS],
      USD: [['dollar', 'dollars'], CENTS],
      GBP: [
        ['pound sterling', 'pounds sterling'],
        ['penny', 'pence'],
      ],
    },
  },
  es: {
    separator: ' con',
    plural: oneOrMany,
    forms: {
      EUR: [
        ['euro', 'euros'],
        ['céntimo', 'céntimos'],
      ],
      USD: [
        ['dólar', 'dólares'],
        ['centavo', 'centavos'],
      ],
      GBP: [
        ['libra', 'libras'],
        ['penique', 'peniques'],
      ],
    },
  },
  fr: {
    separator: ' et',
    plural: frenchPlural,
    forms: {
      EUR: [
        ['euro', 'euros'],
        ['centime', 'centimes'],
      ],
      USD: [['dollar', 'dollars'], CENTS],
      GBP: [
        ['livre', 'livres'],
        ['penny', 'pence'],
      ],
    },
  },
  de: {
    separator: ' und',
    plural: oneOrMany,
    forms: {
      EUR: [
        ['Euro', 'Euro'],
        ['Cent', 'Cent'],
      ],
      USD: [
        ['Dollar', 'Dollar'],
        ['Cent', 'Cent'],
      ],
      GBP: [
        ['Pfund', 'Pfund'],
        ['Penny', 'Pence'],
      ],
    },
  },
  it: {
    separator: ' e',
    plural: oneOrMany,
    forms: {
      EUR: [
        ['euro', 'euro'],
        ['centesimo', 'centesimi'],
      ],
      USD: [
        ['dollaro', 'dollari'],
        ['centesimo', 'centesimi'],
      ],
      GBP: [
        ['sterlina', 'sterline'],
        ['penny', 'penny'],
      ],
    },
  },
  pt: {
    separator: ' e',
    plural: oneOrMany,
    forms: {
      EUR: [
        ['euro', 'euros'],
        ['cêntimo', 'cêntimos'],
      ],
      USD: [
        ['dólar', 'dólares'],
        ['cêntimo', 'cêntimos'],
      ],
      GBP: [
        ['libra', 'libras'],
        ['péni', 'pence'],
      ],
    },
  },
  nl: {
    separator: ',',
    // num2words NL always takes the first form
    plural: () => 0,
    forms: {
      EUR: [
        ['euro', 'euro'],
        ['cent', 'cent'],
      ],
      GBP: [
        ['pond', 'pond'],
        ['penny', 'pence'],
      ],
      USD: [
        ['dollar', 'dollar'],
        ['cent', 'cent'],
      ],
    },
  },
  pl: {
    separator: ',',
    plural: czechPlural,
    forms: {
      EUR: [
        ['euro', 'euro', 'euro'],
        ['cent', 'centy', 'centów'],
      ],
      USD: [
        ['dolar amerykański', 'dolary amerykańskie', 'dolarów amerykańskich'],
        ['cent', 'centy', 'centów'],
      ],
    },
  },
  // num2words HU takes the generic European forms
  hu: {
    separator: ',',
    plural: oneOrMany,
    forms: {
      EUR: [['euro', 'euro'], CENTS],
      USD: [['dollar', 'dollars'], CENTS],
      GBP: [
        ['pound sterling', 'pounds sterling'],
        ['penny', 'pence'],
      ],
    },
  },
  cs: {
    separator: ',',
    plural: czechPlural,
    forms: {
      EUR: [
        ['euro', 'euro', 'euro'],
        ['cent', 'centy', 'centů'],
      ],
    },
  },
  ru: {
    separator: ',',
    plural: slavicPlural,
    forms: {
      EUR: [
        ['евро', 'евро', 'евро'],
        ['цент', 'цента', 'центов'],
      ],
      USD: [
        ['доллар', 'доллара', 'долларов'],
        ['цент', 'цента', 'центов'],
      ],
    },
  },
};

/** What the reference looks for to cut "and zero cents" off a whole amount (`and_equivalents`). */
const AND_EQUIVALENTS: Partial<Record<BaseLanguage, string>> = {
  en: ', ',
  es: ' con ',
  fr: ' et ',
  de: ' und ',
  pt: ' e ',
  it: ' e ',
  pl: ', ',
  cs: ', ',
  ru: ', ',
  nl: ', ',
  ar: ', ',
  tr: ', ',
  hu: ', ',
  ko: ', ',
  hi: ', ',
};

export class CurrencyNotSupportedError extends Error {
  constructor(lang: string, currency: Currency) {
    super(`num2words has no ${currency} forms for '${lang}'`);
    this.name = 'CurrencyNotSupportedError';
  }
}

/**
 * `amount` is the matched text with the symbol removed and "," read as "." (the reference's
 * `float(re.sub(r"[^\d.]", "", m.group(0).replace(",", ".")))`).
 */
export function spellCurrency(
  amountText: string,
  currency: Currency,
  lang: BaseLanguage,
  speller: NumberSpeller,
): string {
  if (lang === 'ar') {
    // num2words AR: riyals and halalas whatever the currency; whole amounts keep their form
    const amount = Number(amountText);
    if (!Number.isFinite(amount)) throw new CurrencyNotSupportedError(lang, currency);
    return arabic.currency(pythonFloatDigits(amountText));
  }
  if (lang === 'ko') {
    // num2words KO knows only dollars here: "<units without spaces>달러 <cents>센트", zero cents kept
    const amount = Number(amountText);
    if (currency !== 'USD' || !Number.isFinite(amount)) throw new CurrencyNotSupportedError(lang, currency);
    const cents = BigInt(Math.round(Number((amount * 100).toFixed(6))));
    return `${speller.cardinal(cents / 100n).replaceAll(' ', '')}달러 ${speller.cardinal(cents % 100n)}센트`;
  }
  const table = TABLES[lang];
  const forms = table?.forms[currency];
  if (!table || !forms) throw new CurrencyNotSupportedError(lang, currency);
  const amount = Number(amountText);
  if (!Number.isFinite(amount)) throw new CurrencyNotSupportedError(lang, currency);
  // num2words quantizes to cents with ROUND_HALF_UP on the decimal text of the float.
  const cents = BigInt(Math.round(Number((amount * 100).toFixed(6))));
  const left = cents / 100n;
  const right = cents % 100n;
  const [unit, sub] = forms;
  const unitName = unit[table.plural(left)] ?? unit.at(-1);
  const subName = sub[table.plural(right)] ?? sub.at(-1);
  let text = `${speller.cardinal(left)} ${unitName}${table.separator} ${speller.cardinal(right)} ${subName}`;
  if (lang === 'es') text = spanishCurrencyWords(text, currency);
  if (lang === 'pt') text = portugueseCurrencyWords(text, unit[1] as string);
  if (lang === 'it') text = italianCurrencyWords(text, currency);
  if (Number.isInteger(amount)) {
    const cut = text.lastIndexOf(AND_EQUIVALENTS[lang] ?? ', ');
    if (cut !== -1) text = text.slice(0, cut);
  }
  return text;
}
