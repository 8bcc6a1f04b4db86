/**
 * Arabic numbers as Python num2words writes them (`lang_AR`), ported line by line: "و " between
 * parts, feminine ones after the point, the fraction read as hundredths, and currency amounts
 * always in riyals and halalas (num2words AR ignores the currency code for $, € and £).
 */

const ONES = [
  '',
  'واحد',
  'اثنان',
  'ثلاثة',
  'أربعة',
  'خمسة',
  'ستة',
  'سبعة',
  'ثمانية',
  'تسعة',
  'عشرة',
  'أحد عشر',
  'اثنا عشر',
  'ثلاثة عشر',
  'أربعة عشر',
  'خمسة عشر',
  'ستة عشر',
  'سبعة عشر',
  'ثمانية عشر',
  'تسعة عشر',
];
const FEMININE_ONES = [
  '',
  'إحدى',
  'اثنتان',
  'ثلاث',
  'أربع',
  'خمس',
  'ست',
  'سبع',
  'ثمان',
  'تسع',
  'عشر',
  'إحدى عشرة',
  'اثنتا عشرة',
  'ثلاث عشرة',
  'أربع عشرة',
  'خمس عشرة',
  'ست عشرة',
  'سبع عشرة',
  'ثماني عشرة',
  'تسع عشرة',
];
const ORDINALS = [
  '',
  'اول',
  'ثاني',
  'ثالث',
  'رابع',
  'خامس',
  'سادس',
  'سابع',
  'ثامن',
  'تاسع',
  'عاشر',
  'حادي عشر',
  'ثاني عشر',
  'ثالث عشر',
  'رابع عشر',
  'خامس عشر',
  'سادس عشر',
  'سابع عشر',
  'ثامن عشر',
  'تاسع عشر',
];
const TENS = ['عشرون', 'ثلاثون', 'أربعون', 'خمسون', 'ستون', 'سبعون', 'ثمانون', 'تسعون'];
const HUNDREDS = ['', 'مائة', 'مئتان', 'ثلاثمائة', 'أربعمائة', 'خمسمائة', 'ستمائة', 'سبعمائة', 'ثمانمائة', 'تسعمائة'];
const APPENDED_TWOS = ['مئتا', 'ألفا', 'مليونا', 'مليارا', 'تريليونا', 'كوادريليونا', 'كوينتليونا'];
const TWOS = ['مئتان', 'ألفان', 'مليونان', 'ملياران', 'تريليونان', 'كوادريليونان', 'كوينتليونان'];
const GROUP = ['مائة', 'ألف', 'مليون', 'مليار', 'تريليون', 'كوادريليون', 'كوينتليون'];
const APPENDED_GROUP = ['', 'ألفاً', 'مليوناً', 'ملياراً', 'تريليوناً', 'كوادريليوناً', 'كوينتليوناً'];
const PLURAL_GROUPS = ['', 'آلاف', 'ملايين', 'مليارات', 'تريليونات', 'كوادريليونات', 'كوينتليونات'];
const RIYAL = ['ريال', 'ريالان', 'ريالات', 'ريالاً'];
const HALALA = ['هللة', 'هللتان', 'هللات', 'هللة'];
const NO_UNIT = ['', '', '', ''];

type Options = { unit: readonly string[]; subunit: readonly string[]; separator: string; feminineUnit: boolean };

function ones(digit: number, level: number, o: Options): string {
  // level -1 is the fraction (num2words: isCurrencyPartNameFeminine, always true)
  if (level === -1 || (level === 0 && o.feminineUnit)) return FEMININE_ONES[digit] as string;
  return ONES[digit] as string;
}

function group(n: number, level: number, integerValue: bigint, o: Options): string {
  const tens = n % 100;
  const hundreds = Math.floor(n / 100);
  let ret = '';
  if (hundreds > 0) {
    if (tens === 0 && hundreds === 2) ret = APPENDED_TWOS[0] as string;
    else {
      ret = HUNDREDS[hundreds] as string;
      if (ret !== '' && tens !== 0) ret += ' و ';
    }
  }
  if (tens > 0) {
    if (tens < 20) {
      if (tens === 2 && hundreds === 0 && level > 0) {
        const pow = integerValue.toString().length - 1;
        ret =
          integerValue > 10n && pow % 3 === 0 && integerValue === 2n * 10n ** BigInt(pow)
            ? (APPENDED_TWOS[level] as string)
            : (TWOS[level] as string);
      } else if (tens === 1 && level > 0) {
        // num2words' two branches before this compare the fractional hundreds (n / 100) with 0,
        // which never holds here, so they are left out.
        ret += GROUP[level] as string;
      } else ret += ones(tens, level, o);
    } else {
      const one = tens % 10;
      if (one > 0) ret += ones(one, level, o);
      if (ret !== '' && one !== 0) ret += ' و ';
      ret += TENS[Math.floor(tens / 10) - 2] as string;
    }
  }
  return ret;
}

/** num2words AR `to_str` + `extract_integer_and_decimal_parts`: the integer and 2-digit fraction. */
function parts(digits: string): [bigint, number] {
  const [int = '0', frac = ''] = digits.split('.');
  if (!frac || /^0*$/.test(frac)) return [BigInt(int), 0];
  // to_str: round((number - integer) * 10**9) in float arithmetic, as 9 digits without trailing
  // zeros; the fraction is then padded or cut to 2 digits
  const value = Number(digits);
  const nine = Math.round((value - Math.trunc(value)) * 1e9)
    .toString()
    .padStart(9, '0')
    .replace(/0+$/, '');
  return [BigInt(int), Number(nine.padEnd(2, '0').slice(0, 2))];
}

function unitName(names: readonly string[], n: bigint, whole: boolean): string {
  const r = Number(n % 100n);
  if (r === 0 || r === 1) return names[0] as string;
  if (r === 2) return (whole && n !== 2n ? names[0] : names[1]) as string;
  if (r <= 10) return names[2] as string;
  return names[3] as string;
}

function convert(digits: string, o: Options): string {
  const [integerValue, decimalValue] = parts(digits);
  if (Number(digits) === 0) return 'صفر';
  const decimalString = group(decimalValue, -1, integerValue, o);
  let ret = '';
  let level = 0;
  let rest = integerValue;
  while (rest > 0n) {
    const n = Number(rest % 1000n);
    rest /= 1000n;
    const description = group(n, level, integerValue, o);
    if (description !== '') {
      if (level > 0) {
        if (ret !== '') ret = `و ${ret}`;
        if (n !== 2 && n !== 1) {
          if (n % 100 !== 1) {
            if (n >= 3 && n <= 10) ret = `${PLURAL_GROUPS[level]} ${ret}`;
            else ret = `${ret !== '' ? APPENDED_GROUP[level] : GROUP[level]} ${ret}`;
          } else ret = `${GROUP[level]} ${ret}`;
        }
      }
      ret = `${description} ${ret}`;
    }
    level++;
  }
  let out = ret;
  if (integerValue !== 0n) out += unitName(o.unit, integerValue, true);
  if (decimalValue !== 0) out += ` ${o.separator} ${decimalString} ${unitName(o.subunit, BigInt(decimalValue), false)}`;
  return out;
}

export const arabic = {
  cardinal: (n: bigint) =>
    convert(n.toString(), { unit: NO_UNIT, subunit: NO_UNIT, separator: ',', feminineUnit: false }).trim(),
  /** `digits` is the float's shortest decimal text ("12.5"). */
  decimal: (digits: string) =>
    convert(digits, { unit: NO_UNIT, subunit: NO_UNIT, separator: ',', feminineUnit: false }).trim(),
  ordinal(n: bigint): string {
    if (n <= 19n) return ORDINALS[Number(n)] as string;
    return convert(n.toString(), { unit: NO_UNIT, subunit: NO_UNIT, separator: 'و', feminineUnit: n < 100n }).trim();
  },
  /** `to_currency`: riyals and halalas whatever the currency. `digits` as for decimal. */
  currency: (digits: string) => convert(digits, { unit: RIYAL, subunit: HALALA, separator: 'و', feminineUnit: false }),
};
