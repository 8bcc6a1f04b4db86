import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreferenceVote, ScoreVote } from '../types.ts';
import { findHeadToHead, headToHead, pairwiseRatings } from './pairwise.ts';

const v = (left: string, right: string, choice: PreferenceVote['choice']): PreferenceVote => ({
  kind: 'ab',
  raterId: 'r',
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
});

test('rating comparisons run Welch per pair with Holm', () => {
  const s = (item: string, score: number): ScoreVote => ({
    kind: 'mos',
    raterId: 'r',
    sentenceId: 's',
    item,
    score,
    responseMs: 1,
    audioMs: 1,
  });
  const votes = [...[1, 2, 3, 4, 5].map((x) => s('p', x)), ...[2, 4, 6, 8, 10].map((x) => s('q', x)), s('lonely', 3)];
  const rows = pairwiseRatings(votes, 'mos');
  assert.equal(rows.length, 1);
  // Same data as the hand-computed Welch example: t = -1.89737.
  assert.ok(Math.abs((rows[0]?.t ?? 0) + 1.89737) < 1e-5);
  assert.equal(rows[0]?.pHolm, rows[0]?.p);
});
