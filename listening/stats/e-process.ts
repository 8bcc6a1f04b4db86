/**
 * Sequential tests that stay valid however often they are looked at: betting e-processes for
 * the mean of bounded observations (Waudby-Smith & Ramdas 2024, "Estimating means of bounded
 * random variables by betting", JRSS-B 86(1); Shafer 2021, "Testing by betting").
 *
 * To test H0: E[y] ≤ m against "greater" with y in [lo, hi], a bettor starts with wealth 1 and
 * stakes a fraction λ_t ≥ 0 on each new observation, chosen from the earlier ones only:
 *     K_t = Π_{s ≤ t} (1 + λ_s (y_s − m)).
 * Under H0 each factor has conditional mean ≤ 1, so K is a non-negative supermartingale and
 * Ville's inequality gives P(sup_t K_t ≥ 1/α) ≤ α: rejecting the first time the wealth reaches
 * 1/α keeps the error at or below α for any number of looks, at any times, with optional
 * stopping, and under adaptive sampling (the next observation's design may depend on the past).
 * "less" is the mirror image, with factors 1 + λ (m − y).
 *
 * The stake is the aGRAPA plug-in (the paper's §5.1): λ = (μ̂ − m) / (σ̂² + (μ̂ − m)²), the
 * growth-optimal bet for the observations so far, clipped to [0, c / (m − lo)] so that one
 * observation can lose at most a fraction c of the wealth. μ̂ and σ̂² start from a few pseudo-
 * observations (a weak prior towards a modest effect), which lets the first observations bet
 * instead of waiting; any prior is valid because the stake only has to be predictable.
 *
 * Why own code: no maintained npm package implements betting e-processes; the whole method is
 * the product above, ~40 lines, and is checked in e-process.test.ts against Ville's bound by
 * simulation and against hand-computed wealth.
 */

export type Direction = 'greater' | 'less';

export interface BettingOptions {
  /** The boundary of the null hypothesis: H0 is E[y] ≤ null ("greater") or E[y] ≥ null ("less"). */
  null: number;
  direction: Direction;
  /** Range the observations are guaranteed to lie in. */
  lo: number;
  hi: number;
  /** Largest fraction of the wealth one observation may lose (default 0.75). */
  maxLoss?: number;
  /** Pseudo-observations the plug-in starts from (default 2), centred `priorShift` on the alternative's side. */
  priorWeight?: number;
  /** Distance of the prior mean from `null`, as a fraction of the half-range (default 0.5). */
  priorShift?: number;
}

export interface BettingResult {
  /** Observations seen. */
  n: number;
  /** log K_n, the wealth after the last observation. */
  logWealth: number;
  /** max_t log K_t: the test rejects at level α once this reaches log(1/α). */
  maxLogWealth: number;
}

/** Runs the betting test over observations in the order they arrived. */
export function bettingTest(ys: readonly number[], o: BettingOptions): BettingResult {
  const { lo, hi } = o;
  if (!(hi > lo) || !(o.null >= lo && o.null <= hi)) throw new RangeError('bettingTest: null must lie in [lo, hi]');
  const sign = o.direction === 'greater' ? 1 : -1;
  // Room below (for "greater") or above (for "less") the null: how far an observation can go against the bet.
  const room = o.direction === 'greater' ? o.null - lo : hi - o.null;
  const maxLambda = room > 0 ? (o.maxLoss ?? 0.75) / room : Number.POSITIVE_INFINITY;
  const halfRange = (hi - lo) / 2;
  const w0 = o.priorWeight ?? 2;
  // Work in "excess over the null, in the bet's direction": x = sign·(y − null).
  let sum = w0 * (o.priorShift ?? 0.5) * halfRange;
  let sumSq = w0 * (((o.priorShift ?? 0.5) * halfRange) ** 2 + (halfRange / 2) ** 2);
  let weight = w0;
  let logWealth = 0;
  let maxLogWealth = 0;
  for (const y of ys) {
    if (!(y >= lo && y <= hi)) throw new RangeError(`bettingTest: observation ${y} outside [${lo}, ${hi}]`);
    const mean = sum / weight;
    const variance = Math.max(1e-12, sumSq / weight - mean * mean);
    const lambda = Math.min(maxLambda, Math.max(0, mean / (variance + mean * mean)));
    const x = sign * (y - o.null);
    logWealth += Math.log1p(lambda * x);
    maxLogWealth = Math.max(maxLogWealth, logWealth);
    sum += x;
    sumSq += x * x;
    weight += 1;
  }
  return { n: ys.length, logWealth, maxLogWealth };
}

/** Whether a betting test has rejected its null at level α (Ville: threshold 1/α). */
export const rejects = (r: BettingResult, alpha: number): boolean => r.maxLogWealth >= Math.log(1 / alpha);
