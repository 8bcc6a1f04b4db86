/**
 * Hangul → Latin letters with the `academic` rule of the Python package hangul_romanize,
 * which the reference applies after cleaning Korean. It is a letter-by-letter Revised
 * Romanization transliteration with a "-" where a syllable starts with the silent ㅇ or
 * where final+initial letters could be split two ways (물엿 → mul-yeos). The npm Hangul
 * romanisers implement pronunciation-based rules instead, which would give other tokens,
 * so the rule (a few dozen lines) is ported here.
 */

const INITIALS = ['g', 'kk', 'n', 'd', 'tt', 'l', 'm', 'b', 'pp', 's', 'ss', '', 'j', 'jj', 'ch', 'k', 't', 'p', 'h'];
const VOWELS = [
  'a',
  'ae',
  'ya',
  'yae',
  'eo',
  'e',
  'yeo',
  'ye',
  'o',
  'wa',
  'wae',
  'oe',
  'yo',
  'u',
  'wo',
  'we',
  'wi',
  'yu',
  'eu',
  'ui',
  'i',
];
const FINALS = [
  '',
  'g',
  'kk',
  'gs',
  'n',
  'nj',
  'nh',
  'd',
  'l',
  'lg',
  'lm',
  'lb',
  'ls',
  'lt',
  'lp',
  'lh',
  'm',
  'b',
  'bs',
  's',
  'ss',
  'ng',
  'j',
  'ch',
  'k',
  't',
  'p',
  'h',
];

const SYLLABLE_MIN = 0xac00;
const SYLLABLE_MAX = 0xd7a3;
const SILENT_INITIAL = 11;

/** final+initial letter strings that split into a (final, initial) pair in two ways. */
const AMBIGUOUS: ReadonlySet<string> = (() => {
  const finals = new Set(FINALS);
  const initials = new Set(INITIALS);
  const result = new Set<string>();
  for (const f of FINALS) {
    for (const i of INITIALS) {
      const combined = f + i;
      let splits = 0;
      for (let k = 0; k < combined.length; k++) {
        if (finals.has(combined.slice(0, k)) && initials.has(combined.slice(k))) {
          splits++;
          if (splits === 2) {
            result.add(combined);
            break;
          }
        }
      }
    }
  }
  return result;
})();

type Syllable = { initial: number; vowel: number; final: number };

function syllable(ch: string): Syllable | undefined {
  const code = ch.codePointAt(0) ?? 0;
  if (code < SYLLABLE_MIN || code > SYLLABLE_MAX) return undefined;
  const index = code - SYLLABLE_MIN;
  return { initial: Math.floor(index / 588), vowel: Math.floor(index / 28) % 21, final: index % 28 };
}

export function romanizeKorean(text: string): string {
  let out = '';
  let previous: Syllable | undefined;
  for (const ch of text) {
    const s = syllable(ch);
    if (!s) {
      out += ch;
    } else {
      let marker = false;
      if (previous) {
        if (s.initial === SILENT_INITIAL) marker = true;
        else if (AMBIGUOUS.has(`${FINALS[previous.final]}${INITIALS[s.initial]}`)) marker = true;
      }
      out += `${marker ? '-' : ''}${INITIALS[s.initial]}${VOWELS[s.vowel]}${FINALS[s.final]}`;
    }
    previous = s;
  }
  return out;
}
