/**
 * The mean of independent values with a Student-t confidence interval. The listening
 * statistics call it over raters (one number per rater, raters.ts), never over votes, since
 * votes of one rater are correlated.
 */
import type { Interval } from '../types.ts';
import { studentTQuantile } from './t-dist.ts';

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
