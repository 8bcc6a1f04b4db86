import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LANGUAGES } from './languages.ts';
import { sentences, splitSentences } from './sentences.ts';

test('sentences end after . ! ? once a non-punctuation character follows', () => {
  assert.deepEqual(sentences('Hello there. How are you?! Fine.'), ['Hello there.', 'How are you?!', 'Fine.']);
});

test('decimals and common titles do not end a sentence', () => {
  assert.deepEqual(sentences('Mr. Smith paid 3.50 today. Then left.'), ['Mr. Smith paid 3.50 today.', 'Then left.']);
});

test('closing quotes stay with their sentence', () => {
  assert.deepEqual(sentences('He said "stop." Then ran.'), ['He said "stop."', 'Then ran.']);
});

test('Chinese full stops end sentences without spaces (a token per character in Chinese)', () => {
  assert.deepEqual(sentences('你好。今天很好！是吗？', 'zh-cn'), ['你好。', '今天很好！', '是吗？']);
  // English's tokens (the reference's for most languages) split "。" off a word's end only
  assert.deepEqual(sentences('你好。今天很好！', 'en'), ['你好。今天很好！']);
});

test('an ellipsis ends no sentence; a whitespace token begins one', () => {
  assert.deepEqual(sentences('Wait... what?! Yes.  No.', 'en'), ['Wait... what?!', 'Yes.', ' No.']);
});

test('a text shorter than the limit is returned whole (left-stripped)', () => {
  assert.deepEqual(splitSentences('  One. Two.', 'en'), ['One. Two.']);
});

test('sentences are packed up to the limit; the limit itself is allowed', () => {
  // limit 20: "aaaa. bbbb." is 11 chars, + " cccc dddd." would be 22 > 20
  const text = 'aaaa. bbbb. cccc dddd. e.';
  assert.deepEqual(splitSentences(text, 'en', 20), ['aaaa. bbbb.', 'cccc dddd. e.']);
});

test('a sentence longer than the limit is wrapped at the limit', () => {
  const text = 'one two three four five six seven.';
  assert.deepEqual(splitSentences(text, 'en', 10), ['one two', 'three four', 'five six', 'seven.']);
});

test('the per-language limit applies (ja is 71)', () => {
  const ja = `${'あ'.repeat(40)}。${'い'.repeat(40)}。`;
  assert.deepEqual(splitSentences(ja, 'ja'), [`${'あ'.repeat(40)}。`, `${'い'.repeat(40)}。`]);
});

test('any text splits without loss into chunks within the limit (one more for the joining space)', () => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 400 }),
    fc
      .array(
        fc.oneof(
          fc.constantFrom(
            'Mr.',
            'e.g.',
            'U.S.',
            '...',
            '…',
            '?!',
            '。',
            '！',
            '「はい。」',
            'a.b',
            'p.m.',
            '3.14',
            '1.',
            'x.Y',
          ),
          fc.constantFrom(' ', '  ', '\n', '\t', ''),
          fc.string({ maxLength: 30 }),
          fc.stringMatching(/^[a-zA-Zあ-ん一-龥 .!?]{1,80}$/),
        ),
        { maxLength: 60 },
      )
      .map((parts) => parts.join('')),
  );
  const visible = (s: string) => s.replace(/\s/gu, '');
  fc.assert(
    fc.property(text, fc.constantFrom(...LANGUAGES), fc.integer({ min: 1, max: 120 }), (t, lang, limit) => {
      const chunks = splitSentences(t, lang, limit);
      for (const c of chunks) assert.ok(Array.from(c).length <= limit + 1, `${JSON.stringify(c)} over ${limit}`);
      assert.equal(visible(chunks.join('')), visible(t));
    }),
    { numRuns: 2000, seed: 5 },
  );
});
