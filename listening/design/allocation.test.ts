import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../rng.ts';
import { decidePromotion } from '../stats/promotion.ts';
import { fitOf, raterVotes } from '../stats/test-fixtures.ts';
import { allocateTrials } from './allocation.ts';

const fit = fitOf([
  ['base', 0],
  ['c1', -0.4],
  ['c2', 0.5],
  ['c3', 0.1],
]);
const order = Array.from({ length: 20 }, (_, r) => `r${r}`);
const crowd = (x: string, wins: number, losses: number, raters = 20) =>
  Array.from({ length: raters }, (_, r) => raterVotes(`r${r}`, x, 'base', wins, losses)).flat();
const decide = (naturalness: ReturnType<typeof crowd>) =>
  decidePromotion({
    naturalness,
    similarity: null,
    raterOrder: order,
    bradleyTerry: fit,
    incumbent: 'base',
    candidates: ['c1', 'c2', 'c3'],
  });

test('while the rule is collecting, trials go to candidate-versus-incumbent pairs, the leader always among them', () => {
  const decision = decide([]);
  assert.equal(decision.settled, false);
  for (const seed of ['a', 'b', 'c']) {
    const a = allocateTrials({
      decision,
      fit,
      headToHead: [],
      incumbent: 'base',
      candidates: ['c1', 'c2', 'c3'],
      budget: 20,
      similarityBudget: 10,
      rng: createRng(seed),
    });
    assert.equal(a.settled, false);
    const targeted = a.pairs.filter((p) => p.why === 'versus-incumbent');
    assert.equal(targeted.length, 2, 'two focus pairs');
    assert.ok(
      targeted.some((p) => p.a === 'c2' && p.b === 'base'),
      'the leader c2 is in focus',
    );
    assert.equal(
      a.pairs.reduce((s, p) => s + p.trials, 0),
      20,
    );
    assert.deepEqual(a.similarityPairs, [{ a: 'c2', b: 'base', trials: 10, why: 'versus-incumbent' }]);
  }
});

test('a futile candidate gets no more targeted trials', () => {
  const decision = decide(crowd('c1', 1, 9));
  assert.equal(decision.audit.candidates.find((c) => c.item === 'c1')?.status, 'futile');
  const a = allocateTrials({
    decision,
    fit,
    headToHead: [],
    incumbent: 'base',
    candidates: ['c1', 'c2', 'c3'],
    budget: 20,
  });
  assert.deepEqual(a.active.sort(), ['c2', 'c3']);
  assert.ok(!a.pairs.some((p) => p.why === 'versus-incumbent' && p.a === 'c1'));
});

test('allocation stops exactly when the rule has decided, never before', () => {
  const undecided = decide(crowd('c2', 6, 4, 3));
  const a = allocateTrials({
    decision: undecided,
    fit,
    headToHead: [],
    incumbent: 'base',
    candidates: ['c1', 'c2', 'c3'],
    budget: 20,
  });
  assert.equal(undecided.settled, false);
  assert.equal(a.settled, false);
  const decided = decide(crowd('c2', 9, 1));
  assert.ok(decided.promote);
  const b = allocateTrials({
    decision: decided,
    fit,
    headToHead: [],
    incumbent: 'base',
    candidates: ['c1', 'c2', 'c3'],
    budget: 20,
  });
  assert.deepEqual([b.settled, b.pairs.length], [true, 0]);
});
