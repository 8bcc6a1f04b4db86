/**
 * English numbers as Python num2words writes them (the reference's `num2words(n, lang="en")`):
 * "one thousand, two hundred and thirty-four". npm number libraries drop num2words' commas
 * and "and", which would change the tokens the GPT sees, so this is a direct port of
 * num2words' splitnum/merge algorithm for English.
 */

const LOW = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
  'twenty',
];
const TENS: Array<[number, string]> = [
  [90, 'ninety'],
  [80, 'eighty'],
  [70, 'seventy'],
  [60, 'sixty'],
  [50, 'fifty'],
  [40, 'forty'],
  [30, 'thirty'],
];
// num2words' EN high words: 10^(3n+3) for the short-scale Latin prefixes.
const HIGH = ['m', 'b', 'tr', 'quadr', 'quint', 'sext', 'sept', 'oct', 'non', 'dec'];

type Card = { word: string; value: bigint };
const CARDS: Card[] = (() => {
  const cards: Card[] = [];
  for (let i = HIGH.length - 1; i >= 0; i--) {
    cards.push({ word: `${HIGH[i]}illion`, value: 10n ** BigInt(3 * i + 6) });
  }
  cards.push({ word: 'thousand', value: 1000n }, { word: 'hundred', value: 100n });
  for (const [v, w] of TENS) cards.push({ word: w, value: BigInt(v) });
  for (let v = LOW.length - 1; v >= 0; v--) cards.push({ word: LOW[v] as string, value: BigInt(v) });
  return cards;
})();
const MAX = 10n ** BigInt(3 * HIGH.length + 6);

type Pair = [string, bigint];
type Node = Pair | Node[];

function splitnum(value: bigint): Node[] {
  for (const { word, value: elem } of CARDS) {
    if (elem > value) continue;
    const out: Node[] = [];
    const div = value === 0n ? 1n : value / elem;
    const mod = value === 0n ? 0n : value % elem;
    if (div === 1n) out.push(['one', 1n]);
    else out.push(splitnum(div));
    out.push([word, elem]);
    if (mod) out.push(splitnum(mod));
    return out;
  }
  throw new RangeError(`cannot spell ${value}`);
}

function merge([lt, ln]: Pair, [rt, rn]: Pair): Pair {
  if (ln === 1n && rn < 100n) return [rt, rn];
  if (100n > ln && ln > rn) return [`${lt}-${rt}`, ln + rn];
  if (ln >= 100n && 100n > rn) return [`${lt} and ${rt}`, ln + rn];
  if (rn > ln) return [`${lt} ${rt}`, ln * rn];
  return [`${lt}, ${rt}`, ln + rn];
}

const isPair = (n: Node): n is Pair => typeof n[0] === 'string';

// num2words' `clean`: repeatedly merge the first two leaves, flattening nested lists.
function clean(val: Node[]): Pair {
  let cur: Node[] = val;
  let out: Node[] = val;
  while (cur.length !== 1) {
    out = [];
    const [left, right] = cur as [Node, Node];
    if (isPair(left) && isPair(right)) {
      out.push(merge(left, right));
      if (cur.length > 2) out.push(cur.slice(2));
    } else {
      for (const elem of cur) {
        if (isPair(elem)) out.push(elem);
        else if (elem.length === 1) out.push(elem[0] as Node);
        else out.push(clean(elem));
      }
    }
    cur = out;
  }
  const only = out[0] as Node;
  return isPair(only) ? only : clean(only);
}

export function englishCardinal(n: bigint | number): string {
  let v = BigInt(n);
  const negative = v < 0n;
  if (negative) v = -v;
  if (v >= MAX) throw new RangeError(`number too large: ${n}`);
  const words = v < 21n ? (LOW[Number(v)] as string) : clean(splitnum(v))[0];
  return negative ? `minus ${words}` : words;
}

const ORDINAL_WORDS: Record<string, string> = {
  one: 'first',
  two: 'second',
  three: 'third',
  five: 'fifth',
  eight: 'eighth',
  nine: 'ninth',
  twelve: 'twelfth',
};

/** num2words EN `to_ordinal`: rewrite the last word of the cardinal. */
export function englishOrdinal(n: bigint | number): string {
  const outwords = englishCardinal(n).split(' ');
  const lastwords = (outwords.at(-1) as string).split('-');
  let last = lastwords.at(-1) as string;
  if (last in ORDINAL_WORDS) last = ORDINAL_WORDS[last] as string;
  else {
    if (last.endsWith('y')) last = `${last.slice(0, -1)}ie`;
    last += 'th';
  }
  lastwords[lastwords.length - 1] = last;
  outwords[outwords.length - 1] = lastwords.join('-');
  return outwords.join(' ');
}
