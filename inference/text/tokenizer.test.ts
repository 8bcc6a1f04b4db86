import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BpeTokenizer, whitespacePreTokenize } from './bpe.ts';
import { TextTooLongError, VoiceTokenizer } from './tokenizer.ts';

// testdata/tiny-vocab.json: specials 0–8 ([STOP] [UNK] [SPACE] [START] [en] [de] [zh-cn]
// [ko] [ru]), single characters from 9, merges in rank order:
// h e | l l | he ll | o r | w or | t h | th e | ü b | e r | üb er | п р | и в.
// Ids used below: hell 63, o 23, wor 65, l 20, d 12, ! 47, "," 46, a 9, the 67, t 28,
// he 61, w 31, über 70, пр 71, ив 72, е 59, т 60.
const json = readFileSync(new URL('./testdata/tiny-vocab.json', import.meta.url), 'utf8');
const bpe = BpeTokenizer.fromJson(json);
const tok = VoiceTokenizer.fromJson(json);

test('Whitespace pre-tokenizer: \\w+ | [^\\w\\s]+ with Unicode word characters', () => {
  assert.deepEqual(whitespacePreTokenize('über, привет!! x_1'), ['über', ',', 'привет', '!!', 'x_1']);
});

test('added tokens are split out first, then BPE merges lowest rank first', () => {
  assert.deepEqual(bpe.encode('[en]hello[SPACE]world!'), [4, 63, 23, 2, 65, 20, 12, 47]);
});

test('non-ASCII words stay whole and merge', () => {
  assert.deepEqual(bpe.encode('über'), [70]);
  assert.deepEqual(bpe.encode('привет'), [71, 72, 59, 60]);
});

test('unknown characters become one [UNK] each (fuse_unk false)', () => {
  assert.deepEqual(bpe.encode('a,žž'), [9, 46, 1, 1]);
});

test('encode: strip, lowercase, clean, [lang] prefix, every space as [SPACE]', () => {
  assert.deepEqual(tok.encode('  Hello World! ', 'en'), [4, 63, 23, 2, 65, 20, 12, 47]);
  // "2" → "two" by the English cleaner; t w o have no merges. In "the", h+e (rank 0)
  // merges before t+h (rank 5), so "the" ends as t (28) + he (61), never "the" (67).
  assert.deepEqual(tok.encode('The 2', 'en'), [4, 28, 61, 2, 28, 31, 23]);
});

test('zh is tagged [zh-cn] and romanised to pinyin', () => {
  const ids = tok.encode('好', 'zh-cn');
  assert.equal(ids[0], 6);
  assert.equal(tok.decode(ids), '[zh-cn]hao3');
});

test('decode reverses [SPACE] and drops [STOP]/[UNK]', () => {
  assert.equal(tok.decode([4, 63, 23, 2, 65, 20, 12, 47, 0, 1]), '[en]hello world!');
});

test('start/stop ids and token count come from the vocabulary', () => {
  assert.equal(tok.startId, 3);
  assert.equal(tok.stopId, 0);
  assert.equal(tok.numberOfTokens, 73);
});

test('402 or more tokens is an error', () => {
  assert.throws(() => tok.encode('a '.repeat(201), 'en'), TextTooLongError);
});

test('a text over the language limit is reported, not refused', () => {
  let limit = 0;
  tok.encode('a'.repeat(251), 'en', { onOverLimit: (l) => (limit = l) });
  assert.equal(limit, 250);
});
