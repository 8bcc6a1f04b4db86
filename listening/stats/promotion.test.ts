import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decidePromotion, type PromotionInput } from './promotion.ts';
import { h2h, summaryOf } from './test-fixtures.ts';

// ckpt-2 has the best point estimate but few votes and a wide interval;
// ckpt-3 has the best lower bound. "real" is an anchor and may not be promoted.
const bt = summaryOf([
  ['base', -0.5, -0.7, -0.3, 300],
  ['ckpt-1', 0, -0.2, 0.2, 300],
  ['ckpt-2', 0.6, -0.4, 1.6, 40],
  ['ckpt-3', 0.4, 0.25, 0.55, 300],
  ['real', 1.5, 1.3, 1.7, 300],
]);
const input = (over: Partial<PromotionInput> = {}): PromotionInput => ({
  bradleyTerry: bt,
  headToHead: [h2h('ckpt-3', 'base', 70, 30, 0.001)],
  totalVotes: 600,
  incumbent: 'base',
  candidates: ['ckpt-1', 'ckpt-2', 'ckpt-3'],
  ...over,
});

test('promotes the candidate with the best lower bound after a significant win', () => {
  const d = decidePromotion(input());
  assert.ok(d.promote);
  assert.equal(d.winner, 'ckpt-3');
  assert.deepEqual(
    d.audit.ranking.map((r) => r.item),
    ['ckpt-3', 'ckpt-1', 'ckpt-2', 'base'],
  );
  assert.deepEqual(d.audit.headToHead, { wins: 70, losses: 30, ties: 0, p: 0.001, pHolm: 0.001 });
});

test('needs enough votes', () => {
  const d = decidePromotion(input({ totalVotes: 150 }));
  assert.ok(!d.promote && d.reason === 'too-few-votes');
});

test('keeps the incumbent when it ranks first', () => {
  const d = decidePromotion(input({ incumbent: 'ckpt-3', candidates: ['ckpt-1', 'ckpt-2'] }));
  assert.ok(!d.promote && d.reason === 'incumbent-ranks-first');
});

test('an item below the vote minimum is not eligible', () => {
  const d = decidePromotion(input(), { minTotalVotes: 200, minVotesPerItem: 301, minHeadToHead: 20, alpha: 0.01 });
  assert.ok(!d.promote && d.reason === 'no-eligible-candidate');
});

test('a win that is not significant after Holm does not promote', () => {
  const d = decidePromotion(input({ headToHead: [h2h('ckpt-3', 'base', 70, 30, 0.02)] }));
  assert.ok(!d.promote && d.reason === 'not-significant');
  assert.equal(d.audit.top, 'ckpt-3');
});

test('too few direct comparisons, or losing them, do not promote', () => {
  const few = decidePromotion(input({ headToHead: [h2h('base', 'ckpt-3', 2, 10, 0.001)] }));
  assert.ok(!few.promote && few.reason === 'too-few-head-to-head');
  const loses = decidePromotion(input({ headToHead: [h2h('base', 'ckpt-3', 60, 40, 0.001)] }));
  assert.ok(!loses.promote && loses.reason === 'loses-to-incumbent');
});

test('the audit record survives a JSON round trip', () => {
  const d = decidePromotion(input());
  assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
});
