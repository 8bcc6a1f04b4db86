/** Spanish numbers as Python num2words writes them (`lang_ES`): cardinals, ordinals, currency forms. */
import { baseFloat, CardSpeller, europeanHigh, lowCards, type Pair } from './num2words-base.ts';

const CARDS = [
  ...europeanHigh(['cuatr', 'tr', 'b', 'm'], 'illón', ''),
  ...([
    [1000n, 'mil'],
    [100n, 'cien'],
    [90n, 'noventa'],
    [80n, 'ochenta'],
    [70n, 'setenta'],
    [60n, 'sesenta'],
    [50n, 'cincuenta'],
    [40n, 'cuarenta'],
    [30n, 'treinta'],
  ] as Array<[bigint, string]>),
  ...lowCards(
    (
      'veintinueve veintiocho veintisiete veintiséis veinticinco veinticuatro veintitrés veintidós veintiuno ' +
      'veinte diecinueve dieciocho diecisiete dieciséis quince catorce trece doce once diez nueve ocho siete ' +
      'seis cinco cuatro tres dos uno cero'
    ).split(' '),
  ),
];

function merge([ctext0, cnum]: Pair, [ntext0, nnum]: Pair): Pair {
  let ctext = ctext0;
  let ntext = ntext0;
  if (cnum === 1n) {
    if (nnum < 1_000_000n) return [ntext, nnum];
    ctext = 'un';
  } else if (cnum === 100n && nnum % 1000n !== 0n) ctext += 'to';
  if (nnum < cnum) {
    if (cnum < 100n) return [`${ctext} y ${ntext}`, cnum + nnum];
    return [`${ctext} ${ntext}`, cnum + nnum];
  }
  if (nnum % 1_000_000n === 0n && cnum > 1n) ntext = `${ntext.slice(0, -3)}lones`;
  if (nnum === 100n) {
    if (cnum === 5n) {
      ctext = 'quinien';
      ntext = '';
    } else if (cnum === 7n) ctext = 'sete';
    else if (cnum === 9n) ctext = 'nove';
    ntext += 'tos';
  } else ntext = ` ${ntext}`;
  return [ctext + ntext, cnum * nnum];
}

const speller = new CardSpeller(CARDS, merge, 'menos ');
export const spanishCardinal = (n: bigint): string => speller.cardinal(n);
export const spanishDecimal = baseFloat(spanishCardinal, 'punto');

const ORDS = new Map<number, string>([
  [1, 'primer'],
  [2, 'segund'],
  [3, 'tercer'],
  [4, 'cuart'],
  [5, 'quint'],
  [6, 'sext'],
  [7, 'séptim'],
  [8, 'octav'],
  [9, 'noven'],
  [10, 'décim'],
  [20, 'vigésim'],
  [30, 'trigésim'],
  [40, 'quadragésim'],
  [50, 'quincuagésim'],
  [60, 'sexagésim'],
  [70, 'septuagésim'],
  [80, 'octogésim'],
  [90, 'nonagésim'],
  [100, 'centésim'],
  [200, 'ducentésim'],
  [300, 'tricentésim'],
  [400, 'cuadrigentésim'],
  [500, 'quingentésim'],
  [600, 'sexcentésim'],
  [700, 'septigentésim'],
  [800, 'octigentésim'],
  [900, 'noningentésim'],
  [1e3, 'milésim'],
  [1e6, 'millonésim'],
  [1e9, 'billonésim'],
  [1e12, 'trillonésim'],
  [1e15, 'cuadrillonésim'],
]);

function ordinalText(value: number): string {
  if (value === 0) return '';
  if (value <= 10) return `${ORDS.get(value)}o`;
  if (value <= 12) return `${ORDS.get(10)}o${ordinalText(value - 10)}`;
  if (value <= 100) {
    const dec = Math.floor(value / 10) * 10;
    return `${ORDS.get(dec)}o ${ordinalText(value - dec)}`;
  }
  if (value <= 1e3) {
    const cen = Math.floor(value / 100) * 100;
    return `${ORDS.get(cen)}o ${ordinalText(value - cen)}`;
  }
  if (value < 1e18) {
    // num2words: 1000 ** int(math.log(value, 1000)), in floating point as there
    const dec = 1000 ** Math.trunc(Math.log(value) / Math.log(1000));
    const high = Math.floor(value / dec);
    const low = value % dec;
    const card = high !== 1 ? spanishCardinal(BigInt(high)) : '';
    return `${card}${ORDS.get(dec)}o ${ordinalText(low)}`;
  }
  return spanishCardinal(BigInt(value));
}

export function spanishOrdinal(n: bigint): string {
  return ordinalText(Number(n)).trim();
}

// num2words ES: feminine currencies ("una libra", "trescientas libras")
const FEMININE_CURRENCIES = new Set(['GBP']);

/** num2words ES `to_currency` after the generic one: gender and apocope of "uno". */
export function spanishCurrencyWords(text: string, currency: string): string {
  const parts = text.split(' con ');
  let units = parts[0] as string;
  if (FEMININE_CURRENCIES.has(currency)) units = units.replaceAll('uno', 'una').replaceAll('cientos', 'cientas');
  parts[0] = units.replaceAll('veintiuno', 'veintiún').replaceAll('uno', 'un');
  if (parts[1] !== undefined) parts[1] = parts[1].replaceAll('veintiuno', 'veintiún').replaceAll('uno', 'un');
  return parts.join(' con ');
}
