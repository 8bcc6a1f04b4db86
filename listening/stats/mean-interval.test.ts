import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { meanInterval } from './mean-interval.ts';

test('MOS interval matches a hand computation', () => {
  // Scores 4,5,3,4,4,5,3,4,5,3: sum 40, n 10, mean 4.
  // Deviations 0,1,-1,0,0,1,-1,0,1,-1 -> squares sum 6 -> s^2 = 6/9 = 0.6667, s = 0.8165.
  // se = 0.8165 / sqrt(10) = 0.25820. Table t(0.975, 9) = 2.262 -> half width 0.5841.
  // Interval [3.4159, 4.5841].
  const s = meanInterval([4, 5, 3, 4, 4, 5, 3, 4, 5, 3]);
  assert.equal(s.n, 10);
  assert.equal(s.mean, 4);
  assert.ok(Math.abs(s.sd - 0.8165) < 1e-4);
  assert.ok(Math.abs(s.se - 0.2582) < 1e-4);
  assert.ok(Math.abs(s.ci.low - 3.4159) < 1e-3, `low ${s.ci.low}`);
  assert.ok(Math.abs(s.ci.high - 4.5841) < 1e-3, `high ${s.ci.high}`);
});

test('a 99% interval uses the 0.995 quantile', () => {
  // Same data: t(0.995, 9) = 3.250 from the table -> half width 3.250 * 0.25820 = 0.8392.
  const s = meanInterval([4, 5, 3, 4, 4, 5, 3, 4, 5, 3], 0.99);
  assert.ok(Math.abs(s.ci.high - 4.8392) < 1e-3);
});

test('fewer than two ratings give an unbounded interval', () => {
  assert.equal(meanInterval([3]).ci.low, -Infinity);
  assert.ok(Number.isNaN(meanInterval([]).mean));
});

const ratings = fc.array(fc.integer({ min: 1, max: 5 }), {
  minLength: 2,
  maxLength: 200,
});

test('property: the interval contains the mean and is symmetric around it', () => {
  fc.assert(
    fc.property(ratings, (xs) => {
      const s = meanInterval(xs);
      assert.ok(s.ci.low <= s.mean && s.mean <= s.ci.high);
      assert.ok(Math.abs(s.mean - s.ci.low - (s.ci.high - s.mean)) < 1e-9);
    }),
  );
});

test('property: repeating the same data k times narrows the interval', () => {
  fc.assert(
    fc.property(ratings, fc.integer({ min: 2, max: 6 }), (xs, k) => {
      fc.pre(new Set(xs).size > 1);
      const once = meanInterval(xs);
      const many = meanInterval(Array.from({ length: k }, () => xs).flat());
      assert.ok(many.ci.high - many.ci.low < once.ci.high - once.ci.low);
    }),
  );
});
