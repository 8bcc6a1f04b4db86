import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spearman } from './prescreen.ts';

test('Spearman rank correlation: monotone, reversed, ties, too few pairs', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 35, 90]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // Average ranks for ties: x ranks 1.5 1.5 3 4 against 1 2 3 4.
  assert.ok(Math.abs((spearman([5, 5, 6, 7], [1, 2, 3, 4]) as number) - 0.9486832980505138) < 1e-12);
  assert.equal(spearman([1, 2], [2, 1]), null);
  assert.equal(spearman([1, 1, 1], [1, 2, 3]), null);
});
