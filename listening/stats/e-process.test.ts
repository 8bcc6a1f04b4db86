import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng } from '../rng.ts';
import { bettingTest, rejects } from './e-process.ts';

const greater = { null: 0, direction: 'greater' as const, lo: -1, hi: 1 };

test('the wealth follows the aGRAPA stakes, computed by hand', () => {
  // Prior: 2 pseudo-observations at +0.5 with variance 0.25 -> mean 0.5, variance 0.25,
  // stake 0.5 / (0.25 + 0.25) = 1, clipped to 0.75 / (0 - (-1)) = 0.75; wealth 1.75.
  // Then mean (1 + 1) / 3 = 2/3, second moment (1 + 1) / 3 = 2/3, variance 2/9,
  // stake (2/3) / (2/9 + 4/9) = 1 -> 0.75 again; a -1 loses a quarter: 1.75 · 0.25.
  const r = bettingTest([1, -1], greater);
  assert.ok(Math.abs(r.logWealth - (Math.log(1.75) + Math.log(0.25))) < 1e-12);
  assert.ok(Math.abs(r.maxLogWealth - Math.log(1.75)) < 1e-12);
  assert.equal(r.n, 2);
});

test('observations outside the stated range are refused', () => {
  assert.throws(() => bettingTest([1.5], greater), /outside/);
  assert.throws(() => bettingTest([0], { ...greater, null: 2 }), /null must lie/);
});

test("under the null the test rejects at most alpha of the time, over every look (Ville's bound)", () => {
  const rng = createRng('ville');
  const alpha = 0.05;
  const runs = 2000;
  let rejected = 0;
  for (let run = 0; run < runs; run++) {
    // Mean exactly 0: ±1 coin flips, the hardest bounded null; 300 looks each.
    const ys = Array.from({ length: 300 }, () => (rng.next() < 0.5 ? 1 : -1));
    if (rejects(bettingTest(ys, greater), alpha)) rejected++;
  }
  // alpha plus three binomial standard errors.
  assert.ok(rejected / runs <= alpha + 3 * Math.sqrt((alpha * (1 - alpha)) / runs), `${rejected}/${runs}`);
});

test('a real effect is found, and the mirror test does not find it', () => {
  const rng = createRng('power');
  let found = 0;
  let mirrored = 0;
  for (let run = 0; run < 200; run++) {
    const ys = Array.from({ length: 200 }, () => (rng.next() < 0.7 ? 1 : -1)); // mean 0.4
    if (rejects(bettingTest(ys, greater), 0.01)) found++;
    if (rejects(bettingTest(ys, { ...greater, direction: 'less' }), 0.01)) mirrored++;
  }
  assert.ok(found >= 190, `found ${found}/200`);
  assert.equal(mirrored, 0);
});
