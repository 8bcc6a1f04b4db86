import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { binomialHalfCdf, holmAdjust, signTest } from './significance.ts';

test('sign test: 9 of 10 wins', () => {
  // P(X <= 1) for Binomial(10, 1/2) = (C(10,0) + C(10,1)) / 2^10 = 11/1024.
  // Two-sided p = 22/1024 = 0.021484375.
  assert.ok(Math.abs(signTest(9, 1) - 22 / 1024) < 1e-12);
  assert.ok(Math.abs(signTest(1, 9) - 22 / 1024) < 1e-12);
});

test('sign test: balanced and small cases', () => {
  // 5 of 10: P(X <= 5) = 638/1024 > 1/2, so the two-sided p is capped at 1.
  assert.equal(signTest(5, 5), 1);
  // 6-0: 2 * (1/64) = 0.03125.
  assert.ok(Math.abs(signTest(6, 0) - 0.03125) < 1e-12);
  assert.equal(signTest(0, 0), 1);
});

test('binomial CDF at the median of 20 trials', () => {
  // sum_{i<=10} C(20,i) = (2^20 + C(20,10)) / 2 = (1048576 + 184756) / 2 = 616666.
  assert.ok(Math.abs(binomialHalfCdf(10, 20) - 616666 / 1048576) < 1e-12);
});

test('Holm adjustment matches a hand computation', () => {
  // Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06.
  const adj = holmAdjust([0.01, 0.04, 0.03, 0.005]);
  const expected = [0.03, 0.06, 0.06, 0.02];
  adj.forEach((p, i) => {
    assert.ok(Math.abs(p - (expected[i] as number)) < 1e-12);
  });
});

test('property: Holm never lowers a p-value and keeps the order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), {
        minLength: 1,
        maxLength: 30,
      }),
      (ps) => {
        const adj = holmAdjust(ps);
        ps.forEach((p, i) => {
          assert.ok((adj[i] as number) >= p && (adj[i] as number) <= 1);
        });
        for (let i = 0; i < ps.length; i++)
          for (let j = 0; j < ps.length; j++)
            if ((ps[i] as number) < (ps[j] as number)) assert.ok((adj[i] as number) <= (adj[j] as number));
      },
    ),
  );
});
