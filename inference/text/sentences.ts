/**
 * The reference's `split_sentence`: when a text is at least as long as the language's
 * character limit, split it into sentences and pack consecutive ones into chunks of at
 * most the limit; a sentence longer than the limit is wrapped at word boundaries
 * (textwrap.wrap, breaking over-long words).
 *
 * The reference finds sentences with spaCy's sentencizer on the tokens of a spaCy language:
 * Chinese (a token per character), Japanese (SudachiPy), Spanish, Arabic and Hindi, and English
 * for every other language. The sentencizer's rule is ported as it is (a sentence ends after a
 * token that is one of its end characters, once a token follows that is not punctuation, a
 * whitespace token included); the tokens are approximated where the rule looks at them: spaCy's
 * whitespace tokens (the whitespace after a token but its first space), punctuation split off a
 * word's ends, a full stop kept inside a word unless spaCy's suffix and infix rules split it
 * (after a lower-case or uncased letter, a digit or punctuation; after two capitals; between a
 * lower-case letter and a capital), and the language's tokenizer exceptions ending in a full stop
 * ("Mr.", "p.m.", "Sra.": dict/spacy-abbreviations.json, made from spaCy by
 * trainer/reference/coqui_split.py), which keep theirs, and words spaCy takes for a host name; Arabic splits a full stop off after two
 * letters only. Japanese words are not cut as SudachiPy cuts them: punctuation marks are taken as
 * tokens of their own, except a full stop in a decimal number.
 */
import { readFileSync } from 'node:fs';
import { charLimit } from './languages.ts';
import { textwrap } from './textwrap.ts';

// The sentencizer's default end characters (spaCy's Sentencizer.default_punct_chars).
const ENDERS = new Set(
  Array.from(
    '!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？𐩖𐩗𑁇𑁈𑂾𑂿𑃀𑃁𑅁𑅂𑅃𑇅𑇆𑇍𑇞𑇟𑈸𑈹𑈻𑈼𑊩𑑋𑑌𑗂𑗃𑗉𑗊𑗋𑗌𑗍𑗎𑗏𑗐𑗑𑗒𑗓𑗔𑗕𑗖𑗗𑙁𑙂𑜼𑜽𑜾𑩂𑩃𑪛𑪜𑱁𑱂𖩮𖩯𖫵𖬷𖬸𖭄𛲟𝪈｡。',
  ),
);

const ABBREVIATIONS = (
  JSON.parse(readFileSync(new URL('./dict/spacy-abbreviations.json', import.meta.url), 'utf8')) as {
    abbreviations: Record<string, string[]>;
  }
).abbreviations;
const MAX_EXCEPTION = Math.max(...Object.values(ABBREVIATIONS).flatMap((list) => list.map((w) => w.length)));
const exceptionSets = new Map<string, Set<string>>();
/** The tokenizer exceptions ending in "." of the spaCy language the reference uses for `lang`. */
function exceptionsFor(lang: string): Set<string> {
  const code = ['es', 'ar', 'hi'].includes(lang) ? lang : 'en';
  let set = exceptionSets.get(code);
  if (!set) {
    set = new Set(ABBREVIATIONS[code] ?? []);
    exceptionSets.set(code, set);
  }
  return set;
}

type Token = { start: number; end: number; text: string };

const isPunct = (s: string) => /^\p{P}+$/u.test(s);
// spaCy's ALPHA_LOWER and ALPHA_UPPER both hold the uncased scripts (Hangul, CJK, Arabic...)
const LOWER = /[\p{Ll}\p{Lo}\p{Lm}\p{M}]/u;
const UPPER = /[\p{Lu}\p{Lt}\p{Lo}\p{Lm}]/u;
const QUOTE = /["'`«»‘’‚‛“”„‟‹›❮❯''「」『』〈〉《》【】〔〕]/u;
// spaCy's URL_MATCH (host names, a lower-case or uncased top-level domain), which keeps a word whole
const HOST_NAME = new RegExp(
  '^(?:[\\w+\\-.]{2,}://)?(?:[^\\s@]+@)?' +
    '(?:[A-Za-z0-9\\u00a1-\\uffff](?:[A-Za-z0-9\\u00a1-\\uffff_-]{0,62}[A-Za-z0-9\\u00a1-\\uffff])?\\.)+' +
    '[\\p{Ll}\\p{Lo}\\p{Lm}\\p{M}]{2,63}(?::\\d{2,5})?(?:[/?#]\\S*)?$',
  'u',
);

/** A whitespace-free chunk cut as spaCy's tokenizer cuts it where full stops and end marks go. */
function cutChunk(chunk: string, exceptions: Set<string>, arabic: boolean): string[] {
  const head: string[] = [];
  const tail: string[] = []; // in reverse
  // the rest of the chunk is chunk[lo, hi); read at its ends only, so a long run of marks is linear
  let lo = 0;
  let hi = chunk.length;
  const at = (k: number) => String.fromCodePoint(chunk.codePointAt(k) as number);
  const before = (k: number) => {
    const c = chunk.charCodeAt(k - 1);
    return c >= 0xdc00 && c <= 0xdfff && k - 2 >= lo ? chunk.slice(k - 2, k) : chunk.slice(k - 1, k);
  };
  while (lo < hi) {
    if (hi - lo <= MAX_EXCEPTION && exceptions.has(chunk.slice(lo, hi))) break;
    // an ellipsis is a token of its own, never an end character
    if (chunk.startsWith('..', lo) || chunk[lo] === '…') {
      const mark = chunk[lo] as string;
      let end = lo;
      while (end < hi && chunk[end] === mark) end++;
      head.push(chunk.slice(lo, end));
      lo = end;
      continue;
    }
    const first = at(lo);
    const more = hi - lo > first.length;
    if (more && /^[\p{P}\p{S}]$/u.test(first)) {
      head.push(first);
      lo += first.length;
      continue;
    }
    if (more && (chunk.endsWith('..', hi) || chunk[hi - 1] === '…')) {
      const mark = chunk[hi - 1] as string;
      let start = hi;
      while (start > lo && chunk[start - 1] === mark) start--;
      if (start > lo) {
        tail.push(chunk.slice(start, hi));
        hi = start;
        continue;
      }
    }
    const last = before(hi);
    const moreBefore = hi - lo > last.length;
    if (moreBefore && last === '.') {
      const prev = before(hi - 1);
      const prev2 = hi - 1 - prev.length > lo ? before(hi - 1 - prev.length) : undefined;
      const afterTwoCapitals = UPPER.test(prev) && prev2 !== undefined && UPPER.test(prev2);
      // Arabic's suffix rules keep only the last (its letters are uncased, so capitals to spaCy)
      const splits =
        afterTwoCapitals ||
        (!arabic && (/[0-9%²\-+]/u.test(prev) || LOWER.test(prev) || isPunct(prev) || QUOTE.test(prev)));
      if (!splits) break;
      tail.push('.');
      hi -= 1;
      continue;
    }
    if (moreBefore && /^\p{P}$/u.test(last)) {
      tail.push(last);
      hi -= last.length;
      continue;
    }
    break;
  }
  tail.reverse();
  const rest = chunk.slice(lo, hi);
  if (!rest || (rest.length <= 2048 && rest.includes('.') && HOST_NAME.test(rest)))
    return [...head, ...(rest ? [rest] : []), ...tail];
  // infixes: an ellipsis, or a full stop between a lower-case letter and a capital; a word and
  // the full stop after it that make an exception are one token again ("e.g.Then": "e.g.", "Then")
  const core: string[] = [];
  for (const piece of rest.split(/(\.\.+|…+|(?<=[\p{Ll}\p{Lo}\p{Lm}\p{M}"'])\.(?=[\p{Lu}\p{Lt}\p{Lo}\p{Lm}"']))/u)) {
    if (piece === '') continue;
    if (piece === '.' && core.length && exceptions.has(`${core.at(-1)}.`)) core[core.length - 1] += '.';
    else core.push(piece);
  }
  return [...head, ...core, ...tail];
}

let japaneseWords: RegExp | undefined;
/**
 * Japanese, for the sentencizer: punctuation marks are tokens of their own, an ellipsis one token,
 * a full stop one except in a decimal number (12.5, １２．５; SudachiPy cuts 01.09.2004 and 3.50.
 * at every full stop) and in the abbreviations SudachiPy keeps whole (p.m., vs.).
 */
function cutJapanese(chunk: string): string[] {
  if (!japaneseWords) {
    const words = [...(ABBREVIATIONS.ja ?? [])].sort((a, b) => b.length - a.length);
    const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    japaneseWords = new RegExp(
      `((?<![A-Za-z])(?:${[...escaped, '(?!)'].join('|')})|(?<![0-9０-９.．])[0-9０-９]+[.．][0-9０-９]+(?![0-9０-９.．])|\\.\\.+|…+|\\p{P})`,
      'u',
    );
  }
  return chunk.split(japaneseWords).filter((p) => p !== '');
}

/** spaCy's tokens of `text`, with their offsets: words, punctuation and whitespace tokens. */
function tokens(text: string, lang: string): Token[] {
  const out: Token[] = [];
  const exceptions = exceptionsFor(lang);
  const re = /(\s+)|(\S+)/gu;
  let first = true;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const at = m.index;
    if (m[1] !== undefined) {
      // the first space after a token is that token's; the rest is a token of its own
      const own = !first && m[1].startsWith(' ') ? 1 : 0;
      if (m[1].length > own) out.push({ start: at + own, end: at + m[1].length, text: m[1].slice(own) });
      first = false;
      continue;
    }
    first = false;
    const pieces =
      lang === 'zh'
        ? Array.from(m[2] as string)
        : lang === 'ja'
          ? cutJapanese(m[2] as string)
          : cutChunk(m[2] as string, exceptions, lang === 'ar');
    let pos = at;
    for (const piece of pieces) {
      out.push({ start: pos, end: pos + piece.length, text: piece });
      pos += piece.length;
    }
  }
  return out;
}

/** Sentences of `text` as the reference's spaCy sentencizer finds them, in the language `lang`. */
export function sentences(text: string, lang = 'en'): string[] {
  const base = lang.toLowerCase().split('-')[0] ?? '';
  const toks = tokens(text, base);
  const starts: number[] = toks.length ? [0] : [];
  let seenEnd = false;
  toks.forEach((t, i) => {
    const ender = ENDERS.has(t.text);
    if (seenEnd && !isPunct(t.text) && !ender) {
      starts.push(i);
      seenEnd = false;
    } else if (ender) seenEnd = true;
  });
  return starts.map((s, k) => {
    const last = toks[(starts[k + 1] ?? toks.length) - 1] as Token;
    return text.slice((toks[s] as Token).start, last.end);
  });
}

// Python's len() counts code points, not UTF-16 units.
const pyLen = (s: string) => Array.from(s).length;

/** `split_sentence(text, lang, text_split_length=char_limit(lang))`. */
export function splitSentences(text: string, lang: string, limit = charLimit(lang)): string[] {
  if (pyLen(text) < limit) return [text.trimStart()];
  const splits: string[] = [''];
  for (const sentence of sentences(text, lang)) {
    const lastIndex = splits.length - 1;
    const last = splits[lastIndex] as string;
    if (pyLen(last) + pyLen(sentence) <= limit) {
      splits[lastIndex] = `${last} ${sentence}`.trimStart();
    } else if (pyLen(sentence) > limit) {
      splits.push(...textwrap(sentence, limit));
    } else {
      splits.push(sentence);
    }
  }
  if (splits.length > 1 && splits[0] === '') splits.shift();
  return splits;
}
