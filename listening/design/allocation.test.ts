import assert from 'node:assert/strict';
import { test } from 'node:test';
import { h2h, summaryOf } from '../stats/test-fixtures.ts';
import { allocateTrials } from './allocation.ts';

const candidates = ['c1', 'c2', 'c3', 'c4'];

test('trials go to pairs of the leader with items whose intervals overlap it', () => {
  const bt = summaryOf([
    ['base', -1, -1.3, -0.7, 200],
    ['c1', -0.8, -1.1, -0.5, 200],
    ['c2', 0.5, 0.2, 0.8, 200],
    ['c3', 0.7, 0.45, 0.95, 200],
    ['c4', 0.1, -0.2, 0.4, 200],
  ]);
  const a = allocateTrials({
    bradleyTerry: bt,
    headToHead: [h2h('c3', 'base', 40, 5, 1e-6)],
    incumbent: 'base',
    candidates,
    budget: 100,
  });
  assert.equal(a.leader, 'c3');
  // c2's interval [0.2, 0.8] overlaps c3's lower bound 0.45; c4's upper bound 0.4 does not.
  assert.deepEqual(a.contenders, ['c2']);
  const total = a.pairs.reduce((s, p) => s + p.trials, 0);
  assert.equal(total, 100);
  const targeted = a.pairs.filter((p) => p.why !== 'exploration');
  assert.deepEqual(targeted, [{ a: 'c3', b: 'c2', trials: 90, why: 'contender' }]);
});

test('the incumbent stays a contender until the leader has beaten it significantly', () => {
  const bt = summaryOf([
    ['base', -1, -1.3, -0.7, 200],
    ['c1', 0.7, 0.45, 0.95, 200],
  ]);
  const pending = allocateTrials({
    bradleyTerry: bt,
    headToHead: [h2h('c1', 'base', 9, 3, 0.15)],
    incumbent: 'base',
    candidates: ['c1'],
    budget: 10,
  });
  assert.deepEqual(pending.contenders, ['base']);
  assert.equal(pending.settled, false);
  const done = allocateTrials({
    bradleyTerry: bt,
    headToHead: [h2h('c1', 'base', 60, 10, 1e-6)],
    incumbent: 'base',
    candidates: ['c1'],
    budget: 10,
  });
  assert.equal(done.settled, true);
  assert.deepEqual(done.pairs, []);
});

test('pairs with fewer votes and more overlap get more trials', () => {
  const bt = summaryOf([
    ['base', 0.6, 0.3, 0.9, 200],
    ['c1', 0.5, 0.2, 0.8, 200],
    ['c2', 0.1, -0.2, 0.4, 200],
  ]);
  const a = allocateTrials(
    { bradleyTerry: bt, headToHead: [], incumbent: 'base', candidates: ['c1', 'c2'], budget: 60 },
    { explorationShare: 0, alpha: 0.01 },
  );
  const c1 = a.pairs.find((p) => p.b === 'c1')?.trials ?? 0;
  const c2 = a.pairs.find((p) => p.b === 'c2')?.trials ?? 0;
  // Overlap weights: c1 (0.8-0.3)/0.6 = 0.83, c2 (0.4-0.3)/0.6 = 0.17: about 5 to 1.
  assert.equal(c1 + c2, 60);
  assert.ok(c1 > 4 * c2 && c2 > 0, `${c1} vs ${c2}`);
});
