/**
 * Hungarian ordinals and floats as Python num2words writes them (`lang_HU`): the ordinal
 * rewrites the cardinal's last word ("negyven" → "negyvenedik", "hét" → "hetedik"), a float
 * is "tizenkettő egész öt tized", an integer-valued float the plain cardinal. Cardinal words
 * are n2words' (they agree with num2words').
 */
import * as hu from 'n2words/hu-HU';

const cardinal = (n: bigint): string => hu.toCardinal(n);

// num2words' partial_ords, tried in this order
const PARTIAL_ORDS: Array<[string, string]> = [
  ['nulla', 'nullad'],
  ['egy', 'egyed'],
  ['kettő', 'ketted'],
  ['három', 'harmad'],
  ['négy', 'negyed'],
  ['öt', 'ötöd'],
  ['hat', 'hatod'],
  ['hét', 'heted'],
  ['nyolc', 'nyolcad'],
  ['kilenc', 'kilenced'],
  ['tíz', 'tized'],
  ['húsz', 'huszad'],
  ['harminc', 'harmincad'],
  ['negyven', 'negyvened'],
  ['ötven', 'ötvened'],
  ['hatvan', 'hatvanad'],
  ['hetven', 'hetvened'],
  ['nyolcvan', 'nyolcvanad'],
  ['kilencven', 'kilencvened'],
  ['száz', 'század'],
  ['ezer', 'ezred'],
  ['illió', 'milliomod'],
  ['illiárd', 'milliárdod'],
];

export function hungarianOrdinal(n: bigint): string {
  if (n === 1n) return 'első';
  if (n === 2n) return 'második';
  let out = cardinal(n);
  for (const [card, ord] of PARTIAL_ORDS) {
    if (out.endsWith(card)) {
      out = out.slice(0, out.length - card.length) + ord;
      break;
    }
  }
  return `${out}ik`;
}

/** `digits` is the float's shortest decimal text ("12.5"; "12.0" for an integer-valued one). */
export function hungarianDecimal(digits: string): string {
  const [left = '0', right = '0'] = digits.split('.');
  if (/^0*$/.test(right)) return cardinal(BigInt(left));
  // num2words: partial_ords[cards[10 ** len(right)]]: tized, század, ezred...
  const power = cardinal(10n ** BigInt(right.length));
  const noun = PARTIAL_ORDS.find(([card]) => card === power)?.[1];
  if (!noun) throw new RangeError(`no Hungarian fraction noun for ${digits}`);
  return `${cardinal(BigInt(left))} egész ${cardinal(BigInt(right))} ${noun}`;
}
