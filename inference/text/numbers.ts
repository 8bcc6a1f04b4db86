/**
 * Per-language number words with the shapes Python num2words 0.5.14 gives the reference
 * (`num2words(x, lang=...)`): cardinals, ordinals and floats. n2words (npm, a JavaScript
 * descendant of num2words) is used where its words equal num2words' on the reference corpus
 * (test/fixtures/coqui-text): fr, de, pl, ru and hu/ko cardinals, Turkish words. Elsewhere it
 * joins, spells or inflects differently (Dutch compounds, Czech hundreds, Italian contractions,
 * Arabic "و ", Spanish accents...), so num2words' own rules are ported in num2words-*.ts.
 * Hindi is not in num2words at all (the reference raises); n2words' Hindi is read instead.
 */
import * as cs from 'n2words/cs-CZ';
import * as de from 'n2words/de-DE';
import * as fr from 'n2words/fr-FR';
import * as hi from 'n2words/hi-IN';
import * as hu from 'n2words/hu-HU';
import * as ko from 'n2words/ko-KR';
import * as pl from 'n2words/pl-PL';
import * as ru from 'n2words/ru-RU';
import type { BaseLanguage } from './languages.ts';
import { arabic } from './num2words-ar.ts';
import { czechCardinal } from './num2words-cs.ts';
import { spanishCardinal, spanishDecimal, spanishOrdinal } from './num2words-es.ts';
import { hungarianDecimal, hungarianOrdinal } from './num2words-hu.ts';
import { italianCardinal, italianDecimal, italianOrdinal } from './num2words-it.ts';
import { koreanDecimal, koreanOrdinal } from './num2words-ko.ts';
import { dutch } from './num2words-nl.ts';
import { portugueseCardinal, portugueseDecimal, portugueseOrdinal } from './num2words-pt.ts';
import { russianDecimal, russianOrdinal } from './num2words-ru.ts';
import { turkishCardinal, turkishOrdinal } from './num2words-tr.ts';
import { englishCardinal, englishOrdinal } from './numbers-en.ts';

export type NumberSpeller = {
  cardinal(n: bigint): string;
  ordinal(n: bigint): string;
  /** `digits` is the float's shortest decimal text, e.g. "12.5" (Python's `str(float)`). */
  decimal(digits: string): string;
};

type N2w = {
  toCardinal(v: number | string | bigint): string;
  toOrdinal(v: number | string | bigint): string;
};

/**
 * num2words base `to_cardinal_float`: integer part, point word, then each digit. The base
 * `to_cardinal` sends an integer-valued float (12.0) down the integer path ("twelve");
 * Italian's own float reader does not ("dodici virgola zero").
 */
function digitwise(card: (n: bigint) => string, point: string, wholeAsInteger = true) {
  return (digits: string): string => {
    const [int = '0', frac = ''] = digits.split('.');
    if (wholeAsInteger && /^0*$/.test(frac)) return card(BigInt(int));
    const words = [...frac].map((d) => card(BigInt(d)));
    return [card(BigInt(int)), point, ...words].join(' ');
  };
}

/** num2words PL/RU/CZ: the fraction is read as one integer after its leading zeros. */
function integerFraction(card: (n: bigint) => string, point: string, zero: string) {
  return (digits: string): string => {
    const [int = '0', frac = '0'] = digits.split('.');
    const zeros = frac.length - frac.replace(/^0+/, '').length;
    const tail = `${`${zero} `.repeat(zeros)}${card(BigInt(frac))}`;
    return `${card(BigInt(int))} ${point} ${tail}`;
  };
}

function fromN2words(lib: N2w, decimal?: (digits: string) => string): NumberSpeller {
  const cardinal = (n: bigint) => lib.toCardinal(n);
  return {
    cardinal,
    ordinal: (n) => lib.toOrdinal(n),
    decimal: decimal ?? ((d) => lib.toCardinal(d)),
  };
}

const card = (lib: N2w) => (n: bigint) => lib.toCardinal(n);

/** Chinese numbers go through TextNorm (chinese-textnorm.ts), Japanese ones stay digits (cutlet). */
export type SpelledLanguage = Exclude<BaseLanguage, 'zh' | 'ja'>;

const SPELLERS: Record<SpelledLanguage, NumberSpeller> = {
  en: { cardinal: englishCardinal, ordinal: englishOrdinal, decimal: digitwise(englishCardinal, 'point') },
  es: { cardinal: spanishCardinal, ordinal: spanishOrdinal, decimal: spanishDecimal },
  // num2words' ordinals of 0, which n2words refuses
  fr: { ...fromN2words(fr, digitwise(card(fr), 'virgule')), ordinal: (n) => (n === 0n ? 'zéroième' : fr.toOrdinal(n)) },
  de: { ...fromN2words(de, digitwise(card(de), 'Komma')), ordinal: (n) => (n === 0n ? 'nullte' : de.toOrdinal(n)) },
  it: { cardinal: italianCardinal, ordinal: italianOrdinal, decimal: italianDecimal },
  pt: { cardinal: portugueseCardinal, ordinal: portugueseOrdinal, decimal: portugueseDecimal },
  nl: dutch,
  pl: fromN2words(pl, integerFraction(card(pl), 'przecinek', 'zero')),
  ru: { cardinal: card(ru), ordinal: russianOrdinal, decimal: russianDecimal },
  cs: {
    cardinal: czechCardinal,
    // num2words has no Czech ordinals (the reference raises on "1. "); n2words' ordinal is read
    // ("nultý" for 0, which n2words refuses).
    ordinal: (n) => (n === 0n ? 'nultý' : cs.toOrdinal(n)),
    decimal: integerFraction(czechCardinal, 'celá', 'nula'),
  },
  // Turkish decimals never reach num2words (the reference skips them for tr).
  tr: { cardinal: turkishCardinal, ordinal: turkishOrdinal, decimal: digitwise(turkishCardinal, 'virgül') },
  hu: { cardinal: card(hu), ordinal: hungarianOrdinal, decimal: hungarianDecimal },
  ar: { cardinal: arabic.cardinal, ordinal: arabic.ordinal, decimal: arabic.decimal },
  ko: { cardinal: card(ko), ordinal: koreanOrdinal, decimal: koreanDecimal },
  // num2words has no Hindi: the reference raises on any number in Hindi text. The engine reads
  // n2words' Hindi words instead (the README's table).
  hi: { ...fromN2words(hi), ordinal: (n) => (n === 0n ? hi.toCardinal(0n) : hi.toOrdinal(n)) },
};

export function numberSpeller(lang: SpelledLanguage): NumberSpeller {
  return SPELLERS[lang];
}

/** Python's `str(float(text))` digits for a decimal like "012.50" → "12.5"; "12.0" stays. */
export function pythonFloatDigits(text: string): string {
  const value = Number(text);
  const s = String(value);
  return Number.isInteger(value) ? `${s}.0` : s;
}
