/**
 * Korean ordinals and floats as Python num2words writes them (`lang_KO`): an ordinal reads its
 * last tens and ones in native Korean ("열두 번째"), a float reads each decimal digit
 * ("십이 점 오"). Cardinal words are n2words' (they agree with num2words').
 */
import * as ko from 'n2words/ko-KR';
import { baseFloat } from './num2words-base.ts';

const cardinal = (n: bigint): string => ko.toCardinal(n);

const ORDS: Record<string, string> = {
  일: '한',
  이: '두',
  삼: '세',
  사: '네',
  오: '다섯',
  육: '여섯',
  칠: '일곱',
  팔: '여덟',
  구: '아홉',
  십: '열',
  이십: '스물',
  삼십: '서른',
  사십: '마흔',
  오십: '쉰',
  육십: '예순',
  칠십: '일흔',
  팔십: '여든',
  구십: '아흔',
};

/**
 * num2words KO `to_ordinal`. It raises (KeyError) when the last group has no tens or ones word
 * to rewrite (100, 1000, 10000...); the reference then fails, and this reads the cardinal
 * followed by "번째" instead.
 */
export function koreanOrdinal(n: bigint): string {
  if (n === 1n) return '첫 번째';
  const outwords = cardinal(n).split(' ');
  const lastwords = (outwords.at(-1) as string).split('백');
  const last = lastwords.at(-1) as string;
  if (last.includes('십')) {
    const tenOne = last.split('십');
    const tens = ORDS[`${tenOne[0]}십`];
    if (tens === undefined) return `${cardinal(n)} 번째`;
    tenOne[0] = tens;
    const one = ORDS[tenOne[1] as string];
    if (one !== undefined) {
      tenOne[1] = one;
      tenOne[0] = tenOne[0].replace('스무', '스물');
    }
    lastwords[lastwords.length - 1] = tenOne.join('');
  } else {
    const one = ORDS[last];
    if (one === undefined) return `${cardinal(n)} 번째`;
    lastwords[lastwords.length - 1] = one;
  }
  outwords[outwords.length - 1] = lastwords.join('백 ');
  return `${outwords.join(' ')} 번째`;
}

export const koreanDecimal = baseFloat(cardinal, '점');
