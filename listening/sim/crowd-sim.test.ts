import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ItemTruth, runCrowd } from './crowd.ts';

// A few fixed seeds of the simulator that `npm run sim:listening` runs hundreds of times.
const item = (naturalness: number, likeness = 0): ItemTruth => ({
  naturalness,
  likeness,
  mos: 3.2 + 0.8 * naturalness,
  similarity: 3.4 + 0.6 * likeness,
});
const cheaters = { random: 0.05, 'always-left': 0.05, 'gold-passer': 0.05, 'straight-liner': 0.05 } as const;

test('a clearly better checkpoint is promoted through the production session plan and rule', () => {
  const r = runCrowd({
    seed: 'unit-better',
    truth: { base: item(0), c1: item(0.1), c2: item(1.2) },
    design: 'adaptive',
    ratersPerRound: 4,
    cheaters,
    maxRaters: 120,
  });
  assert.equal(r.winner, 'c2');
  assert.ok(r.looks > 1, 'the rule was looked at after every round');
  assert.equal(r.flags['always-left'].flagged, r.flags['always-left'].total);
  assert.equal(r.flags['straight-liner'].flagged, r.flags['straight-liner'].total);
});

test('more natural but less like the speaker is not promoted', () => {
  const r = runCrowd({
    seed: 'unit-less-similar',
    truth: { base: item(0), c1: item(1.2, -1.2) },
    design: 'adaptive',
    ratersPerRound: 4,
    cheaters,
    maxRaters: 80,
  });
  assert.equal(r.winner, null);
  const verdict = r.evaluation.decision?.audit.candidates.find((c) => c.item === 'c1');
  assert.equal(verdict?.naturalness.superiority.rejected, true, 'it did win on naturalness');
});
