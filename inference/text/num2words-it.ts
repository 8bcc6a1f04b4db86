/**
 * Italian numbers as Python num2words writes them (`lang_IT`), ported line by line with its
 * quirks: vowel contraction across joined words ("centodicotto" for 118), the accent of "tré"
 * toggled at each level of nesting ("ventitré" but "centoventitre"), "sette milioni e ..." for
 * large numbers, and currency amounts with "un" for "uno".
 */

const ZERO = 'zero';
const CARDINAL_WORDS = [
  ZERO,
  'uno',
  'due',
  'tre',
  'quattro',
  'cinque',
  'sei',
  'sette',
  'otto',
  'nove',
  'dieci',
  'undici',
  'dodici',
  'tredici',
  'quattordici',
  'quindici',
  'sedici',
  'diciassette',
  'diciotto',
  'diciannove',
];
const ORDINAL_WORDS = [
  ZERO,
  'primo',
  'secondo',
  'terzo',
  'quarto',
  'quinto',
  'sesto',
  'settimo',
  'ottavo',
  'nono',
  'decimo',
  'undicesimo',
  'dodicesimo',
  'tredicesimo',
  'quattordicesimo',
  'quindicesimo',
  'sedicesimo',
  'diciassettesimo',
  'diciottesimo',
  'diciannovesimo',
];
const STR_TENS: Record<number, string> = { 2: 'venti', 3: 'trenta', 4: 'quaranta', 6: 'sessanta' };
const EXPONENT_PREFIXES = [ZERO, 'm', 'b', 'tr', 'quadr', 'quint', 'sest', 'sett', 'ott', 'nov', 'dec'];

function phoneticContraction(s: string): string {
  return s
    .replaceAll('oo', 'o')
    .replaceAll('ao', 'o')
    .replaceAll('io', 'o')
    .replaceAll('au', 'u')
    .replaceAll('iu', 'u');
}

function accentuate(s: string): string {
  return s
    .split(/\s+/)
    .filter(Boolean)
    .map((w) =>
      w.endsWith('tre') && w.length > 3 ? `${w.replaceAll('tré', 'tre').slice(0, -3)}tré` : w.replaceAll('tré', 'tre'),
    )
    .join(' ');
}

const omitIfZero = (s: string) => (s === ZERO ? '' : s);

function exponentName(length: number): string {
  const prefix = EXPONENT_PREFIXES[Math.floor(length / 6)];
  if (prefix === undefined) throw new RangeError('number too large');
  return length % 6 === 0 ? `${prefix}ilione` : `${prefix}iliardo`;
}

function tens(n: number): string {
  const t = Math.floor(n / 10);
  const prefix = STR_TENS[t] ?? `${(CARDINAL_WORDS[t] as string).slice(0, -1)}anta`;
  return phoneticContraction(prefix + omitIfZero(CARDINAL_WORDS[n % 10] as string));
}

function hundreds(n: number): string {
  const h = Math.floor(n / 100);
  const prefix = h === 1 ? 'cento' : `${CARDINAL_WORDS[h]}cento`;
  return phoneticContraction(prefix + omitIfZero(italianCardinal(BigInt(n % 100))));
}

function thousands(n: number): string {
  const t = Math.floor(n / 1000);
  const prefix = t === 1 ? 'mille' : `${italianCardinal(BigInt(t))}mila`;
  return prefix + omitIfZero(italianCardinal(BigInt(n % 1000)));
}

function big(n: bigint): string {
  const digits = n.toString();
  const pre = digits.length % 3 || 3;
  const multiplier = digits.slice(0, pre);
  const exponent = digits.slice(pre);
  let infix = exponentName(exponent.length);
  let prefix: string;
  if (multiplier === '1') prefix = 'un ';
  else {
    prefix = italianCardinal(BigInt(multiplier));
    infix = ` ${infix.slice(0, -1)}i`;
  }
  let postfix = '';
  if (/[1-9]/.test(exponent)) {
    postfix = italianCardinal(BigInt(exponent));
    infix += postfix.includes(' e ') ? ', ' : ' e ';
  }
  return prefix + infix + postfix;
}

export function italianCardinal(n: bigint): string {
  let s: string;
  if (n < 0n) s = `meno ${italianCardinal(-n)}`;
  else if (n < 20n) s = CARDINAL_WORDS[Number(n)] as string;
  else if (n < 100n) s = tens(Number(n));
  else if (n < 1000n) s = hundreds(Number(n));
  else if (n < 1_000_000n) s = thousands(Number(n));
  else s = big(n);
  return accentuate(s);
}

/** `to_cardinal(float)`: `float_to_words`, accentuated once more. `digits` as "12.5", "12.0". */
export function italianDecimal(digits: string): string {
  const [int = '0', frac = '0'] = digits.split('.');
  const words = [...frac].map((c) => italianCardinal(BigInt(c))).join(' ');
  return accentuate(`${italianCardinal(BigInt(int))} virgola ${words}`);
}

export function italianOrdinal(n: bigint): string {
  const t = Number(n % 100n);
  const outsideTeens = !(t > 10 && t < 20);
  if (n < 20n) return ORDINAL_WORDS[Number(n)] as string;
  if (outsideTeens && t % 10 === 3) return `${italianCardinal(n).slice(0, -1)}eesimo`;
  if (outsideTeens && t % 10 === 6) return `${italianCardinal(n)}esimo`;
  let s = italianCardinal(n).slice(0, -1);
  if (s.endsWith('mil')) s += 'l';
  return `${s}esimo`;
}

/** num2words IT `to_currency` after the generic one: "uno" → "una" first for pounds, then "un". */
export function italianCurrencyWords(text: string, currency: string): string {
  let out = text;
  if (currency === 'GBP') {
    const words = out.split(' ');
    if (words[0] === 'uno') {
      words[0] = 'una';
      out = words.join(' ');
    }
  }
  return out.replaceAll('uno', 'un');
}
