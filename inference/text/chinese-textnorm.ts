/**
 * The reference's Chinese number step: `zh_num2words.TextNorm()` with its defaults, a port of
 * `normalize_nsw` (dates, money, phone numbers, fractions, percentages, numbers before measure
 * words, digit strings of 4+ read digit by digit, remaining numbers) and `num2chn` (the "mid"
 * numbering system, 两 before 百/千/万/亿, 十二 for 12), then every Chinese and ASCII punctuation
 * mark turned into ",". No npm library reproduces this normaliser's rules, so it is ported line by
 * line; each step keeps the reference's quirks (a match replaces the first equal text anywhere in
 * the sentence, as Python's `str.replace(old, new, 1)` does).
 */

const DIGITS = '零一二三四五六七八九';
const LIANG = '两';
const POINT = '点';
type Unit = { power: number; char: string };
// '十百千万' with powers 1–4, then '亿兆京垓秭穰沟涧正载' at 8, 12, 16, ... ("mid" numbering).
const UNITS: Unit[] = [
  ...[...'十百千万'].map((char, i) => ({ power: i + 1, char })),
  ...[...'亿兆京垓秭穰沟涧正载'].map((char, i) => ({ power: (i + 2) * 4, char })),
];

type Sym = { kind: 'digit'; value: number } | { kind: 'unit'; unit: Unit } | { kind: 'point' };

/** Python's `int(c)` for one decimal digit of any script (\d in Python matches them all). */
function digitValue(c: string): number {
  const cp = c.codePointAt(0) as number;
  for (const zero of DIGIT_ZEROS) if (cp >= zero && cp <= zero + 9) return cp - zero;
  throw new Error(`not a decimal digit: ${c}`);
}
// The Unicode Nd characters come in runs of ten, 0 to 9 (some runs adjoin: the mathematical
// digits U+1D7CE–U+1D7FF are five of them); these are the code points of their zeros.
const DIGIT_ZEROS = (() => {
  const zeros: number[] = [];
  const isDigit = (cp: number) => /\p{Nd}/u.test(String.fromCodePoint(cp));
  for (let cp = 1; cp < 0x20000; cp++) {
    if (isDigit(cp) && !isDigit(cp - 1)) {
      for (let zero = cp; isDigit(zero); zero += 10) zeros.push(zero);
    }
  }
  return zeros;
})();

function getValue(valueString: string, useZeros = true): Sym[] {
  const stripped = valueString.replace(/^0+/, '');
  if (!stripped) return [];
  const chars = [...stripped];
  if (chars.length === 1) {
    const d: Sym = { kind: 'digit', value: digitValue(stripped) };
    return useZeros && valueString.length !== stripped.length ? [{ kind: 'digit', value: 0 }, d] : [d];
  }
  const unit = [...UNITS].reverse().find((u) => u.power < chars.length) as Unit;
  const all = [...valueString];
  const head = all.slice(0, all.length - unit.power).join('');
  return [...getValue(head), { kind: 'unit', unit }, ...getValue(chars.slice(-unit.power).join(''))];
}

/** `num2chn(number_string, alt_two=..., use_units=...)`, simplified characters. */
export function num2chn(numberString: string, altTwo = true, useUnits = true): string {
  const parts = numberString.split('.');
  if (parts.length > 2) throw new Error(`invalid input num string with more than one dot: ${numberString}`);
  const [intString = '', decString = ''] = parts;
  const intChars = [...intString];
  const syms: Sym[] =
    useUnits && intChars.length > 1
      ? getValue(intString)
      : intChars.map((c) => ({ kind: 'digit', value: digitValue(c) }));
  if (decString) {
    syms.push({ kind: 'point' });
    for (const c of decString) syms.push({ kind: 'digit', value: digitValue(c) });
  }
  let text = '';
  syms.forEach((s, i) => {
    if (s.kind === 'unit') text += s.unit.char;
    else if (s.kind === 'point') text += POINT;
    else {
      const next = syms[i + 1];
      const prev = syms[i - 1];
      const liang =
        altTwo &&
        s.value === 2 &&
        next?.kind === 'unit' &&
        (prev === undefined || prev.kind === 'unit') &&
        next.unit.power !== 1 &&
        (prev === undefined || prev.unit.power !== 1);
      text += liang ? LIANG : DIGITS[s.value];
    }
  });
  if (text.startsWith(POINT)) return DIGITS[0] + text;
  // 10–19: 十二, not 一十二
  const cs = [...text];
  if (cs.length >= 2 && cs[1] === '十' && cs[0] === '一') return cs.slice(1).join('');
  return text;
}

const D = String.raw`\p{Nd}`;
const ND = String.raw`\P{Nd}`;
const CURRENCY_UNITS = '((亿|千万|百万|万|千|百)|(亿|千万|百万|万|千|百|)元|(亿|千万|百万|万|千|百|)块|角|毛|分)';
const COM_QUANTIFIERS =
  '(匹|张|座|回|场|尾|条|个|首|阙|阵|网|炮|顶|丘|棵|只|支|袭|辆|挑|担|颗|壳|窠|曲|墙|群|腔|' +
  '砣|座|客|贯|扎|捆|刀|令|打|手|罗|坡|山|岭|江|溪|钟|队|单|双|对|出|口|头|脚|板|跳|枝|件|贴|' +
  '针|线|管|名|位|身|堂|课|本|页|家|户|层|丝|毫|厘|分|钱|两|斤|担|铢|石|钧|锱|忽|(千|毫|微)克|' +
  '毫|厘|分|寸|尺|丈|里|寻|常|铺|程|(千|分|厘|毫|微)米|撮|勺|合|升|斗|石|盘|碗|碟|叠|桶|笼|盆|' +
  '盒|杯|钟|斛|锅|簋|篮|盘|桶|罐|瓶|壶|卮|盏|箩|箱|煲|啖|袋|钵|年|月|日|季|刻|时|周|天|秒|分|旬|' +
  '纪|岁|世|更|夜|春|夏|秋|冬|代|伏|辈|丸|泡|粒|颗|幢|堆|条|根|支|道|面|片|张|颗|块)';

const re = (source: string) => new RegExp(source, 'gu');
const DATE = re(String.raw`${ND}+((([089]${D}|(19|20)${D}{2})年)?(${D}{1,2}月(${D}{1,2}[日号])?)?)`);
const MONEY = re(String.raw`${ND}+((${D}+(\.${D}+)?)[多余几]?${CURRENCY_UNITS}(${D}${CURRENCY_UNITS}?)?)`);
const MOBILE = re(String.raw`${ND}((\+?86 ?)?1([38]${D}|5[0-35-9]|7[678]|9[89])${D}{8})${ND}`);
const FIXED = re(String.raw`${ND}((0(10|2[1-3]|[3-9]${D}{2})-?)?[1-9]${D}{6,7})${ND}`);
const FRACTION = re(String.raw`(${D}+/${D}+)`);
const PERCENT = re(String.raw`(${D}+(\.${D}+)?%)`);
const QUANTIFIED = re(String.raw`(${D}+(\.${D}+)?)[多余几]?${COM_QUANTIFIERS}`);
const DIGIT_RUN = re(String.raw`(${D}{4,32})`);
const NUMBER = re(String.raw`(${D}+(\.${D}+)?)`);
const LETTERS_TWO = /(([a-zA-Z]+)二([a-zA-Z]+))/gu;
const NUMBER_IN_MONEY = re(String.raw`(${D}+(\.${D}+)?)`);

/** Python `text.replace(old, new, 1)`. */
function replaceFirst(text: string, old: string, replacement: string): string {
  const at = text.indexOf(old);
  return at === -1 ? text : text.slice(0, at) + replacement + text.slice(at + old.length);
}

/** `re.findall` then one `replace(group 1, f(group 1), 1)` per match, on the text as it changes. */
function rewrite(text: string, pattern: RegExp, f: (m: string) => string): string {
  let out = text;
  for (const m of [...text.matchAll(pattern)]) {
    const g = m[1] as string;
    out = replaceFirst(out, g, f(g));
  }
  return out;
}

function date2chntext(date: string): string {
  let year = '';
  let other = date;
  const y = date.trim().indexOf('年');
  if (y !== -1) {
    const trimmed = date.trim();
    year = `${num2chn(trimmed.slice(0, y), false, false)}年`;
    other = trimmed.slice(y + 1);
  }
  if (!other) return year;
  let month = '';
  let day = '';
  const o = other.trim();
  const mi = o.indexOf('月');
  if (mi !== -1) {
    month = `${num2chn(o.slice(0, mi))}月`;
    day = o.slice(mi + 1);
  } else {
    day = date;
  }
  if (day) {
    const cs = [...day];
    day = num2chn(cs.slice(0, -1).join('')) + (cs.at(-1) as string);
  }
  return year + month + day;
}

function money2chntext(money: string): string {
  let out = money;
  for (const m of [...money.matchAll(NUMBER_IN_MONEY)]) {
    // Python's str.replace without a count: every occurrence
    out = out.split(m[1] as string).join(num2chn(m[1] as string));
  }
  return out;
}

function telephone2chntext(phone: string, fixed: boolean): string {
  if (fixed)
    return phone
      .split('-')
      .map((p) => num2chn(p, false, false))
      .join('');
  return phone
    .replace(/^\++|\++$/g, '')
    .split(/\s+/)
    .filter(Boolean)
    .map((p) => num2chn(p, false, false))
    .join('');
}

export function normalizeNsw(raw: string): string {
  let text = `^${raw}$`;
  text = rewrite(text, DATE, date2chntext);
  text = rewrite(text, MONEY, money2chntext);
  text = rewrite(text, MOBILE, (p) => telephone2chntext(p, false));
  text = rewrite(text, FIXED, (p) => telephone2chntext(p, true));
  text = rewrite(text, FRACTION, (f) => {
    const [num = '', den = ''] = f.split('/');
    return `${num2chn(den)}分之${num2chn(num)}`;
  });
  text = text.replaceAll('％', '%');
  text = rewrite(text, PERCENT, (p) => `百分之${num2chn(p.trim().replace(/^%+|%+$/g, ''))}`);
  text = rewrite(text, QUANTIFIED, (n) => num2chn(n));
  text = rewrite(text, DIGIT_RUN, (d) => num2chn(d, false, false));
  text = rewrite(text, NUMBER, (n) => num2chn(n));
  for (const m of [...text.matchAll(LETTERS_TWO)]) {
    text = replaceFirst(text, m[1] as string, `${m[2]}2${m[3]}`);
  }
  return text.replace(/^\^+/, '').replace(/\$+$/, '');
}

const PUNCS =
  '！？｡。' +
  '＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃《》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏·〈〉-' +
  '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const PUNC_SET = new Set(PUNCS);

/** `TextNorm()(text)`: normalise numbers, then every punctuation mark becomes ",". */
export function chineseTextNorm(text: string): string {
  return [...normalizeNsw(text)].map((c) => (PUNC_SET.has(c) ? ',' : c)).join('');
}
