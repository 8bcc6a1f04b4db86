import assert from 'node:assert/strict';
import { test } from 'node:test';
import { textwrap } from './textwrap.ts';

// Expected lines worked out by hand from CPython's textwrap._wrap_chunks.
test('greedy fill, whitespace dropped at line edges', () => {
  assert.deepEqual(textwrap('the quick brown fox jumps', 10), ['the quick', 'brown fox', 'jumps']);
});

test('an over-long word fills the rest of the line, then is cut at the width', () => {
  assert.deepEqual(textwrap('ab cdefghijklmn', 5), ['ab cd', 'efghi', 'jklmn']);
});

test('hyphens are not break points (break_on_hyphens=False)', () => {
  assert.deepEqual(textwrap('well-known fact', 6), ['well-k', 'nown', 'fact']);
});

test('tabs and newlines count as one space', () => {
  assert.deepEqual(textwrap('a\tb\nc', 3), ['a b', 'c']);
});
