import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreferenceVote } from '../types.ts';
import { DEFAULT_PROMOTION_POLICY, decidePromotion, type PromotionInput } from './promotion.ts';
import { fitOf, raterVotes } from './test-fixtures.ts';

const fit = fitOf([
  ['base', -0.3],
  ['c1', 0],
  ['c2', 0.4],
]);

function crowd(raters: number, x: string, y: string, wins: number, losses: number): PreferenceVote[] {
  return Array.from({ length: raters }, (_, r) => raterVotes(`r${r}`, x, y, wins, losses)).flat();
}
const order = (n: number) => Array.from({ length: n }, (_, r) => `r${r}`);

const input = (over: Partial<PromotionInput> = {}): PromotionInput => ({
  naturalness: [],
  similarity: null,
  raterOrder: order(20),
  bradleyTerry: fit,
  incumbent: 'base',
  candidates: ['c1', 'c2'],
  ...over,
});

test('twenty raters who each prefer c2 8 times in 10 promote it, with the numbers in the audit', () => {
  const d = decidePromotion(input({ naturalness: crowd(20, 'c2', 'base', 8, 2) }));
  assert.ok(d.promote);
  assert.equal(d.winner, 'c2');
  const c2 = d.audit.candidates.find((c) => c.item === 'c2');
  assert.equal(c2?.naturalness.superiority.raters, 20);
  assert.ok(Math.abs((c2?.naturalness.superiority.mean ?? 0) - 0.6) < 1e-12);
  // Two candidates: Bonferroni, wealth must reach 2 / 0.01.
  assert.ok(Math.abs((c2?.naturalness.superiority.threshold ?? 0) - Math.log(200)) < 1e-12);
  assert.ok((c2?.naturalness.share.ci.low ?? 0) > 0.5);
  assert.equal(d.audit.raters, 20);
});

test('one prolific rater cannot carry a promotion: the rater, not the vote, is the unit', () => {
  // 200 to 0 from one rater and 5 to 5 from nineteen others: 295 to 95 counted per vote,
  // which an exact sign test per vote would call overwhelming.
  const votes = [
    ...raterVotes('r0', 'c2', 'base', 200, 0),
    ...crowd(20, 'c2', 'base', 5, 5).filter((v) => v.raterId !== 'r0'),
  ];
  const d = decidePromotion(input({ naturalness: votes }));
  assert.equal(d.promote, false);
  assert.equal(d.promote ? '' : d.reason, 'collecting');
});

test('fewer raters than minRaters decide nothing, however one-sided', () => {
  const d = decidePromotion(input({ naturalness: crowd(7, 'c2', 'base', 10, 0), raterOrder: order(7) }));
  assert.equal(d.promote, false);
  assert.equal(DEFAULT_PROMOTION_POLICY.minRaters, 8);
});

test('more natural but clearly less like the speaker: never promoted, and the test settles', () => {
  const naturalness = [...crowd(20, 'c2', 'base', 9, 1), ...crowd(20, 'c1', 'base', 2, 8)];
  const ab = crowd(20, 'c2', 'base', 1, 9).concat(crowd(20, 'c1', 'base', 5, 5));
  const d = decidePromotion(input({ naturalness, similarity: { use: 'ab', ab, ratings: [] } }));
  assert.equal(d.promote, false);
  const c2 = d.audit.candidates.find((c) => c.item === 'c2');
  assert.equal(c2?.naturalness.superiority.rejected, true);
  assert.equal(c2?.status, 'less-similar');
  assert.equal(d.audit.candidates.find((c) => c.item === 'c1')?.status, 'futile');
  assert.deepEqual([d.settled, d.promote ? '' : d.reason], [true, 'futile']);
});

test('a test that measures similarity promotes only once similarity has been shown not worse', () => {
  const naturalness = crowd(20, 'c2', 'base', 9, 1);
  const waiting = decidePromotion(input({ naturalness, similarity: { use: 'ab', ab: [], ratings: [] } }));
  assert.equal(waiting.promote, false);
  assert.equal(waiting.settled, false);
  const ab = crowd(20, 'c2', 'base', 5, 5);
  const shown = decidePromotion(input({ naturalness, similarity: { use: 'ab', ab, ratings: [] } }));
  assert.ok(shown.promote);
  assert.equal(shown.audit.candidates.find((c) => c.item === 'c2')?.similarity.measured, 'ab');
});

test('when every candidate loses, the test settles without a promotion', () => {
  const naturalness = [...crowd(20, 'c2', 'base', 2, 8), ...crowd(20, 'c1', 'base', 3, 7)];
  const d = decidePromotion(input({ naturalness }));
  assert.deepEqual([d.promote, d.settled], [false, true]);
});

test('between two eligible candidates the stronger by Bradley–Terry wins', () => {
  const naturalness = [...crowd(20, 'c2', 'base', 9, 1), ...crowd(20, 'c1', 'base', 9, 1)];
  const d = decidePromotion(input({ naturalness }));
  assert.ok(d.promote);
  assert.equal(d.winner, 'c2');
});
