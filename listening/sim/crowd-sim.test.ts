import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CROWD, runCrowd } from './crowd.ts';

// Fixed seeds, fewer bootstrap replicates than the script, so the suite stays fast.
const base = { ...DEFAULT_CROWD, bootstrapReplicates: 100 };

for (const seed of [1, 2]) {
  test(`simulated crowd, seed ${seed}: adaptive promotes the truly best checkpoint with fewer answers`, () => {
    const adaptive = runCrowd({ ...base, seed, design: 'adaptive' });
    const fixed = runCrowd({ ...base, seed, design: 'fixed' });
    assert.equal(adaptive.winner, 'c3');
    assert.equal(fixed.winner, 'c3');
    assert.ok(adaptive.answers < fixed.answers / 2, `${adaptive.answers} vs ${fixed.answers}`);
    for (const r of [adaptive, fixed]) {
      assert.equal(r.raters['always-left'].flagged, r.raters['always-left'].total);
      assert.ok(r.raters.random.flagged >= 0.9 * r.raters.random.total);
      assert.ok(r.raters.honest.flagged <= 0.1 * r.raters.honest.total);
    }
  });
}

test('simulated crowd with all checkpoints equal: nothing is promoted', () => {
  const truth = Object.fromEntries(Object.keys(base.truth).map((k) => [k, 0]));
  const r = runCrowd({ ...base, truth, seed: 'null', design: 'adaptive', maxAnswers: 3000 });
  assert.equal(r.winner, null);
});
