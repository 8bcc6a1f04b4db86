/**
 * Turkish numbers as Python num2words writes them (`lang_TR`): the words run together
 * ("binsekizyüzelliüç"), and an ordinal changes the last word ("ikinci", "dördüncü"). The words
 * are n2words' (they agree with num2words'); joining and ordinal endings are num2words'.
 */
import * as tr from 'n2words/tr-TR';

const ORDINAL_ENDINGS: Array<[string, string]> = [
  ['sıfır', 'sıfırıncı'],
  ['bir', 'birinci'],
  ['iki', 'ikinci'],
  ['üç', 'üçüncü'],
  ['dört', 'dördüncü'],
  ['beş', 'beşinci'],
  ['altı', 'altıncı'],
  ['yedi', 'yedinci'],
  ['sekiz', 'sekizinci'],
  ['dokuz', 'dokuzuncu'],
  ['on', 'onuncu'],
  ['yirmi', 'yirminci'],
  ['otuz', 'otuzuncu'],
  ['kırk', 'kırkıncı'],
  ['elli', 'ellinci'],
  ['altmış', 'altmışıncı'],
  ['yetmiş', 'yetmişinci'],
  ['seksen', 'sekseninci'],
  ['doksan', 'doksanıncı'],
  ['yüz', 'yüzüncü'],
  ['bin', 'bininci'],
  ['milyon', 'milyonuncu'],
  ['milyar', 'milyarıncı'],
  ['trilyon', 'trilyonuncu'],
  ['katrilyon', 'katrilyonuncu'],
];

export function turkishCardinal(n: bigint): string {
  const words = tr.toCardinal(n).replaceAll(' ', '');
  // num2words says "birmilyon", "birmilyar" where n2words drops the "bir"
  return words.replace(/^(milyon|milyar|trilyon|katrilyon)/, 'bir$1');
}

export function turkishOrdinal(n: bigint): string {
  const card = turkishCardinal(n);
  // the longest ending that matches: "altmış" before "altı", "katrilyon" before "trilyon"
  const match = ORDINAL_ENDINGS.filter(([w]) => card.endsWith(w)).sort((a, b) => b[0].length - a[0].length)[0];
  if (!match) throw new RangeError(`no Turkish ordinal for ${n}`);
  return card.slice(0, card.length - match[0].length) + match[1];
}
