// Expected strings: hangul_romanize's own tests for the academic rule
// (tests/academic_test.py in the Python package the reference uses).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { romanizeKorean } from './korean.ts';

const CASES: Array<[string, string]> = [
  ['가', 'ga'],
  ['힣', 'hih'],
  ['밝', 'balg'],
  ['밯망희', 'bahmanghui'],
  ['안녕하세요', 'annyeonghase-yo'],
  ['집', 'jib'],
  ['짚', 'jip'],
  ['밖', 'bakk'],
  ['값', 'gabs'],
  ['붓꽃', 'buskkoch'],
  ['먹는', 'meogneun'],
  ['독립', 'doglib'],
  ['문리', 'munli'],
  ['물엿', 'mul-yeos'],
  ['굳이', 'gud-i'],
  ['좋다', 'johda'],
  ['가곡', 'gagog'],
  ['조랑말', 'jolangmal'],
  ['없었습니다', 'eobs-eoss-seubnida'],
  ['띄고 문장부호! 있고!? @#())$#@()', 'ttuigo munjangbuho! issgo!? @#())$#@()'],
];

for (const [input, expected] of CASES) {
  test(`romanizeKorean ${input}`, () => assert.equal(romanizeKorean(input), expected));
}

test('a syllable after a non-Hangul character gets no marker', () => {
  assert.equal(romanizeKorean('a아 아'), 'aa a');
});
