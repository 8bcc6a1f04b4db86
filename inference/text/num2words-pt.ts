/** European Portuguese numbers as Python num2words writes them (`lang_PT`): cardinals, ordinals, amounts. */
import { baseFloat, CardSpeller, europeanHigh, lowCards, type Pair } from './num2words-base.ts';

const CARDS = [
  ...europeanHigh(['quatr', 'tr', 'b', 'm'], 'ilião', ''),
  ...([
    [1000n, 'mil'],
    [100n, 'cem'],
    [90n, 'noventa'],
    [80n, 'oitenta'],
    [70n, 'setenta'],
    [60n, 'sessenta'],
    [50n, 'cinquenta'],
    [40n, 'quarenta'],
    [30n, 'trinta'],
  ] as Array<[bigint, string]>),
  ...lowCards(
    (
      'vinte dezanove dezoito dezassete dezasseis quinze catorze treze doze onze dez nove oito sete seis ' +
      'cinco quatro três dois um zero'
    ).split(' '),
  ),
];
const HUNDREDS = [
  '',
  'cento',
  'duzentos',
  'trezentos',
  'quatrocentos',
  'quinhentos',
  'seiscentos',
  'setecentos',
  'oitocentos',
  'novecentos',
];

function merge([ctext0, cnum]: Pair, [ntext0, nnum]: Pair): Pair {
  let ctext = ctext0;
  let ntext = ntext0;
  if (cnum === 1n) {
    if (nnum < 1_000_000n) return [ntext, nnum];
    ctext = 'um';
  } else if (cnum === 100n && nnum % 1000n !== 0n) ctext = 'cento';
  if (nnum < cnum) return [`${ctext} e ${ntext}`, cnum + nnum];
  if (nnum % 1_000_000_000n === 0n && cnum > 1n) ntext = `${ntext.slice(0, -4)}liões`;
  else if (nnum % 1_000_000n === 0n && cnum > 1n) ntext = `${ntext.slice(0, -4)}lhões`;
  if (ntext === 'milião') ntext = 'milhão';
  if (nnum === 100n) {
    ctext = HUNDREDS[Number(cnum)] as string;
    ntext = '';
  } else ntext = ` ${ntext}`;
  return [ctext + ntext, cnum * nnum];
}

const speller = new CardSpeller(CARDS, merge, 'menos ');
const W = String.raw`[\p{L}\p{N}_]`;

export function portugueseCardinal(n: bigint): string {
  let result = speller.cardinal(n);
  for (const ext of ['mil', 'milhão', 'milhões', 'mil milhões', 'bilião', 'biliões', 'mil biliões']) {
    // Python: re.match('.*{ext} e \w*entos? (?=.*e)', result)
    if (new RegExp(`^.*${ext} e ${W}*entos? (?=.*e)`, 'u').test(result)) {
      result = result.replaceAll(`${ext} e`, ext);
    }
  }
  return result;
}

export const portugueseDecimal = baseFloat(portugueseCardinal, 'vírgula');

const ORDS = [
  ['', 'primeiro', 'segundo', 'terceiro', 'quarto', 'quinto', 'sexto', 'sétimo', 'oitavo', 'nono'],
  [
    '',
    'décimo',
    'vigésimo',
    'trigésimo',
    'quadragésimo',
    'quinquagésimo',
    'sexagésimo',
    'septuagésimo',
    'octogésimo',
    'nonagésimo',
  ],
  [
    '',
    'centésimo',
    'ducentésimo',
    'tricentésimo',
    'quadrigentésimo',
    'quingentésimo',
    'seiscentésimo',
    'septigentésimo',
    'octigentésimo',
    'nongentésimo',
  ],
];
const THOUSAND_SEPARATORS: Record<number, string> = {
  3: 'milésimo',
  6: 'milionésimo',
  9: 'milésimo milionésimo',
  12: 'bilionésimo',
  15: 'milésimo bilionésimo',
};

export function portugueseOrdinal(n: bigint): string {
  const value = n.toString();
  const result: string[] = [];
  let separator = '';
  [...value].reverse().forEach((char, idx) => {
    if (idx && idx % 3 === 0) separator = THOUSAND_SEPARATORS[idx] ?? '';
    if (char !== '0' && separator) {
      result.push(separator);
      separator = '';
    }
    result.push(ORDS[idx % 3]?.[Number(char)] as string);
  });
  let out = result.reverse().join(' ').trim().replace(/\s+/gu, ' ');
  if (out.startsWith('primeiro') && value !== '1') out = out.slice(9);
  return out;
}

/** num2words PT `to_currency` after the generic one: "milhão de euros", no "e zero cêntimos". */
export function portugueseCurrencyWords(text: string, plural: string): string {
  let out = text;
  for (const ext of ['milhão', 'milhões', 'bilião', 'biliões', 'trilião', 'triliões']) {
    if (new RegExp(`^.*${ext} (?=${plural})`, 'u').test(out)) out = out.replace(ext, `${ext} de`);
  }
  return out.replaceAll(' e zero cêntimos', '');
}
