/**
 * Student-t distribution, delegated to stdlib's maintained implementations (quantile via
 * the inverse regularised incomplete beta, CDF via the incomplete beta), which are tested
 * against reference values by their authors; here they are only checked against printed
 * tables in t-dist.test.ts.
 */
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** The p-quantile of Student's t with `df` degrees of freedom (df may be fractional, as in Welch's test). */
export function studentTQuantile(p: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  if (!(p > 0 && p < 1)) throw new RangeError(`probability must be in (0, 1), got ${p}`);
  return tQuantile(p, df);
}

export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  return tCdf(t, df);
}
