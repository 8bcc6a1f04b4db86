import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreferenceVote, ScoreVote } from '../types.ts';
import { findHeadToHead, headToHead, pairwiseRatings } from './pairwise.ts';

let nextRater = 0;
// Each vote from its own rater, so rater counts equal vote counts and the p-values are checkable by hand.
const v = (left: string, right: string, choice: PreferenceVote['choice']): PreferenceVote => ({
  kind: 'ab',
  raterId: `r${nextRater++}`,
  sentenceId: 's',
  left,
  right,
  choice,
  responseMs: 1,
  audioMs: 1,
});

test('head-to-head counts wins whichever side the item was shown on', () => {
  const votes = [
    ...Array.from({ length: 5 }, () => v('x', 'y', 'left')),
    ...Array.from({ length: 4 }, () => v('y', 'x', 'right')),
    v('y', 'x', 'left'),
    v('x', 'y', 'tie'),
    ...Array.from({ length: 6 }, () => v('x', 'z', 'left')),
  ];
  const table = headToHead(votes);
  const xy = findHeadToHead(table, 'y', 'x');
  assert.deepEqual({ winsA: xy?.winsA, winsB: xy?.winsB, ties: xy?.ties }, { winsA: 9, winsB: 1, ties: 1 });
  // Raw p for 9-1 is 22/1024 = 0.021484; for 6-0 it is 2/64 = 0.03125.
  // Holm with m = 2: 0.021484 * 2 = 0.042969, then max(0.042969, 0.03125) = 0.042969.
  assert.ok(Math.abs((xy?.pHolm ?? 0) - 0.0429688) < 1e-6);
  assert.ok(Math.abs((findHeadToHead(table, 'x', 'z')?.pHolm ?? 0) - 0.0429688) < 1e-6);
  assert.deepEqual([xy?.ratersA, xy?.ratersB], [9, 1]);
});

test('the sign test counts raters: ten votes of one rater are one rater', () => {
  const one = (choice: PreferenceVote['choice']) => ({ ...v('x', 'y', choice), raterId: 'prolific' });
  const table = headToHead([...Array.from({ length: 10 }, () => one('left')), v('x', 'y', 'right')]);
  const row = findHeadToHead(table, 'x', 'y');
  assert.deepEqual([row?.winsA, row?.winsB, row?.ratersA, row?.ratersB], [10, 1, 1, 1]);
  assert.equal(row?.p, 1);
});

test('rating comparisons are paired over raters, Holm-adjusted', () => {
  const s = (item: string, score: number, rater: number): ScoreVote => ({
    kind: 'mos',
    raterId: `r${rater}`,
    sentenceId: 's',
    item,
    score,
    responseMs: 1,
    audioMs: 1,
  });
  const votes = [
    ...[1, 2, 3, 4, 5].map((x, r) => s('p', x, r)),
    ...[2, 4, 6, 8, 10].map((x, r) => s('q', x, r)),
    s('lonely', 3, 9),
  ];
  const rows = pairwiseRatings(votes, 'mos');
  assert.equal(rows.length, 1, 'lonely shares no rater with p or q');
  // Per-rater differences p − q: −1, −2, −3, −4, −5: mean −3, sd √2.5, se √0.5, t = −3 / √0.5.
  assert.ok(Math.abs((rows[0]?.t ?? 0) + 3 / Math.sqrt(0.5)) < 1e-9);
  assert.deepEqual([rows[0]?.df, rows[0]?.raters], [4, 5]);
  assert.equal(rows[0]?.pHolm, rows[0]?.p);
});
