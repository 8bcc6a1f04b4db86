// Any mix of numbers, separators, symbols and letters of the 17 languages cleans without throwing,
// where the reference raises too (numbers beyond num2words' range, ordinals it lacks).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { preprocessText } from './cleaners.ts';
import { LANGUAGES } from './languages.ts';

// Pieces: numbers, the separators and suffixes the number rules look for, and words of each script.
const PIECES = [
  ...'.,%$€£#@&°-/:;'.split(''),
  ' ',
  '. ',
  ...['st', 'th', 'º', 'ª', 'er', 'e', 'ème', 'o', 'a', '-й', '-го', 'inci', 'ik', 'ون', '번째', '차', '번'],
  ...[
    'abc',
    'é',
    'İ',
    'ş',
    'привет',
    '안녕',
    '日本語',
    '東京へ',
    'コーヒー',
    '、',
    '。',
    '！',
    '「',
    '（',
    '１２',
    '％',
  ],
  ...['中文', '一', '不', '了', '第', '年', '月', '日', '号', '元', 'नमस्ते', '१२'],
];
const text = fc
  .array(
    fc.oneof(fc.nat(120).map(String), fc.bigInt({ min: 0n, max: 10n ** 40n }).map(String), fc.constantFrom(...PIECES)),
    {
      maxLength: 12,
    },
  )
  .map((parts) => parts.join(''));

test('cleaning never throws on mixed numbers, symbols and scripts, in every language', () => {
  fc.assert(
    fc.property(fc.constantFrom(...LANGUAGES), text, (lang, t) => {
      const out = preprocessText(t.toLowerCase(), lang);
      assert.equal(typeof out, 'string');
    }),
    { numRuns: 3000, seed: 13 },
  );
});
