/**
 * Adaptive allocation: where the next A/B trials should go, driven by the promotion rule itself
 * (stats/promotion.ts), so allocation and rule always agree on whether the test is over.
 *
 * - The test is settled exactly when the rule has decided: a promotion, or every candidate out
 *   (futile, or less like the speaker). Until then trials keep coming, whatever the intervals
 *   look like; allocation never stops a test the rule cannot yet decide.
 * - The rule compares each candidate with the incumbent head to head and counts raters, so a
 *   rater's naturalness trials concentrate on `focus` (candidate, incumbent) pairs of candidates
 *   still in play, drawn with priority (chance of beating the incumbent under the Bradley–Terry
 *   fit, squared) / (votes the pair already has + 1): promising pairs first, every vote lowering
 *   a pair's priority so raters spread over the candidates.
 * - `explorationShare` of the budget (default 10 %) goes to the least-compared pairs among all
 *   contestants, so the ranking among eligible candidates (which picks the winner when several
 *   pass) rests on direct comparisons and an early wrong ordering is still corrected.
 * - Similarity trials go to one of the rater's focus candidates whose similarity gate is still
 *   open: the gate matters only for candidates that may win on naturalness.
 */
import type { Rng } from '../rng.ts';
import type { BradleyTerryFit } from '../stats/bradley-terry.ts';
import { findHeadToHead, type HeadToHead } from '../stats/pairwise.ts';
import type { PromotionDecision } from '../stats/promotion.ts';
import type { ItemId } from '../types.ts';

export interface AllocationInput {
  decision: PromotionDecision;
  fit: BradleyTerryFit;
  headToHead: readonly HeadToHead[];
  /** Head-to-head counts of the similarity A/B votes. */
  similarityHeadToHead?: readonly HeadToHead[];
  incumbent: ItemId;
  candidates: readonly ItemId[];
  /** Naturalness A/B trials to hand out. */
  budget: number;
  /** Similarity A/B trials to hand out. */
  similarityBudget?: number;
  /** Draws which pairs this rater focuses on; without it the highest-priority pairs are taken. */
  rng?: Rng;
}

export interface AllocationPolicy {
  explorationShare: number;
  /** Candidate pairs one rater's naturalness trials concentrate on (similarity trials: the first of them). */
  focus: number;
}

export const DEFAULT_ALLOCATION_POLICY: Readonly<AllocationPolicy> = Object.freeze({ explorationShare: 0.1, focus: 2 });

export interface PairAllocation {
  a: ItemId;
  b: ItemId;
  trials: number;
  why: 'versus-incumbent' | 'exploration';
}

export interface Allocation {
  /** Candidates the rule has not yet ruled out. */
  active: ItemId[];
  settled: boolean;
  pairs: PairAllocation[];
  similarityPairs: PairAllocation[];
}

function pairVotes(table: readonly HeadToHead[], a: ItemId, b: ItemId): number {
  const row = findHeadToHead(table, a, b);
  return row ? row.winsA + row.winsB + row.ties : 0;
}

function strengthOf(fit: BradleyTerryFit, item: ItemId): number {
  const i = fit.items.indexOf(item);
  return i < 0 ? 0 : (fit.logStrength[i] as number);
}

/**
 * The pairs one rater concentrates on, drawn in proportion to priority without replacement.
 * Several votes of one rater on the same pair make that rater's net preference (the unit the
 * rule counts) precise; votes spread thinly over every pair would each carry little.
 */
function pickFocus(active: ItemId[], priority: (c: ItemId) => number, count: number, rng?: Rng): ItemId[] {
  const pool = active.map((c) => ({ c, w: priority(c) }));
  const out: ItemId[] = [];
  while (out.length < count && pool.length > 0) {
    let index = 0;
    if (rng) {
      const total = pool.reduce((sum, p) => sum + p.w, 0);
      let r = rng.next() * total;
      while (index < pool.length - 1 && r >= (pool[index] as { w: number }).w) r -= (pool[index++] as { w: number }).w;
    } else {
      pool.forEach((p, i) => {
        if (p.w > (pool[index] as { w: number }).w) index = i;
      });
    }
    out.push((pool[index] as { c: ItemId }).c);
    pool.splice(index, 1);
  }
  return out;
}

/** Hands out `budget` trials one at a time to the pair with the highest weight / (votes + 1). */
function spread(
  weights: Map<ItemId, number>,
  incumbent: ItemId,
  table: readonly HeadToHead[],
  budget: number,
): PairAllocation[] {
  const planned = new Map<ItemId, number>();
  for (let t = 0; t < budget && weights.size > 0; t++) {
    let best: ItemId | undefined;
    let bestPriority = -1;
    for (const [c, w] of weights) {
      const priority = w / (pairVotes(table, c, incumbent) + (planned.get(c) ?? 0) + 1);
      if (priority > bestPriority) {
        bestPriority = priority;
        best = c;
      }
    }
    if (best === undefined) break;
    planned.set(best, (planned.get(best) ?? 0) + 1);
  }
  return [...planned.entries()].map(([c, trials]) => ({ a: c, b: incumbent, trials, why: 'versus-incumbent' }));
}

export function allocateTrials(
  input: AllocationInput,
  policy: AllocationPolicy = DEFAULT_ALLOCATION_POLICY,
): Allocation {
  const verdicts = input.decision.audit.candidates;
  const active = verdicts.filter((v) => v.status === 'collecting' || v.status === 'eligible').map((v) => v.item);
  if (input.decision.settled || active.length === 0) {
    return { active, settled: true, pairs: [], similarityPairs: [] };
  }
  const incumbentStrength = strengthOf(input.fit, input.incumbent);
  // Chance of beating the incumbent under the current fit, floored so no active pair starves.
  const promise = (c: ItemId) => Math.max(0.05, 1 / (1 + Math.exp(incumbentStrength - strengthOf(input.fit, c))));
  // Priority: squared promise (leaders first) over the votes the pair already has.
  const priority = (c: ItemId) => promise(c) ** 2 / (pairVotes(input.headToHead, c, input.incumbent) + 1);
  // The leader (highest strength still in play) is always in focus: its pair is the one most
  // likely to decide the test; the rest of the focus is drawn by priority.
  const leader = active.reduce((best, c) => (strengthOf(input.fit, c) > strengthOf(input.fit, best) ? c : best));
  const focus = [
    leader,
    ...pickFocus(
      active.filter((c) => c !== leader),
      priority,
      Math.min(policy.focus, active.length) - 1,
      input.rng,
    ),
  ];
  const natural = new Map(focus.map((c) => [c, 1]));
  const explore = Math.round(input.budget * policy.explorationShare);
  const pairs = spread(natural, input.incumbent, [], input.budget - explore);

  const contestants = [input.incumbent, ...input.candidates];
  const explored = new Map<string, PairAllocation>();
  for (let t = 0; t < explore; t++) {
    let pick: [ItemId, ItemId] | undefined;
    let fewest = Infinity;
    for (let i = 0; i < contestants.length; i++) {
      for (let j = i + 1; j < contestants.length; j++) {
        const a = contestants[i] as ItemId;
        const b = contestants[j] as ItemId;
        const n = pairVotes(input.headToHead, a, b) + (explored.get(JSON.stringify([a, b]))?.trials ?? 0);
        if (n < fewest) {
          fewest = n;
          pick = [a, b];
        }
      }
    }
    if (!pick) break;
    const key = JSON.stringify(pick);
    const row = explored.get(key) ?? { a: pick[0], b: pick[1], trials: 0, why: 'exploration' as const };
    row.trials++;
    explored.set(key, row);
  }

  // Similarity trials: the focus candidate whose gate is still open and that leads on priority.
  const gateOpen = new Set(
    verdicts
      .filter((v) => v.similarity.measured !== 'none' && !(v.similarity.nonInferiority?.rejected ?? false))
      .map((v) => v.item),
  );
  const similarityTarget = focus.find((c) => gateOpen.has(c)) ?? focus[0];
  const similarityBudget = input.similarityBudget ?? 0;
  const similarityPairs: PairAllocation[] =
    similarityTarget !== undefined && similarityBudget > 0
      ? [{ a: similarityTarget, b: input.incumbent, trials: similarityBudget, why: 'versus-incumbent' }]
      : [];
  return { active, settled: false, pairs: [...pairs, ...explored.values()], similarityPairs };
}
