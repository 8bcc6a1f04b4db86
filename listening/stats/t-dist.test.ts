import assert from 'node:assert/strict';
import { test } from 'node:test';
import { studentTCdf, studentTQuantile } from './t-dist.ts';

test('t quantiles match a printed two-sided 95% table', () => {
  // Values from a standard table of t(0.975, df).
  const table: Array<[number, number]> = [
    [1, 12.706],
    [2, 4.303],
    [5, 2.571],
    [9, 2.262],
    [10, 2.228],
    [29, 2.045],
    [120, 1.98],
  ];
  for (const [df, expected] of table) {
    assert.ok(Math.abs(studentTQuantile(0.975, df) - expected) < 5e-4, `df=${df}`);
  }
});

test('t CDF matches closed forms for 1 and 2 degrees of freedom', () => {
  // df=1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/pi.
  // df=2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
  for (const t of [-3, -0.5, 0, 0.7, 2, 10]) {
    assert.ok(Math.abs(studentTCdf(t, 1) - (0.5 + Math.atan(t) / Math.PI)) < 1e-12);
    assert.ok(Math.abs(studentTCdf(t, 2) - (0.5 + t / (2 * Math.sqrt(2 + t * t)))) < 1e-12);
  }
});
