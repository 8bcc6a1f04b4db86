/**
 * Student-t distribution, delegated to stdlib's maintained implementations (quantile via
 * the inverse regularised incomplete beta, CDF via the incomplete beta), which are tested
 * against reference values by their authors; here they are only checked against printed
 * tables in t-dist.test.ts.
 */
import { createRequire } from 'node:module';

// Loaded on first use: the two packages pull in some two hundred small stdlib modules, which every
// process importing the listening module (the whole API) would otherwise resolve and load at start.
type Fn = (x: number, df: number) => number;
let stdlib: { cdf: Fn; quantile: Fn } | null = null;
function dists(): { cdf: Fn; quantile: Fn } {
  const require = createRequire(import.meta.url);
  stdlib ??= {
    cdf: require('@stdlib/stats-base-dists-t-cdf') as Fn,
    quantile: require('@stdlib/stats-base-dists-t-quantile') as Fn,
  };
  return stdlib;
}

/** The p-quantile of Student's t with `df` degrees of freedom (df may be fractional, as in Welch's test). */
export function studentTQuantile(p: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  if (!(p > 0 && p < 1)) throw new RangeError(`probability must be in (0, 1), got ${p}`);
  return dists().quantile(p, df);
}

export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  return dists().cdf(t, df);
}
