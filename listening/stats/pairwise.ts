/**
 * Head-to-head tables for every pair of items, rater-aware: the A/B sign test counts raters
 * (those who preferred a on balance against those who preferred b), not votes, and ratings are
 * compared by each rater's own difference between the two items (a paired t-test over raters).
 * Each family is Holm-corrected across its pairs. These are descriptive, one-look tests for the
 * report; the promotion decision uses the sequential tests in promotion.ts.
 */
import type { ItemId, PreferenceVote, ScoreVote } from '../types.ts';
import { meanInterval } from './mean-interval.ts';
import { raterPairOutcomes, raterRatingDifferences } from './raters.ts';
import { holmAdjust, signTest } from './significance.ts';
import { studentTCdf } from './t-dist.ts';

export interface HeadToHead {
  a: ItemId;
  b: ItemId;
  winsA: number;
  winsB: number;
  ties: number;
  /** Raters who preferred a on balance, and b on balance (raters with a draw are left out). */
  ratersA: number;
  ratersB: number;
  /** Exact two-sided sign test over raters. */
  p: number;
  /** Holm-adjusted across all pairs in the table. */
  pHolm: number;
}

/** Pairs come out with a < b (string order), so look-ups do not depend on which side won. */
export function headToHead(votes: readonly PreferenceVote[]): HeadToHead[] {
  const table = new Map<string, { a: ItemId; b: ItemId; winsA: number; winsB: number; ties: number }>();
  for (const v of votes) {
    if (v.left === v.right) continue;
    const [a, b] = v.left < v.right ? [v.left, v.right] : [v.right, v.left];
    const key = JSON.stringify([a, b]);
    const row = table.get(key) ?? { a, b, winsA: 0, winsB: 0, ties: 0 };
    if (v.choice === 'tie') row.ties++;
    else if ((v.choice === 'left' ? v.left : v.right) === a) row.winsA++;
    else row.winsB++;
    table.set(key, row);
  }
  const rows = [...table.values()]
    .sort((x, y) => (x.a === y.a ? cmp(x.b, y.b) : cmp(x.a, y.a)))
    .map((r) => {
      const outcomes = raterPairOutcomes(votes, r.a, r.b);
      return {
        ...r,
        ratersA: outcomes.filter((o) => o.wins > o.losses).length,
        ratersB: outcomes.filter((o) => o.wins < o.losses).length,
      };
    });
  const ps = rows.map((r) => signTest(r.ratersA, r.ratersB));
  const adjusted = holmAdjust(ps);
  return rows.map((r, i) => ({ ...r, p: ps[i] as number, pHolm: adjusted[i] as number }));
}

function cmp(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The row for a pair in either order, or undefined when they never met. */
export function findHeadToHead(table: readonly HeadToHead[], x: ItemId, y: ItemId): HeadToHead | undefined {
  const [a, b] = x < y ? [x, y] : [y, x];
  return table.find((r) => r.a === a && r.b === b);
}

export interface RatingComparison {
  a: ItemId;
  b: ItemId;
  /** Mean over raters of (their mean rating of a − their mean rating of b). */
  difference: number;
  /** Raters who rated both. */
  raters: number;
  t: number;
  df: number;
  p: number;
  pHolm: number;
}

/** Paired t-tests over raters between every pair of items that at least two raters rated both of. */
export function pairwiseRatings(votes: readonly ScoreVote[], kind: ScoreVote['kind']): RatingComparison[] {
  const items = [...new Set(votes.filter((v) => v.kind === kind).map((v) => v.item))].sort(cmp);
  const rows: Omit<RatingComparison, 'pHolm'>[] = [];
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const a = items[i] as ItemId;
      const b = items[j] as ItemId;
      const diffs = raterRatingDifferences(votes, kind, a, b).map((d) => d.difference);
      if (diffs.length < 2) continue;
      const s = meanInterval(diffs);
      const t = s.se > 0 ? s.mean / s.se : s.mean === 0 ? 0 : Math.sign(s.mean) * Infinity;
      const df = diffs.length - 1;
      const p = s.se > 0 ? Math.min(1, 2 * studentTCdf(-Math.abs(t), df)) : s.mean === 0 ? 1 : 0;
      rows.push({ a, b, difference: s.mean, raters: diffs.length, t, df, p });
    }
  }
  const adjusted = holmAdjust(rows.map((r) => r.p));
  return rows.map((r, i) => ({ ...r, pHolm: adjusted[i] as number }));
}
