/**
 * Adaptive allocation: where the next A/B trials should go.
 *
 * Policy:
 * - The leader is the contestant (incumbent or candidate) with the highest Bradley–Terry
 *   strength.
 * - A contender is a contestant whose interval still overlaps the leader's
 *   (its upper bound ≥ the leader's lower bound). Items clearly behind get no more
 *   targeted trials: more votes on them cannot change which checkpoint is promoted.
 * - While the leader is not the incumbent and has not yet significantly beaten it head to
 *   head, the incumbent is a contender too, because the promotion rule needs that direct
 *   comparison.
 * - Trials are handed out one at a time to the leader-vs-contender pair with the highest
 *   priority, weight / (votes already on the pair + 1), where weight is the share of the
 *   contender's interval that lies above the leader's lower bound (at least 0.05), and 1 for
 *   the incumbent while its comparison is pending. Pairs with few votes and much overlap come
 *   first; every assignment lowers that pair's priority, so the budget spreads.
 * - `explorationShare` of the budget (default 10%) goes to the least-compared pairs among all
 *   contestants, so an early wrong leader is still caught and the comparison graph stays
 *   connected.
 * - When no contender is left the test is settled and nothing is allocated.
 */
import type { BradleyTerryEstimate, BradleyTerrySummary } from '../stats/bootstrap.ts';
import { findHeadToHead, type HeadToHead } from '../stats/pairwise.ts';
import type { ItemId } from '../types.ts';

export interface AllocationInput {
  bradleyTerry: BradleyTerrySummary;
  headToHead: readonly HeadToHead[];
  incumbent: ItemId;
  candidates: readonly ItemId[];
  /** Number of A/B trials to hand out. */
  budget: number;
}

export interface AllocationPolicy {
  explorationShare: number;
  /** Significance level at which the leader counts as having beaten the incumbent. */
  alpha: number;
}

export const DEFAULT_ALLOCATION_POLICY: Readonly<AllocationPolicy> = Object.freeze({
  explorationShare: 0.1,
  alpha: 0.01,
});

export interface PairAllocation {
  a: ItemId;
  b: ItemId;
  trials: number;
  why: 'contender' | 'incumbent' | 'exploration';
}

export interface Allocation {
  leader: ItemId | null;
  contenders: ItemId[];
  settled: boolean;
  pairs: PairAllocation[];
}

function pairVotes(table: readonly HeadToHead[], a: ItemId, b: ItemId): number {
  const row = findHeadToHead(table, a, b);
  return row ? row.winsA + row.winsB + row.ties : 0;
}

export function allocateTrials(
  input: AllocationInput,
  policy: AllocationPolicy = DEFAULT_ALLOCATION_POLICY,
): Allocation {
  const contestantIds = new Set([input.incumbent, ...input.candidates]);
  const contestants = input.bradleyTerry.estimates.filter((e) => contestantIds.has(e.item));
  if (contestants.length < 2 || input.budget <= 0) {
    return { leader: contestants[0]?.item ?? null, contenders: [], settled: contestants.length < 2, pairs: [] };
  }
  const leader = contestants.reduce((best, e) => (e.logStrength > best.logStrength ? e : best));
  const weights = new Map<ItemId, { weight: number; why: PairAllocation['why'] }>();
  for (const e of contestants) {
    if (e.item === leader.item || e.ci.high < leader.ci.low) continue;
    weights.set(e.item, { weight: overlapWeight(e, leader), why: 'contender' });
  }
  if (leader.item !== input.incumbent) {
    const row = findHeadToHead(input.headToHead, leader.item, input.incumbent);
    const leaderWins = row ? (row.a === leader.item ? row.winsA > row.winsB : row.winsB > row.winsA) : false;
    if (!row || !leaderWins || row.pHolm >= policy.alpha) weights.set(input.incumbent, { weight: 1, why: 'incumbent' });
  }
  const contenders = [...weights.keys()];
  if (contenders.length === 0) return { leader: leader.item, contenders, settled: true, pairs: [] };

  const counts = new Map<string, PairAllocation>();
  const add = (a: ItemId, b: ItemId, why: PairAllocation['why']): void => {
    const key = JSON.stringify([a, b, why]);
    const row = counts.get(key) ?? { a, b, trials: 0, why };
    row.trials++;
    counts.set(key, row);
  };
  const planned = new Map<ItemId, number>();
  const explore = Math.round(input.budget * policy.explorationShare);
  for (let t = 0; t < input.budget - explore; t++) {
    let bestItem = contenders[0] as ItemId;
    let bestPriority = -1;
    for (const c of contenders) {
      const n = pairVotes(input.headToHead, leader.item, c) + (planned.get(c) ?? 0);
      const priority = (weights.get(c)?.weight ?? 0) / (n + 1);
      if (priority > bestPriority) {
        bestPriority = priority;
        bestItem = c;
      }
    }
    planned.set(bestItem, (planned.get(bestItem) ?? 0) + 1);
    add(leader.item, bestItem, weights.get(bestItem)?.why ?? 'contender');
  }
  const allPairs: Array<[ItemId, ItemId]> = [];
  const ids = contestants.map((e) => e.item);
  for (let i = 0; i < ids.length; i++)
    for (let j = i + 1; j < ids.length; j++) allPairs.push([ids[i] as ItemId, ids[j] as ItemId]);
  const explored = new Map<string, number>();
  for (let t = 0; t < explore; t++) {
    let pick = allPairs[0] as [ItemId, ItemId];
    let fewest = Infinity;
    for (const p of allPairs) {
      const n = pairVotes(input.headToHead, p[0], p[1]) + (explored.get(JSON.stringify(p)) ?? 0);
      if (n < fewest) {
        fewest = n;
        pick = p;
      }
    }
    explored.set(JSON.stringify(pick), (explored.get(JSON.stringify(pick)) ?? 0) + 1);
    add(pick[0], pick[1], 'exploration');
  }
  return { leader: leader.item, contenders, settled: false, pairs: [...counts.values()] };
}

/** Share of the contender's interval above the leader's lower bound, floored at 0.05. */
function overlapWeight(contender: BradleyTerryEstimate, leader: BradleyTerryEstimate): number {
  const width = contender.ci.high - contender.ci.low;
  if (!(width > 0) || !Number.isFinite(width)) return 1;
  const above = contender.ci.high - Math.max(leader.ci.low, contender.ci.low);
  return Math.min(1, Math.max(0.05, above / width));
}
