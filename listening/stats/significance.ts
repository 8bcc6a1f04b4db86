/** Exact binomial sign test and Holm's step-down correction. */

function logChoose(n: number, k: number): number {
  // Sum of logs is exact enough for the vote counts seen here (up to ~10^5) and avoids a
  // log-gamma approximation.
  let s = 0;
  const m = Math.min(k, n - k);
  for (let i = 1; i <= m; i++) s += Math.log((n - m + i) / i);
  return s;
}

/** P(X <= k) for X ~ Binomial(n, 1/2). */
export function binomialHalfCdf(k: number, n: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  const log2 = n * Math.LN2;
  let total = 0;
  for (let i = 0; i <= k; i++) total += Math.exp(logChoose(n, i) - log2);
  return Math.min(1, total);
}

/**
 * Exact two-sided sign test of "a and b are equally preferred" from head-to-head wins
 * (ties already dropped). Under the null the wins are Binomial(n, 1/2), which is symmetric,
 * so the two-sided p-value is twice the smaller tail, capped at 1.
 */
export function signTest(winsA: number, winsB: number): number {
  const n = winsA + winsB;
  if (n === 0) return 1;
  return Math.min(1, 2 * binomialHalfCdf(Math.min(winsA, winsB), n));
}

/**
 * Holm's step-down adjustment: controls the family-wise error rate across all pairs
 * without Bonferroni's full cost. Returns adjusted p-values in the input order.
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p || x.i - y.i);
  const adjusted = new Array<number>(m).fill(1);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}
