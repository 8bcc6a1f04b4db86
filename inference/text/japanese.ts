/**
 * Japanese as the reference romanises it: cutlet (Hepburn, particles は/へ read "wa"/"e", words
 * separated by spaces except before auxiliaries, suffixes and punctuation), then lowercased.
 *
 * cutlet analyses the sentence with MeCab and UniDic; no npm package ships UniDic, so the words
 * and their readings come from kuromoji (@sglkc/kuromoji, the maintained fork, with its bundled
 * IPADIC), and cutlet's rules are ported on top: its kana table and exceptions
 * (dict/cutlet.json, made from cutlet by trainer/reference/cutlet_tables.py), sokuon and long
 * vowels, its spacing rules with IPADIC's parts of speech mapped to UniDic's, and UniDic's
 * English spellings of loanwords (コーヒー → "coffee", dict/unidic-foreign.json.gz). Where the two
 * dictionaries differ, UniDic's units are taken from UniDic itself (dict/unidic-units.json.gz, by
 * trainer/reference/unidic_units.py): the IPADIC words UniDic has no entry for, cut as MeCab with
 * UniDic cuts them (郵便局 → 郵便 + 局), IPADIC's suffixes and prefixes as UniDic files and
 * reads them, and UniDic's reading where it never reads a word as IPADIC does. What cannot match: words MeCab cuts or reads by their context in the sentence
 * otherwise than kuromoji does (行 gyou or kou, 値 atai or ne).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

type KuromojiToken = {
  surface_form: string;
  pos: string;
  pos_detail_1: string;
  pos_detail_2: string;
  basic_form?: string;
  reading?: string;
  pronunciation?: string;
  word_type: 'KNOWN' | 'UNKNOWN';
};
type KuromojiTokenizer = { tokenize(text: string): KuromojiToken[] };

const CUTLET = JSON.parse(readFileSync(new URL('./dict/cutlet.json', import.meta.url), 'utf8')) as {
  hepburn: Record<string, string>;
  exceptions: Record<string, string>;
};
const TABLE = CUTLET.hepburn;
let foreign: Record<string, string> | undefined;
/** UniDic's spellings of katakana loanwords (dict/unidic-foreign.json.gz, by trainer/reference/unidic_foreign.py). */
function foreignSpelling(surface: string): string | undefined {
  foreign ??= (
    JSON.parse(
      gunzipSync(readFileSync(new URL('./dict/unidic-foreign.json.gz', import.meta.url))).toString('utf8'),
    ) as {
      spellings: Record<string, string>;
    }
  ).spellings;
  return own(foreign, surface);
}
type Units = {
  /** IPADIC words UniDic cuts in shorter units: a line per unit, "surface kana pron pos1 pos2" between tabs */
  splits: Record<string, string>;
  /**
   * IPADIC's suffixes and prefixes as UniDic files and reads them: [接尾辞 or 接頭辞, reading] from
   * its lowest-cost entry of that class, or [名詞, reading] where UniDic has the surface as a noun only
   */
  suffixes: Record<string, [string, string]>;
  prefixes: Record<string, [string, string]>;
  /** "surface\treading" of IPADIC words UniDic never reads as IPADIC does: UniDic's reading */
  readings: Record<string, string>;
};
let units: Units | undefined;
/** Where UniDic cuts or reads words otherwise than IPADIC (dict/unidic-units.json.gz, by trainer/reference/unidic_units.py). */
function unidicUnits(): Units {
  units ??= JSON.parse(
    gunzipSync(readFileSync(new URL('./dict/unidic-units.json.gz', import.meta.url))).toString('utf8'),
  ) as Units;
  return units;
}
const SUTEGANA = 'ゃゅょぁぃぅぇぉ';
const ODORI = '々〃ゝゞヽゞ';
const UNVOICED = 'かきくけこさしすせそたちつてとはひふへほ';
const VOICED = 'がぎぐげござじずぜぞだぢづでどばびぶべぼ';

let tokenizer: KuromojiTokenizer | undefined;

/** `table[key]` for the table's own keys only (text such as "valueOf" is not a key). */
function own<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/**
 * kuromoji's dictionary loaded synchronously (its builder only has an asynchronous API; the
 * dictionary classes it fills are used directly, with the same files and buffers). Loaded on
 * the first Japanese sentence, with UniDic's tables: about 100 MB of heap (the tables about 20)
 * and a second of start-up that other languages skip.
 */
function kuromoji(): KuromojiTokenizer {
  if (tokenizer) return tokenizer;
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('@sglkc/kuromoji/package.json'));
  const DynamicDictionaries = require('@sglkc/kuromoji/src/dict/DynamicDictionaries.js');
  const Tokenizer = require('@sglkc/kuromoji/src/Tokenizer.js');
  const file = (name: string): ArrayBuffer => new Uint8Array(gunzipSync(readFileSync(join(root, 'dict', name)))).buffer;
  const dic = new DynamicDictionaries();
  dic.loadTrie(new Int32Array(file('base.dat.gz')), new Int32Array(file('check.dat.gz')));
  dic.loadTokenInfoDictionaries(
    new Uint8Array(file('tid.dat.gz')),
    new Uint8Array(file('tid_pos.dat.gz')),
    new Uint8Array(file('tid_map.dat.gz')),
  );
  dic.loadConnectionCosts(new Int16Array(file('cc.dat.gz')));
  dic.loadUnknownDictionaries(
    new Uint8Array(file('unk.dat.gz')),
    new Uint8Array(file('unk_pos.dat.gz')),
    new Uint8Array(file('unk_map.dat.gz')),
    new Uint8Array(file('unk_char.dat.gz')),
    new Uint32Array(file('unk_compat.dat.gz')),
    new Uint8Array(file('unk_invoke.dat.gz')),
  );
  tokenizer = new Tokenizer(dic) as KuromojiTokenizer;
  return tokenizer;
}

/** A word with the UniDic-style features cutlet reads. */
type Word = {
  surface: string;
  /** UniDic pos1: 名詞, 動詞, 助詞, 助動詞, 補助記号, 接尾辞, 接頭辞... */
  pos1: string;
  pos2: string;
  kana: string;
  pron: string;
  unknown: boolean;
  /** whitespace before the word in the input (MeCab's white_space) */
  space: boolean;
};

// Counters that UniDic files as suffixes after a number (read with no space: "91nin", "1ka"),
// with UniDic's reading; the other counters (年, 月, 回, 時...) are nouns there as in IPADIC.
const SUFFIX_COUNTERS: Record<string, string> = {
  人: 'ニン',
  位: 'イ',
  日: 'カ',
  個: 'コ',
  枚: 'マイ',
  匹: 'ヒキ',
  歳: 'サイ',
  冊: 'サツ',
  つ: 'ツ',
  目: 'メ',
};
// Words UniDic reads otherwise than IPADIC, where it matters often
const UNIDIC_READINGS: Record<string, string> = { 私: 'ワタクシ', 明日: 'アス' };
// Symbols UniDic knows one by one (補助記号) where IPADIC leaves a run of them unknown; a run
// with any other symbol (" ' , - ; [ ] ^ _ ...) stays one unknown word in UniDic too (checked with
// fugashi and unidic-lite).
const UNIDIC_SYMBOLS = new Set('!#$%&()*+./:<=>?@{|}~、。「」『』・…‥°€£');
const SYMBOL_RUN = /^[\p{P}\p{S}]+$/u;

function splitSymbols(t: KuromojiToken): KuromojiToken[] {
  if (t.word_type !== 'UNKNOWN' || !SYMBOL_RUN.test(t.surface_form)) return [t];
  const chars = [...t.surface_form];
  if (!chars.every((c) => UNIDIC_SYMBOLS.has(c))) return [{ ...t, pos: '記号' }];
  return chars.map((c) => ({ ...t, surface_form: c, pos: '記号', word_type: 'KNOWN' }));
}
// Words IPADIC keeps whole that UniDic cuts into shorter units otherwise than alone, as cut and
// read in a sentence: [surface, reading, pos1, pos2] (checked with fugashi and unidic-lite). The
// other such words come from dict/unidic-units.json.gz, cut as MeCab with UniDic cuts them alone:
// alone, UniDic reads 何時 いつ and files けれど as a conjunction, and かも is a word of its own.
type Unit = [string, string, string, string];
const P = (s: string, r: string, pos2 = '格助詞'): Unit => [s, r, '助詞', pos2];
const UNIDIC_SPLITS: Record<string, Unit[]> = {
  かも: [P('か', 'カ', '副助詞'), P('も', 'モ', '係助詞')],
  けれども: [P('けれど', 'ケレド', '接続助詞'), P('も', 'モ', '係助詞')],
  何時: [
    ['何', 'ナン', '名詞', '数詞'],
    ['時', 'ジ', '名詞', '普通名詞'],
  ],
};

// IPADIC's parts of speech whose words do not conjugate: those unidic-units.json.gz's splits cover
const STABLE_POS = new Set(['名詞', '副詞', '接続詞', '助詞', '感動詞', '連体詞', '接頭詞']);

const isNounSuffix = (t: KuromojiToken) => t.pos === '名詞' && t.pos_detail_1 === '接尾' && t.pos_detail_2 !== '助数詞';

/**
 * IPADIC's auxiliaries that UniDic files as the adjective and verb they come from (checked with
 * fugashi): ない after the copula で/じゃ or an adjective (学生でない, 高くない; after a verb it
 * stays an auxiliary), and ある (である), so cutlet writes a space before them.
 */
function auxiliaryPos(t: KuromojiToken, prev: Word | undefined): string | undefined {
  if (t.pos !== '助動詞' || !prev) return undefined;
  if (t.basic_form === 'ある') return '動詞';
  const copula = prev.pos1 === '助動詞' && (prev.surface === 'で' || prev.surface === 'じゃ');
  if (t.basic_form === 'ない' && (copula || prev.pos1 === '形容詞')) return '形容詞';
  return undefined;
}

/** IPADIC's part of speech as UniDic names it, where cutlet's rules look at it. */
function unidicPos(t: KuromojiToken): string {
  if (t.pos === '記号' && t.word_type === 'KNOWN') return '補助記号';
  if (t.pos === '記号') return '記号';
  if (t.pos === '接頭詞') return '接頭辞';
  // Where the two dictionaries file a class of words differently (checked with fugashi):
  // verb suffixes (れる, させる, がる) are auxiliaries in UniDic; そう and よう after a stem are
  // adjectival nouns; らしい is an auxiliary; やすい, にくい, づらい after a verb are suffixes
  if (t.pos === '動詞' && t.pos_detail_1 === '接尾') return '助動詞';
  if (t.pos_detail_1 === '接尾' && t.pos_detail_2 === '助動詞語幹') return '形状詞';
  if (t.pos === '形容詞' && t.pos_detail_1 === '接尾' && t.surface_form.startsWith('らし')) return '助動詞';
  if (t.pos === '形容詞' && t.pos_detail_1 === '非自立' && /^(やす|にく|づら|がた)/u.test(t.surface_form))
    return '接尾辞';
  // IPADIC files suffixes under nouns and verbs; counters (年, 人) are nouns in UniDic
  if (t.pos_detail_1 === '接尾' && t.pos_detail_2 !== '助数詞') return '接尾辞';
  return t.pos;
}

/**
 * kuromoji's lattice grows with the square of an unbroken run (a second for 1,000 characters),
 * so long text is analysed in pieces of at most 256 characters, cut after punctuation or a space
 * where there is one (a run of digits cut in two reads the same: cutlet joins digits).
 */
function chunks(text: string, max = 256): string[] {
  const cps = Array.from(text);
  const out: string[] = [];
  let start = 0;
  while (cps.length - start > max) {
    let cut = start + max;
    for (let i = start + max - 1; i > start; i--) {
      if (/[\s。、！？!?,.]/u.test(cps[i] as string)) {
        cut = i + 1;
        break;
      }
    }
    out.push(cps.slice(start, cut).join(''));
    start = cut;
  }
  out.push(cps.slice(start).join(''));
  return out;
}

/**
 * A katakana run IPADIC does not know, cut into the fewest loanwords UniDic spells (スマートフォン →
 * スマート + フォン, as MeCab with UniDic cuts it: known words cost less than an unknown run);
 * undefined where the run is not made of such words only.
 */
function loanwordParts(run: string): string[] | undefined {
  if (!/^[\u30a1-\u30faー]{4,}$/u.test(run) || foreignSpelling(run) !== undefined) return undefined;
  const cps = Array.from(run);
  // best[i]: the fewest words that make up cps[0..i)
  const best: (string[] | undefined)[] = [[]];
  for (let end = 1; end <= cps.length; end++) {
    for (let start = Math.max(0, end - 24); start <= end - 2; start++) {
      const before = best[start];
      const word = cps.slice(start, end).join('');
      if (
        before &&
        foreignSpelling(word) !== undefined &&
        (!best[end] || before.length + 1 < (best[end] as string[]).length)
      )
        best[end] = [...before, word];
    }
  }
  const parts = best[cps.length];
  return parts && parts.length > 1 ? parts : undefined;
}

const KATAKANA_WORD = /^[\u30a1-\u30faー]+$/u;
/**
 * Katakana words IPADIC cuts that UniDic has as one loanword (シャット + ダウン → シャットダウン
 * "shutdown"): the longest run of them from each word that makes one, as MeCab with UniDic takes
 * the one known word over its parts.
 */
function joinLoanwords(tokens: KuromojiToken[]): KuromojiToken[] {
  const out: KuromojiToken[] = [];
  const surface = (k: number) => (tokens[k] as KuromojiToken).surface_form;
  for (let i = 0; i < tokens.length; i++) {
    let joined = surface(i);
    let best = i;
    for (let j = i + 1; j < tokens.length && j < i + 6 && KATAKANA_WORD.test(joined); j++) {
      if (!KATAKANA_WORD.test(surface(j))) break;
      joined += surface(j);
      if (foreignSpelling(joined) !== undefined) best = j;
    }
    const t = tokens[i] as KuromojiToken;
    if (best === i) {
      out.push(t);
      continue;
    }
    const word = tokens
      .slice(i, best + 1)
      .map((x) => x.surface_form)
      .join('');
    out.push({
      ...t,
      surface_form: word,
      pos: '名詞',
      pos_detail_1: '一般',
      pos_detail_2: '*',
      reading: word,
      word_type: 'KNOWN',
    });
    i = best;
  }
  return out;
}

function words(text: string): Word[] {
  const out: Word[] = [];
  let space = false;
  const tokens = joinLoanwords(chunks(text).flatMap((chunk) => kuromoji().tokenize(chunk)))
    .flatMap(splitSymbols)
    .flatMap((t, i, all): KuromojiToken[] => {
      // a month after a number that IPADIC glued to the next word (2月払い): UniDic's 月 + the rest
      const prev = all[i - 1]?.surface_form ?? '';
      if (!/\p{Nd}$/u.test(prev) || !t.surface_form.startsWith('月') || t.surface_form.length < 2) return [t];
      const month: KuromojiToken = { ...t, surface_form: '月', pos: '名詞', pos_detail_1: '一般', reading: 'ガツ' };
      return [month, ...kuromoji().tokenize(t.surface_form.slice(1)).flatMap(splitSymbols)];
    });
  for (const t of tokens) {
    if (/^\s+$/u.test(t.surface_form)) {
      space = true;
      continue;
    }
    const loanwords = t.word_type === 'UNKNOWN' ? loanwordParts(t.surface_form) : undefined;
    if (loanwords) {
      for (const surface of loanwords) {
        out.push({ surface, pos1: '名詞', pos2: '普通名詞', kana: surface, pron: surface, unknown: false, space });
        space = false;
      }
      continue;
    }
    const units = own(UNIDIC_SPLITS, t.surface_form);
    if (units) {
      for (const [surface, kana, pos1, pos2] of units) {
        out.push({ surface, pos1, pos2, kana, pron: kana, unknown: false, space });
        space = false;
      }
      continue;
    }
    const cut =
      t.word_type === 'KNOWN' && STABLE_POS.has(t.pos) ? own(unidicUnits().splits, t.surface_form) : undefined;
    if (cut) {
      for (const unit of cut.split('\n')) {
        const [surface = '', kana = '', pron = '', pos1 = '', pos2 = ''] = unit.split('\t');
        out.push({ surface, pos1, pos2, kana, pron, unknown: false, space });
        space = false;
      }
      continue;
    }
    const afterNumber = /\p{Nd}$/u.test(out.at(-1)?.surface ?? '');
    const counter = afterNumber ? own(SUFFIX_COUNTERS, t.surface_form) : undefined;
    let kana = own(UNIDIC_READINGS, t.surface_form) ?? (t.reading && t.reading !== '*' ? t.reading : '');
    // an IPADIC suffix or prefix as UniDic files it (a noun where UniDic has no such affix), with
    // UniDic's reading for a suffix (人 ニン); a noun's or prefix's reading depends on the sentence
    // more than on the entry's cost (名 メイ or ナ), so IPADIC's is kept
    const affix = isNounSuffix(t)
      ? own(unidicUnits().suffixes, t.surface_form)
      : t.pos === '接頭詞'
        ? own(unidicUnits().prefixes, t.surface_form)
        : undefined;
    if (affix?.[0] === '接尾辞') kana = affix[1];
    else if (t.word_type === 'KNOWN' && t.reading)
      kana = own(unidicUnits().readings, `${t.surface_form}\t${t.reading}`) ?? kana;
    if (counter) kana = counter;
    else if (afterNumber && t.surface_form === '月') kana = 'ガツ';
    out.push({
      surface: t.surface_form,
      pos1: counter ? '接尾辞' : (affix?.[0] ?? auxiliaryPos(t, out.at(-1)) ?? unidicPos(t)),
      pos2: t.pos_detail_1,
      kana,
      pron: t.pronunciation ?? '',
      unknown: t.word_type === 'UNKNOWN',
      space,
    });
    space = false;
  }
  return out;
}

/** jaconv.kata2hira */
function kataToHira(text: string): string {
  return text.replace(/[\u30a1-\u30f6]/gu, (c) => String.fromCodePoint((c.codePointAt(0) as number) - 0x60));
}

function single(pk: string | undefined, kk: string, nk: string | undefined): string {
  if (ODORI.includes(kk)) {
    if ('ゝヽ'.includes(kk)) return pk ?? '';
    if ('ゞヾ'.includes(kk)) {
      if (!pk) return '';
      const i = UNVOICED.indexOf(pk);
      return i === -1 ? '' : (own(TABLE, VOICED[i] as string) ?? '');
    }
    return '';
  }
  const digraph = pk ? own(TABLE, pk + kk) : undefined;
  if (digraph !== undefined) return digraph;
  if (nk && own(TABLE, kk + nk) !== undefined) return '';
  if (nk && SUTEGANA.includes(nk)) {
    if (kk === 'っ') return '';
    return (own(TABLE, kk) ?? '').slice(0, -1) + (own(TABLE, nk) ?? '');
  }
  if (SUTEGANA.includes(kk)) return '';
  if (kk === 'ー') return pk && own(TABLE, pk) !== undefined ? (own(TABLE, pk) as string).slice(-1) : '-';
  if (kk === 'っ') {
    if (!nk) return 'っ';
    if (nk === 'ち') return 't';
    if ('あいうえおっ'.includes(nk)) return '-';
    return (own(TABLE, nk) ?? '').slice(0, 1);
  }
  if (kk === 'ん') return nk && 'あいうえおやゆよ'.includes(nk) ? "n'" : 'n';
  // cutlet raises (KeyError) on a kana missing from its table; such a character is dropped
  return own(TABLE, kk) ?? '';
}

/** cutlet `map_kana` */
function mapKana(kana: string): string {
  const cs = [...kana];
  return cs.map((c, i) => single(cs[i - 1], c, cs[i + 1])).join('');
}

// Python str.isascii
const isAscii = (s: string) => [...s].every((c) => (c.codePointAt(0) as number) < 0x80);
// Python str.isdigit (for the digits NFKC leaves)
const isDigit = (s: string) => /^\p{Nd}+$/u.test(s);

/** cutlet `romaji_word` */
function romajiWord(w: Word): string {
  const exception = own(CUTLET.exceptions, w.surface);
  if (exception !== undefined) return exception;
  if (isDigit(w.surface)) return w.surface;
  if (isAscii(w.surface)) return w.surface;
  if (w.surface === '€' || w.surface === '¥') return '';
  // cutlet takes UniDic's foreign spelling of a loanword; UniDic knows many IPADIC does not
  const spelling = foreignSpelling(w.surface);
  if (spelling !== undefined) return spelling;
  if (w.unknown) {
    if (/^[\u3041-\u309f\u30a0-\u30ffー]+$/u.test(w.surface)) return mapKana(kataToHira(w.surface));
    return '?'.repeat([...w.surface].length);
  }
  if (w.pos1 === '補助記号') return own(TABLE, w.surface) ?? '';
  if (w.pos1 === '助詞' && w.pron === 'ワ') return 'wa';
  if (w.pos1 === '助詞' && w.pron === 'エ') return 'e';
  if (w.kana) return mapKana(kataToHira(w.kana));
  return w.surface;
}

type Token = { surface: string; space: boolean };

/** cutlet `romaji_tokens` (capitalisation left out: the reference lowercases the result). */
function romajiTokens(ws: Word[]): Token[] {
  const out: Token[] = [];
  ws.forEach((word, wi) => {
    const po = out.at(-1);
    const nw = ws[wi + 1];
    if (word.surface === "'" && nw && /^[A-Za-z]/u.test(nw.surface) && !nw.space && !word.space) {
      if (po) po.space = false;
      out.push({ surface: word.surface, space: false });
      return;
    }
    const roma = romajiWord(word);
    const isForeign = foreignSpelling(word.surface) !== undefined;
    if (roma && po?.surface.endsWith('っ')) po.surface = po.surface.slice(0, -1) + roma[0];
    const tok: Token = { surface: roma, space: false };
    // Python `x in "「『"` and `roma in "(["` are substring tests: "" matches too
    if ('「『'.includes(word.surface) || '(['.includes(roma)) {
      if (po) po.space = true;
      out.push(tok);
      return;
    }
    if (roma === '/') {
      out.push(tok);
      return;
    }
    if (isAscii(word.surface) && nw && isAscii(nw.surface)) {
      out.push({ surface: word.surface, space: nw.space });
      return;
    }
    out.push(tok);
    if (word.pos1 === '接頭辞') return;
    if (nw && (nw.pos1 === '補助記号' || nw.pos1 === '接尾辞')) return;
    if (nw && nw.surface === ',') return;
    if (isForeign && roma.endsWith('-')) return;
    // Python `pos2 in ("接続助詞")` tests a substring of the string
    if (nw && '接続助詞'.includes(nw.pos2)) return;
    if (isDigit(word.surface) && nw && isDigit(nw.surface)) return;
    if (nw && ['動詞', '助動詞', '形容詞'].includes(word.pos1) && nw.pos1 === '助動詞' && nw.surface !== 'です') return;
    tok.space = true;
  });
  for (const tok of out) tok.surface = tok.surface.replaceAll('っ', '');
  return out;
}

// String.prototype.toWellFormed, which the es2023 library this project compiles against lacks
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** cutlet `romaji` (NFKC, which also folds full-width Latin and half-width kana), lowercased. */
export function japaneseCleaners(text: string): string {
  if (!text) return '';
  // kuromoji fails on a lone surrogate (cutlet's MeCab cannot encode one either): U+FFFD instead
  // kuromoji fails on NUL (cutlet's MeCab stops reading there): a space instead
  const normalised = text.replace(LONE_SURROGATE, '\uFFFD').replaceAll('\u0000', ' ').normalize('NFKC');
  const tokens = romajiTokens(words(normalised));
  return tokens
    .map((t) => `${t.surface}${t.space ? ' ' : ''}`)
    .join('')
    .trim()
    .toLowerCase();
}
