import assert from 'node:assert/strict';

/**
 * The largest absolute difference between two arrays of one length, over [from, to) (default: all
 * of them): infinite where either holds NaN.
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = a.length): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = from; i < to; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return m;
}
