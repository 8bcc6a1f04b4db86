/**
 * Bradley–Terry strengths from A/B preferences, fitted with the MM algorithm of
 * Hunter (2004), "MM algorithms for generalized Bradley–Terry models", Ann. Statist. 32(1).
 *
 * Model: P(i preferred to j) = π_i / (π_i + π_j).
 * MM step (Hunter's eq. 3), applied to all items at once:
 *     π_i ← W_i / Σ_j N_ij / (π_i + π_j)
 * with W_i the wins of i and N_ij the comparisons between i and j. The minorising function
 * is separable in the π_i, so the simultaneous update still increases the likelihood.
 *
 * Ties: a tie counts as half a win for each side. This keeps the likelihood of the plain
 * model (a tie carries the information "about equal" and pulls the two strengths together)
 * without the extra tie parameter of Rao–Kupper or Davidson; with ties rare on a forced-
 * choice page, that parameter would be poorly determined anyway.
 *
 * Prior: every item also plays `prior` pseudo-wins and `prior` pseudo-losses against a
 * phantom item of fixed strength 1. Without it, an item that never lost has an infinite
 * maximum-likelihood strength and one never compared has none at all; the pseudo-games
 * shrink such items toward the average and keep the fit finite. With hundreds of real
 * votes per item, half a pseudo-game each moves strengths by well under their interval
 * widths. The phantom also fixes the scale, so no renormalisation is needed while iterating;
 * with prior = 0 the plain maximum-likelihood fit is computed, renormalised each step; it
 * exists only when every split of the items into two groups has wins both ways (Hunter's
 * Assumption 1), otherwise `converged` comes back false.
 *
 * Reported strengths are normalised to geometric mean 1 (log-strengths sum to 0).
 */
import type { ItemId, PreferenceVote } from '../types.ts';

/** Comparison counts: wins[i][j] = how often item i was preferred to item j (ties add ½ to each). */
export interface PreferenceTally {
  items: ItemId[];
  wins: number[][];
}

export function emptyTally(items: readonly ItemId[]): PreferenceTally {
  return { items: items.slice(), wins: items.map(() => items.map(() => 0)) };
}

/** One compact comparison: indices into an item list and the outcome for the first one (1, 0 or ½). */
export interface Comparison {
  a: number;
  b: number;
  scoreA: number;
}

/** Maps votes onto item indices. Items seen in votes but not in `items` are appended. */
export function toComparisons(
  votes: readonly PreferenceVote[],
  items: readonly ItemId[] = [],
): { items: ItemId[]; comparisons: Comparison[] } {
  const list = items.slice();
  const index = new Map(list.map((id, i) => [id, i]));
  const idx = (id: ItemId): number => {
    let i = index.get(id);
    if (i === undefined) {
      i = list.length;
      list.push(id);
      index.set(id, i);
    }
    return i;
  };
  const comparisons = votes.map((v) => ({
    a: idx(v.left),
    b: idx(v.right),
    scoreA: v.choice === 'left' ? 1 : v.choice === 'right' ? 0 : 0.5,
  }));
  return { items: list, comparisons };
}

export function tallyComparisons(items: readonly ItemId[], comparisons: readonly Comparison[]): PreferenceTally {
  const tally = emptyTally(items);
  for (const c of comparisons) {
    const rowA = tally.wins[c.a] as number[];
    const rowB = tally.wins[c.b] as number[];
    rowA[c.b] = (rowA[c.b] as number) + c.scoreA;
    rowB[c.a] = (rowB[c.a] as number) + (1 - c.scoreA);
  }
  return tally;
}

export function tallyPreferences(votes: readonly PreferenceVote[], items: readonly ItemId[] = []): PreferenceTally {
  const { items: list, comparisons } = toComparisons(votes, items);
  return tallyComparisons(list, comparisons);
}

export interface BradleyTerryOptions {
  /** Pseudo-wins and pseudo-losses of each item against a phantom of strength 1. Default 0.5. */
  prior?: number;
  maxIterations?: number;
  /** Stop when no log-strength moves by more than this. */
  tolerance?: number;
  /** Starting strengths on the fitting scale (a previous fit's `rawStrength`), for warm starts. */
  start?: readonly number[];
}

export interface BradleyTerryFit {
  items: ItemId[];
  /** Log-strengths, summing to 0. */
  logStrength: number[];
  /** exp(logStrength): geometric mean 1. */
  strength: number[];
  /** Strengths on the fitting scale (phantom = 1), for warm-starting a related fit. */
  rawStrength: number[];
  iterations: number;
  converged: boolean;
}

export function fitBradleyTerry(tally: PreferenceTally, options: BradleyTerryOptions = {}): BradleyTerryFit {
  const prior = options.prior ?? 0.5;
  const maxIterations = options.maxIterations ?? 10_000;
  const tolerance = options.tolerance ?? 1e-10;
  const k = tally.items.length;
  const w = tally.wins;
  const winsOf = new Float64Array(k);
  const games = Array.from({ length: k }, () => new Float64Array(k));
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      if (i === j) continue;
      const wij = w[i]?.[j] ?? 0;
      const wji = w[j]?.[i] ?? 0;
      winsOf[i] = (winsOf[i] as number) + wij;
      (games[i] as Float64Array)[j] = wij + wji;
    }
  }
  let pi = Float64Array.from({ length: k }, (_, i) => options.start?.[i] ?? 1);
  let converged = false;
  let iterations = 0;
  while (iterations < maxIterations && !converged) {
    iterations++;
    const next = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      const pii = pi[i] as number;
      let denom = prior > 0 ? (2 * prior) / (pii + 1) : 0;
      const gi = games[i] as Float64Array;
      for (let j = 0; j < k; j++) {
        const nij = gi[j] as number;
        if (nij > 0) denom += nij / (pii + (pi[j] as number));
      }
      next[i] = denom > 0 ? ((winsOf[i] as number) + prior) / denom : Number.NaN;
    }
    if (prior === 0) {
      const g = geometricMean(next);
      for (let i = 0; i < k; i++) next[i] = (next[i] as number) / g;
    }
    let maxStep = 0;
    for (let i = 0; i < k; i++) {
      const step = Math.abs(Math.log(next[i] as number) - Math.log(pi[i] as number));
      maxStep = Number.isNaN(step) ? Infinity : Math.max(maxStep, step);
    }
    pi = next;
    converged = maxStep < tolerance;
  }
  const logs = Array.from(pi, Math.log);
  const meanLog = logs.reduce((s, x) => s + x, 0) / k;
  const logStrength = logs.map((x) => x - meanLog);
  return {
    items: tally.items.slice(),
    logStrength,
    strength: logStrength.map(Math.exp),
    rawStrength: Array.from(pi),
    iterations,
    converged,
  };
}

function geometricMean(xs: Float64Array): number {
  let s = 0;
  for (const x of xs) s += Math.log(x);
  return Math.exp(s / xs.length);
}

/** Model probability that item a is preferred to item b. */
export function preferenceProbability(fit: BradleyTerryFit, a: ItemId, b: ItemId): number {
  const i = fit.items.indexOf(a);
  const j = fit.items.indexOf(b);
  if (i < 0 || j < 0) throw new RangeError(`unknown item ${i < 0 ? a : b}`);
  return 1 / (1 + Math.exp((fit.logStrength[j] as number) - (fit.logStrength[i] as number)));
}
