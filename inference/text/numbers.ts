/**
 * Per-language number words with the shapes Python num2words gives the reference
 * (`num2words(x, lang=...)`): cardinals, ordinals and floats. English is a direct port
 * (numbers-en.ts); the other languages use n2words, a JavaScript descendant of num2words
 * whose cardinals and ordinals agree with it on the reference tokenizer's test sentences.
 * Float reading is not n2words': num2words reads the fraction differently per language
 * (digit by digit, as an integer, or with a fraction noun), so that part is ported here.
 */
import * as cs from 'n2words/cs-CZ';
import * as de from 'n2words/de-DE';
import * as fr from 'n2words/fr-FR';
import * as hi from 'n2words/hi-IN';
import * as hu from 'n2words/hu-HU';
import * as ja from 'n2words/ja-JP';
import * as ko from 'n2words/ko-KR';
import * as pl from 'n2words/pl-PL';
import * as ru from 'n2words/ru-RU';
import * as zh from 'n2words/zh-Hans-CN';
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

// Chinese: n2words defaults to financial numerals (壹拾贰); the reference's TextNorm writes
// everyday ones and drops the leading 一 of 10–19 (十二, not 一十二).
function zhCardinal(n: bigint): string {
  return zh.toCardinal(n, { formal: false }).replace(/^一十/, '十');
}

const SPELLERS: Record<BaseLanguage, NumberSpeller> = {
  en: { cardinal: englishCardinal, ordinal: englishOrdinal, decimal: digitwise(englishCardinal, 'point') },
  es: { cardinal: spanishCardinal, ordinal: spanishOrdinal, decimal: spanishDecimal },
  fr: fromN2words(fr, digitwise(card(fr), 'virgule')),
  de: fromN2words(de, digitwise(card(de), 'Komma')),
  it: { cardinal: italianCardinal, ordinal: italianOrdinal, decimal: italianDecimal },
  pt: { cardinal: portugueseCardinal, ordinal: portugueseOrdinal, decimal: portugueseDecimal },
  nl: dutch,
  pl: fromN2words(pl, integerFraction(card(pl), 'przecinek', 'zero')),
  ru: { cardinal: card(ru), ordinal: russianOrdinal, decimal: russianDecimal },
  cs: {
    cardinal: czechCardinal,
    // num2words has no Czech ordinals (the reference raises on "1. "); n2words' ordinal is read.
    ordinal: (n) => cs.toOrdinal(n),
    decimal: integerFraction(czechCardinal, 'celá', 'nula'),
  },
  // Turkish decimals never reach num2words (the reference skips them for tr).
  tr: { cardinal: turkishCardinal, ordinal: turkishOrdinal, decimal: digitwise(turkishCardinal, 'virgül') },
  hu: { cardinal: card(hu), ordinal: hungarianOrdinal, decimal: hungarianDecimal },
  ar: { cardinal: arabic.cardinal, ordinal: arabic.ordinal, decimal: arabic.decimal },
  // num2words has no Hindi: the reference raises on any number in Hindi text. The engine reads
  // n2words' Hindi words instead (the README's table).
  ko: { cardinal: card(ko), ordinal: koreanOrdinal, decimal: koreanDecimal },
  hi: fromN2words(hi),
  ja: fromN2words(ja),
  zh: {
    cardinal: zhCardinal,
    ordinal: (n) => `第${zhCardinal(n)}`,
    decimal: (d) => {
      const [int = '0', frac = ''] = d.split('.');
      const digits = [...frac].map((c) => '零一二三四五六七八九'[Number(c)]).join('');
      return frac ? `${zhCardinal(BigInt(int))}点${digits}` : zhCardinal(BigInt(int));
    },
  },
};

export function numberSpeller(lang: BaseLanguage): NumberSpeller {
  return SPELLERS[lang];
}

/** Python's `str(float(text))` digits for a decimal like "012.50" → "12.5"; "12.0" stays. */
export function pythonFloatDigits(text: string): string {
  const value = Number(text);
  const s = String(value);
  return Number.isInteger(value) ? `${s}.0` : s;
}
