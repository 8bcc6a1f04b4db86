/**
 * Head-to-head significance for every pair of items: exact sign tests on A/B votes and
 * Welch t-tests on ratings, each family Holm-corrected across all its pairs.
 */
import type { ItemId, PreferenceVote, ScoreVote } from '../types.ts';
import { welchTTest } from './mean-interval.ts';
import { holmAdjust, signTest } from './significance.ts';

export interface HeadToHead {
  a: ItemId;
  b: ItemId;
  winsA: number;
  winsB: number;
  ties: number;
  /** Exact two-sided sign test, ties dropped. */
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
  const rows = [...table.values()].sort((x, y) => (x.a === y.a ? cmp(x.b, y.b) : cmp(x.a, y.a)));
  const ps = rows.map((r) => signTest(r.winsA, r.winsB));
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
  /** mean(a) − mean(b). */
  difference: number;
  t: number;
  df: number;
  p: number;
  pHolm: number;
}

/** Welch t-tests between every pair of items with at least two ratings each, for one kind of rating. */
export function pairwiseRatings(votes: readonly ScoreVote[], kind: ScoreVote['kind']): RatingComparison[] {
  const byItem = new Map<ItemId, number[]>();
  for (const v of votes) {
    if (v.kind !== kind) continue;
    const list = byItem.get(v.item) ?? [];
    list.push(v.score);
    byItem.set(v.item, list);
  }
  const items = [...byItem.keys()].filter((i) => (byItem.get(i)?.length ?? 0) >= 2).sort(cmp);
  const rows: Omit<RatingComparison, 'pHolm'>[] = [];
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const a = items[i] as ItemId;
      const b = items[j] as ItemId;
      rows.push({ a, b, ...welchTTest(byItem.get(a) ?? [], byItem.get(b) ?? []) });
    }
  }
  const adjusted = holmAdjust(rows.map((r) => r.p));
  return rows.map((r, i) => ({ ...r, pHolm: adjusted[i] as number }));
}
