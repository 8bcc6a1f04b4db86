/**
 * Russian as Python num2words writes it where n2words differs (`lang_RU`): floats read as a
 * fraction ("две целых пять десятых": feminine whole and fraction, "целая/целых", then tenths,
 * hundredths... by the fraction's length), "тысяча" rather than "одна тысяча" in ordinals,
 * "нулевой" for 0. Cardinal words are n2words' (they agree with num2words').
 */
import * as ru from 'n2words/ru-RU';

const cardinal = (n: bigint): string => ru.toCardinal(n);

/** The cardinal with its last word feminine (одна, две), as num2words' gender='f'. */
function feminine(n: bigint): string {
  return cardinal(n)
    .replace(/(^|\s)один$/u, '$1одна')
    .replace(/(^|\s)два$/u, '$1две');
}

function pluralForm(n: bigint): 0 | 1 | 2 {
  const m100 = n % 100n;
  if (m100 >= 11n && m100 <= 14n) return 2;
  if (n % 10n === 1n) return 0;
  if (n % 10n >= 2n && n % 10n <= 4n) return 1;
  return 2;
}

const POINT = ['целая', 'целых', 'целых'];
// ordinals of 10^k, feminine nominative and genitive plural
const BITNESS: Array<[string, string]> = [
  ['десятая', 'десятых'],
  ['сотая', 'сотых'],
  ['тысячная', 'тысячных'],
  ['десятитысячная', 'десятитысячных'],
  ['стотысячная', 'стотысячных'],
  ['миллионная', 'миллионных'],
  ['десятимиллионная', 'десятимиллионных'],
  ['стомиллионная', 'стомиллионных'],
  ['миллиардная', 'миллиардных'],
  ['десятимиллиардная', 'десятимиллиардных'],
  ['стомиллиардная', 'стомиллиардных'],
  ['триллионная', 'триллионных'],
  ['десятитриллионная', 'десятитриллионных'],
  ['стотриллионная', 'стотриллионных'],
  ['квадриллионная', 'квадриллионных'],
  ['десятиквадриллионная', 'десятиквадриллионных'],
  ['стоквадриллионная', 'стоквадриллионных'],
];

export function russianDecimal(digits: string): string {
  const [left = '0', right = '0'] = digits.split('.');
  const names = BITNESS[right.length - 1];
  if (!names) throw new RangeError(`too many decimals: ${digits}`);
  const bitness = right.endsWith('1') && !right.endsWith('11') ? names[0] : names[1];
  const whole = BigInt(left);
  return `${feminine(whole)} ${POINT[pluralForm(whole)]} ${feminine(BigInt(right))} ${bitness}`;
}

export function russianOrdinal(n: bigint): string {
  if (n === 0n) return 'нулевой';
  return ru.toOrdinal(n).replace(/^одна тысяча/u, 'тысяча');
}
