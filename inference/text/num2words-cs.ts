/** Czech numbers as Python num2words writes them (`lang_CS`): hundreds in one word ("dvěstě", "pětset"). */

const ONES = ['', 'jedna', 'dva', 'tři', 'čtyři', 'pět', 'šest', 'sedm', 'osm', 'devět'];
const TENS = [
  'deset',
  'jedenáct',
  'dvanáct',
  'třináct',
  'čtrnáct',
  'patnáct',
  'šestnáct',
  'sedmnáct',
  'osmnáct',
  'devatenáct',
];
const TWENTIES = ['', '', 'dvacet', 'třicet', 'čtyřicet', 'padesát', 'šedesát', 'sedmdesát', 'osmdesát', 'devadesát'];
const HUNDREDS = ['', 'sto', 'dvěstě', 'třista', 'čtyřista', 'pětset', 'šestset', 'sedmset', 'osmset', 'devětset'];
const THOUSANDS: ReadonlyArray<readonly [string, string, string]> = [
  ['', '', ''],
  ['tisíc', 'tisíce', 'tisíc'],
  ['milion', 'miliony', 'milionů'],
  ['miliarda', 'miliardy', 'miliard'],
  ['bilion', 'biliony', 'bilionů'],
  ['biliarda', 'biliardy', 'biliard'],
  ['trilion', 'triliony', 'trilionů'],
  ['triliarda', 'triliardy', 'triliard'],
  ['kvadrilion', 'kvadriliony', 'kvadrilionů'],
  ['kvadriliarda', 'kvadriliardy', 'kvadriliard'],
  ['quintillion', 'quintilliony', 'quintillionů'],
];

/** num2words CS `pluralize`: 1, then 2–4 outside the teens, then the rest. */
export function czechPlural(n: bigint): number {
  if (n === 1n) return 0;
  const m10 = n % 10n;
  const m100 = n % 100n;
  return m10 > 1n && m10 < 5n && (m100 < 10n || m100 > 20n) ? 1 : 2;
}

/** num2words `splitbyx(str(n), 3)`: groups of three digits from the left, the first one shorter. */
export function chunks3(n: bigint): number[] {
  const s = n.toString();
  const first = s.length % 3 || 3;
  const out = [Number(s.slice(0, first))];
  for (let i = first; i < s.length; i += 3) out.push(Number(s.slice(i, i + 3)));
  return out;
}

export function czechCardinal(n: bigint): string {
  if (n === 0n) return 'nula';
  const words: string[] = [];
  const groups = chunks3(n);
  let i = groups.length;
  for (const x of groups) {
    i--;
    if (x === 0) continue;
    const [n3, n2, n1] = [Math.floor(x / 100), Math.floor(x / 10) % 10, x % 10];
    if (n3 > 0) words.push(HUNDREDS[n3] as string);
    if (n2 > 1) words.push(TWENTIES[n2] as string);
    if (n2 === 1) words.push(TENS[n1] as string);
    else if (n1 > 0 && !(i > 0 && x === 1)) words.push(ONES[n1] as string);
    if (i > 0) {
      const forms = THOUSANDS[i];
      if (!forms) throw new RangeError(`number too large: ${n}`);
      words.push(forms[czechPlural(BigInt(x))] as string);
    }
  }
  return words.join(' ');
}
