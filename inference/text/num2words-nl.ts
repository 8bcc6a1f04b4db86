/** Dutch numbers as Python num2words writes them (`lang_NL`): "duizendnegenhonderdvijfennegentig". */
import { baseFloat, CardSpeller, europeanHigh, lowCards, type Pair } from './num2words-base.ts';

const CARDS = [
  ...europeanHigh(['tr', 'b', 'm'], 'iljoen', 'iljard'),
  ...([
    [1000n, 'duizend'],
    [100n, 'honderd'],
    [90n, 'negentig'],
    [80n, 'tachtig'],
    [70n, 'zeventig'],
    [60n, 'zestig'],
    [50n, 'vijftig'],
    [40n, 'veertig'],
    [30n, 'dertig'],
  ] as Array<[bigint, string]>),
  ...lowCards([
    'twintig',
    'negentien',
    'achttien',
    'zeventien',
    'zestien',
    'vijftien',
    'veertien',
    'dertien',
    'twaalf',
    'elf',
    'tien',
    'negen',
    'acht',
    'zeven',
    'zes',
    'vijf',
    'vier',
    'drie',
    'twee',
    'één',
    'nul',
  ]),
];

function merge([ctext0, cnum]: Pair, [ntext0, nnum]: Pair): Pair {
  let ctext = ctext0;
  let ntext = ntext0;
  if (cnum === 1n) {
    if (nnum < 1_000_000n) return [ntext, nnum];
    ctext = 'een';
  }
  let val: bigint;
  if (nnum > cnum) {
    if (nnum >= 1_000_000n) ctext += ' ';
    val = cnum * nnum;
  } else {
    if (nnum < 10n && 10n < cnum && cnum < 100n) {
      if (nnum === 1n) ntext = 'een';
      ntext += ntext.endsWith('e') ? 'ën' : 'en';
      [ntext, ctext] = [ctext, ntext];
    } else if (cnum >= 1_000_000n) ctext += ' ';
    val = cnum + nnum;
  }
  return [ctext + ntext, val];
}

const speller = new CardSpeller(CARDS, merge, 'min ');

const ORDS: Array<[string, string]> = [
  ['nul', 'nuld'],
  ['één', 'eerst'],
  ['twee', 'tweed'],
  ['drie', 'derd'],
  ['vier', 'vierd'],
  ['vijf', 'vijfd'],
  ['zes', 'zesd'],
  ['zeven', 'zevend'],
  ['acht', 'achtst'],
  ['negen', 'negend'],
  ['tien', 'tiend'],
  ['elf', 'elfd'],
  ['twaalf', 'twaalfd'],
  ['ig', 'igst'],
  ['erd', 'erdst'],
  ['end', 'endst'],
  ['joen', 'joenst'],
  ['rd', 'rdst'],
];

export const dutch = {
  cardinal: (n: bigint) => speller.cardinal(n),
  ordinal(n: bigint): string {
    let out = speller.cardinal(n);
    for (const [key, ord] of ORDS) {
      if (out.endsWith(key)) {
        out = out.slice(0, out.length - key.length) + ord;
        break;
      }
    }
    return `${out}e`;
  },
  decimal: baseFloat((n) => speller.cardinal(n), 'komma'),
};
