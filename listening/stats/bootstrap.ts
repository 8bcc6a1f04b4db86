/**
 * Percentile bootstrap intervals for Bradley–Terry log-strengths.
 *
 * Each replicate draws the same number of votes with replacement and refits. By default the
 * unit resampled is the vote; `unit: "rater"` resamples whole raters instead (a cluster
 * bootstrap), which is the honest choice when a few raters contribute most of the votes,
 * because one rater's votes are not independent of each other.
 *
 * The generator is seeded, so the same votes and seed give the same intervals; store the
 * seed with the audit record.
 */
import { createRng } from '../rng.ts';
import type { Interval, ItemId, PreferenceVote } from '../types.ts';
import {
  type BradleyTerryFit,
  type BradleyTerryOptions,
  type Comparison,
  fitBradleyTerry,
  fitWinMatrix,
  tallyComparisons,
  toComparisons,
} from './bradley-terry.ts';

export interface BootstrapOptions extends BradleyTerryOptions {
  replicates?: number;
  level?: number;
  seed?: string | number;
  unit?: 'vote' | 'rater';
}

export interface BradleyTerryEstimate {
  item: ItemId;
  logStrength: number;
  strength: number;
  /** Percentile interval of the log-strength. */
  ci: Interval;
  /** Share of replicates in which this item had the highest strength. */
  probabilityBest: number;
  /** Comparisons this item took part in. */
  votes: number;
}

export interface BradleyTerrySummary {
  fit: BradleyTerryFit;
  estimates: BradleyTerryEstimate[];
  replicates: number;
  level: number;
  seed: string;
  unit: 'vote' | 'rater';
}

/** Linear-interpolated sample quantile (type 7, the R and NumPy default) of sorted values. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = sorted[lo] as number;
  return a + (h - lo) * ((sorted[hi] as number) - a);
}

type Cells = { index: Int32Array; value: Float64Array };

function cellsOf(k: number, comparisons: readonly Comparison[]): Cells {
  const cells = new Map<number, number>();
  for (const c of comparisons) {
    if (c.scoreA > 0) cells.set(c.a * k + c.b, (cells.get(c.a * k + c.b) ?? 0) + c.scoreA);
    if (c.scoreA < 1) cells.set(c.b * k + c.a, (cells.get(c.b * k + c.a) ?? 0) + (1 - c.scoreA));
  }
  return { index: Int32Array.from(cells.keys()), value: Float64Array.from(cells.values()) };
}

export function bootstrapBradleyTerry(
  votes: readonly PreferenceVote[],
  items: readonly ItemId[] = [],
  options: BootstrapOptions = {},
): BradleyTerrySummary {
  const replicates = options.replicates ?? 1000;
  const level = options.level ?? 0.95;
  const unit = options.unit ?? 'vote';
  const rng = createRng(options.seed ?? 'bradley-terry-bootstrap');
  const { items: list, comparisons } = toComparisons(votes, items);
  const fit = fitBradleyTerry(tallyComparisons(list, comparisons), options);
  const k = list.length;

  // Each resampling unit as its few non-zero cells of the win matrix, so a replicate costs one
  // pass over the drawn units instead of a re-tally of every vote (10,000 votes × 1,000
  // replicates stays well under a second).
  let groups: Cells[];
  if (unit === 'rater') {
    const byRater = new Map<string, Comparison[]>();
    votes.forEach((v, i) => {
      const group = byRater.get(v.raterId) ?? [];
      group.push(comparisons[i] as Comparison);
      byRater.set(v.raterId, group);
    });
    // Sorted so the result does not depend on the order votes arrived in.
    groups = [...byRater.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => cellsOf(k, g));
  } else {
    groups = comparisons.map((c) => cellsOf(k, [c]));
  }

  const samples = list.map(() => new Float64Array(groups.length > 0 ? replicates : 0));
  const best = list.map(() => 0);
  const wins = new Float64Array(k * k);
  for (let r = 0; r < replicates && groups.length > 0; r++) {
    wins.fill(0);
    for (let g = 0; g < groups.length; g++) {
      const cells = groups[rng.int(groups.length)] as Cells;
      for (let c = 0; c < cells.index.length; c++) {
        const at = cells.index[c] as number;
        wins[at] = (wins[at] as number) + (cells.value[c] as number);
      }
    }
    const rep = fitWinMatrix(list, wins, { ...options, start: fit.rawStrength });
    let top = 0;
    rep.logStrength.forEach((x, i) => {
      (samples[i] as Float64Array)[r] = x;
      if (x > (rep.logStrength[top] as number)) top = i;
    });
    best[top] = (best[top] as number) + 1;
  }
  const votesPer = list.map(() => 0);
  for (const c of comparisons) {
    votesPer[c.a] = (votesPer[c.a] as number) + 1;
    votesPer[c.b] = (votesPer[c.b] as number) + 1;
  }
  const tail = (1 - level) / 2;
  const estimates = list.map((item, i) => {
    const sorted = Array.from(samples[i] as Float64Array).sort((a, b) => a - b);
    return {
      item,
      logStrength: fit.logStrength[i] as number,
      strength: fit.strength[i] as number,
      ci:
        sorted.length > 0
          ? {
              low: quantileSorted(sorted, tail),
              high: quantileSorted(sorted, 1 - tail),
            }
          : { low: -Infinity, high: Infinity },
      probabilityBest: sorted.length > 0 ? (best[i] as number) / sorted.length : Number.NaN,
      votes: votesPer[i] as number,
    };
  });
  return { fit, estimates, replicates, level, seed: rng.seed, unit };
}
