/**
 * Bradley–Terry strengths from A/B preferences: Newton's method on the log-strengths (with
 * the default prior), or the MM algorithm of Hunter (2004), "MM algorithms for generalized
 * Bradley–Terry models", Ann. Statist. 32(1), for the plain maximum-likelihood fit.
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
  const k = tally.items.length;
  const wins = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) if (i !== j) wins[i * k + j] = tally.wins[i]?.[j] ?? 0;
  const pi = prior > 0 ? newtonFit(k, wins, prior, options) : mmFit(k, wins, options);
  return finish(tally.items, pi.strength, pi.iterations, pi.converged);
}

/** The fit from a flat k×k win matrix (wins[i·k + j] = i preferred to j), as the bootstrap builds it. */
export function fitWinMatrix(
  items: readonly ItemId[],
  wins: Float64Array,
  options: BradleyTerryOptions = {},
): BradleyTerryFit {
  const prior = options.prior ?? 0.5;
  const pi = prior > 0 ? newtonFit(items.length, wins, prior, options) : mmFit(items.length, wins, options);
  return finish(items, pi.strength, pi.iterations, pi.converged);
}

function finish(items: readonly ItemId[], pi: Float64Array, iterations: number, converged: boolean): BradleyTerryFit {
  const k = items.length;
  const logs = Array.from(pi, Math.log);
  const meanLog = k > 0 ? logs.reduce((s, x) => s + x, 0) / k : 0;
  const logStrength = logs.map((x) => x - meanLog);
  return {
    items: items.slice(),
    logStrength,
    strength: logStrength.map(Math.exp),
    rawStrength: Array.from(pi),
    iterations,
    converged,
  };
}

type RawFit = { strength: Float64Array; iterations: number; converged: boolean };

/**
 * Newton's method on the log-strengths θ (phantom at θ = 0). With the prior the log-likelihood
 * is strictly concave, so Newton with step halving converges from any start, quadratically
 * near the optimum: a handful of iterations where MM needs thousands once hundreds of votes
 * per item make the curvature uneven. Not converging is therefore a defect, and throws.
 * The Hessian is k×k with k the number of items (tens at most); solved by Cholesky.
 */
function newtonFit(k: number, wins: Float64Array, prior: number, options: BradleyTerryOptions): RawFit {
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-10;
  const theta = Float64Array.from({ length: k }, (_, i) => Math.log(options.start?.[i] ?? 1));
  const games = new Float64Array(k * k);
  const winsOf = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      if (i === j) continue;
      games[i * k + j] = (wins[i * k + j] as number) + (wins[j * k + i] as number);
      winsOf[i] = (winsOf[i] as number) + (wins[i * k + j] as number);
    }
  }
  const logLik = (t: Float64Array): number => {
    let ll = 0;
    for (let i = 0; i < k; i++) {
      const ti = t[i] as number;
      ll += (winsOf[i] as number) * ti + prior * ti - 2 * prior * softplus(ti);
      for (let j = i + 1; j < k; j++) {
        const n = games[i * k + j] as number;
        if (n > 0) ll -= n * logSumExp(ti, t[j] as number);
      }
    }
    return ll;
  };
  const grad = new Float64Array(k);
  const hess = new Float64Array(k * k); // the negative Hessian, positive definite
  let current = logLik(theta);
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    grad.fill(0);
    hess.fill(0);
    for (let i = 0; i < k; i++) {
      const s = sigmoid(theta[i] as number);
      grad[i] = (winsOf[i] as number) + prior - 2 * prior * s;
      hess[i * k + i] = 2 * prior * s * (1 - s);
    }
    for (let i = 0; i < k; i++) {
      for (let j = i + 1; j < k; j++) {
        const n = games[i * k + j] as number;
        if (!(n > 0)) continue;
        const p = sigmoid((theta[i] as number) - (theta[j] as number));
        const v = n * p * (1 - p);
        grad[i] = (grad[i] as number) - n * p;
        grad[j] = (grad[j] as number) - n * (1 - p);
        hess[i * k + i] = (hess[i * k + i] as number) + v;
        hess[j * k + j] = (hess[j * k + j] as number) + v;
        hess[i * k + j] = (hess[i * k + j] as number) - v;
        hess[j * k + i] = (hess[j * k + i] as number) - v;
      }
    }
    const step = choleskySolve(k, hess, grad);
    let scale = 1;
    let next = theta.map((t, i) => t + (step[i] as number));
    let value = logLik(next);
    while (value < current - 1e-12 && scale > 1e-6) {
      scale /= 2;
      next = theta.map((t, i) => t + scale * (step[i] as number));
      value = logLik(next);
    }
    let maxStep = 0;
    for (let i = 0; i < k; i++) maxStep = Math.max(maxStep, Math.abs((next[i] as number) - (theta[i] as number)));
    theta.set(next);
    current = value;
    if (maxStep < tolerance) return { strength: theta.map(Math.exp), iterations: iteration, converged: true };
  }
  throw new Error(`Bradley–Terry Newton fit did not converge in ${maxIterations} iterations (k=${k})`);
}

/**
 * Hunter's MM iteration (eq. 3), kept for prior = 0, where the plain maximum-likelihood fit may
 * not exist (an item that never lost) and Newton would run off to infinity; MM then reports
 * `converged: false` instead.
 */
function mmFit(k: number, wins: Float64Array, options: BradleyTerryOptions): RawFit {
  const maxIterations = options.maxIterations ?? 10_000;
  const tolerance = options.tolerance ?? 1e-10;
  const winsOf = new Float64Array(k);
  const games = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      if (i === j) continue;
      winsOf[i] = (winsOf[i] as number) + (wins[i * k + j] as number);
      games[i * k + j] = (wins[i * k + j] as number) + (wins[j * k + i] as number);
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
      let denom = 0;
      for (let j = 0; j < k; j++) {
        const nij = games[i * k + j] as number;
        if (nij > 0) denom += nij / (pii + (pi[j] as number));
      }
      next[i] = denom > 0 ? (winsOf[i] as number) / denom : Number.NaN;
    }
    const g = geometricMean(next);
    for (let i = 0; i < k; i++) next[i] = (next[i] as number) / g;
    let maxStep = 0;
    for (let i = 0; i < k; i++) {
      const step = Math.abs(Math.log(next[i] as number) - Math.log(pi[i] as number));
      maxStep = Number.isNaN(step) ? Infinity : Math.max(maxStep, step);
    }
    pi = next;
    converged = maxStep < tolerance;
  }
  return { strength: pi, iterations, converged };
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const logSumExp = (a: number, b: number) => Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));

/** Solves A x = b for a symmetric positive definite A (k×k, row-major) by Cholesky. */
function choleskySolve(k: number, a: Float64Array, b: Float64Array): Float64Array {
  const l = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * k + j] as number;
      for (let m = 0; m < j; m++) s -= (l[i * k + m] as number) * (l[j * k + m] as number);
      if (i === j) {
        if (!(s > 0)) throw new Error('Bradley–Terry Hessian is not positive definite');
        l[i * k + i] = Math.sqrt(s);
      } else l[i * k + j] = s / (l[j * k + j] as number);
    }
  }
  const y = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let s = b[i] as number;
    for (let m = 0; m < i; m++) s -= (l[i * k + m] as number) * (y[m] as number);
    y[i] = s / (l[i * k + i] as number);
  }
  const x = new Float64Array(k);
  for (let i = k - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let m = i + 1; m < k; m++) s -= (l[m * k + i] as number) * (x[m] as number);
    x[i] = s / (l[i * k + i] as number);
  }
  return x;
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
