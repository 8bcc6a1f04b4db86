/**
 * Means of absolute ratings (MOS, speaker similarity) with Student-t confidence intervals,
 * and Welch's unequal-variance t-test between two items.
 *
 * Each vote is treated as one independent observation. Ratings from the same rater are in
 * truth correlated, so these intervals are somewhat optimistic when few raters give many
 * votes each; the trial design caps each rater at one vote per sentence and item, which
 * keeps that clustering small.
 */
import type { Interval } from '../types.ts';
import { studentTCdf, studentTQuantile } from './t-dist.ts';

export interface MeanSummary {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1 denominator); NaN when n < 2. */
  sd: number;
  /** Standard error of the mean; NaN when n < 2. */
  se: number;
  /** Two-sided interval at `level`; infinite when n < 2, because nothing is known yet. */
  ci: Interval;
  level: number;
}

export function meanInterval(values: readonly number[], level = 0.95): MeanSummary {
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const n = values.length;
  if (n === 0) {
    return {
      n,
      mean: Number.NaN,
      sd: Number.NaN,
      se: Number.NaN,
      ci: { low: -Infinity, high: Infinity },
      level,
    };
  }
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  if (n < 2) {
    return {
      n,
      mean,
      sd: Number.NaN,
      se: Number.NaN,
      ci: { low: -Infinity, high: Infinity },
      level,
    };
  }
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  const se = sd / Math.sqrt(n);
  const half = studentTQuantile(1 - (1 - level) / 2, n - 1) * se;
  return {
    n,
    mean,
    sd,
    se,
    ci: { low: mean - half, high: mean + half },
    level,
  };
}

export interface WelchResult {
  /** Mean of a minus mean of b. */
  difference: number;
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value. */
  p: number;
}

/**
 * Welch's t-test. Used for MOS and similarity, whose per-item variances differ (a broken
 * checkpoint is rated consistently low, a good one spreads over 3–5).
 */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult {
  const sa = meanInterval(a);
  const sb = meanInterval(b);
  if (sa.n < 2 || sb.n < 2) throw new RangeError("Welch's t-test needs at least two values per group");
  const va = sa.se ** 2;
  const vb = sb.se ** 2;
  const difference = sa.mean - sb.mean;
  const se = Math.sqrt(va + vb);
  if (se === 0) {
    // Both groups constant: equal means are indistinguishable, different ones are certain.
    return {
      difference,
      t: difference === 0 ? 0 : Math.sign(difference) * Infinity,
      df: sa.n + sb.n - 2,
      p: difference === 0 ? 1 : 0,
    };
  }
  const t = difference / se;
  const df = (va + vb) ** 2 / (va ** 2 / (sa.n - 1) + vb ** 2 / (sb.n - 1));
  const p = Math.min(1, 2 * studentTCdf(-Math.abs(t), df));
  return { difference, t, df, p };
}
