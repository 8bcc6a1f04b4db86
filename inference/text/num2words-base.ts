/**
 * Python num2words' generic cardinal engine (`Num2Word_Base`: a table of "cards", `splitnum`
 * into (word, value) pairs, `clean` merging neighbours with a per-language `merge`). Languages
 * whose num2words module is built on it are ported on top of this, because the reference reads
 * numbers with num2words and n2words (npm) joins and spells words otherwise (measured on the
 * generated reference corpus, test/fixtures/coqui-text).
 */

export type Pair = [string, bigint];
type Node = Pair | Node[];
export type Merge = (left: Pair, right: Pair) => Pair;

export type CardTable = Array<[bigint, string]>;

/** num2words EU `set_high_numwords`: each prefix gives 10^n (giga suffix) and 10^(n-3) (mega). */
export function europeanHigh(lows: readonly string[], mega: string, giga: string): CardTable {
  const out: CardTable = [];
  // Only the smallest prefixes are kept: num2words lists them last, so their powers are the lowest.
  let n = 3 + 6 * lows.length;
  for (const word of lows) {
    if (giga) out.push([10n ** BigInt(n), word + giga]);
    if (mega) out.push([10n ** BigInt(n - 3), word + mega]);
    n -= 6;
  }
  return out;
}

/** `set_low_numwords`: the words are listed from the highest value down to 0. */
export function lowCards(words: readonly string[]): CardTable {
  return words.map((w, i) => [BigInt(words.length - 1 - i), w]);
}

export class CardSpeller {
  private readonly cards: CardTable;
  private readonly merge: Merge;
  private readonly negword: string;
  private readonly one: string;
  readonly maxValue: bigint;
  constructor(cards: CardTable, merge: Merge, negword = 'minus ') {
    this.cards = cards;
    this.merge = merge;
    this.negword = negword;
    this.one = cards.find(([v]) => v === 1n)?.[1] ?? 'one';
    this.maxValue = 1000n * (cards[0]?.[0] ?? 1n);
  }

  private splitnum(value: bigint): Node[] {
    for (const [elem, word] of this.cards) {
      if (elem > value) continue;
      const out: Node[] = [];
      const div = value === 0n ? 1n : value / elem;
      const mod = value === 0n ? 0n : value % elem;
      if (div === 1n) out.push([this.one, 1n]);
      else {
        if (div === value) return [[word.repeat(Number(div)), div * elem]];
        out.push(this.splitnum(div));
      }
      out.push([word, elem]);
      if (mod) out.push(this.splitnum(mod));
      return out;
    }
    throw new RangeError(`cannot spell ${value}`);
  }

  private clean(input: Node[]): Pair {
    let val = input;
    let out: Node[] = val;
    while (val.length !== 1) {
      out = [];
      const [left, right] = val;
      if (isPair(left) && isPair(right)) {
        out.push(this.merge(left, right));
        if (val.length > 2) out.push(val.slice(2));
      } else {
        for (const elem of val) {
          if (isPair(elem)) out.push(elem);
          else if (elem.length === 1) out.push(elem[0] as Node);
          else out.push(this.clean(elem));
        }
      }
      val = out;
    }
    const only = out[0] as Node;
    return isPair(only) ? only : this.clean(only);
  }

  cardinal(n: bigint): string {
    let v = n;
    let prefix = '';
    if (v < 0n) {
      v = -v;
      prefix = `${this.negword.trim()} `;
    }
    if (v >= this.maxValue) throw new RangeError(`number too large: ${n}`);
    return prefix + this.clean(this.splitnum(v))[0];
  }
}

function isPair(n: Node | undefined): n is Pair {
  return Array.isArray(n) && n.length === 2 && typeof n[0] === 'string' && typeof n[1] === 'bigint';
}

/**
 * num2words base `to_cardinal_float` for a float whose shortest text is `digits` ("12.5"):
 * integer part, the point word, then each decimal digit as a cardinal; an integer-valued float
 * ("12.0") goes down the integer path.
 */
export function baseFloat(card: (n: bigint) => string, point: string) {
  return (digits: string): string => {
    const [int = '0', frac = ''] = digits.split('.');
    if (/^0*$/.test(frac)) return card(BigInt(int));
    return [card(BigInt(int)), point, ...[...frac].map((d) => card(BigInt(d)))].join(' ');
  };
}
