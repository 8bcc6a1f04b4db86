/**
 * The promotion rule: a pure function from statistics to a decision and the numbers that
 * justify it, meant to be stored verbatim as the audit record.
 *
 * 1. Enough evidence: at least `minTotalVotes` valid A/B votes overall.
 * 2. Rank the incumbent and every candidate with at least `minVotesPerItem` votes by the
 *    lower bound of its Bradley–Terry bootstrap interval: an item ranks high only when the
 *    listeners are confidently positive about it, not when a few lucky votes inflate its
 *    point estimate.
 * 3. If the incumbent ranks first, keep it.
 * 4. Otherwise the top candidate must beat the incumbent head to head: at least
 *    `minHeadToHead` direct votes, more wins than losses, and a Holm-adjusted sign-test
 *    p-value below `alpha`. Only the top candidate is tested, so there is no fishing for a
 *    lower-ranked one that happens to pass.
 *
 * `alpha` defaults to 0.01 rather than 0.05: the rule is evaluated repeatedly as votes come
 * in, and each look is another chance of a false promotion; 0.01 keeps the family-wise
 * rate near 5% for up to five looks (Bonferroni). For a fresh voice the incumbent is the
 * base model, so a fine-tune must be heard to beat what the voice would get without one.
 */
import type { Interval, ItemId } from '../types.ts';
import type { BradleyTerrySummary } from './bootstrap.ts';
import { findHeadToHead, type HeadToHead } from './pairwise.ts';

export interface PromotionPolicy {
  minTotalVotes: number;
  minVotesPerItem: number;
  minHeadToHead: number;
  alpha: number;
}

export const DEFAULT_PROMOTION_POLICY: Readonly<PromotionPolicy> = Object.freeze({
  minTotalVotes: 200,
  minVotesPerItem: 30,
  minHeadToHead: 20,
  alpha: 0.01,
});

export interface PromotionInput {
  bradleyTerry: BradleyTerrySummary;
  headToHead: readonly HeadToHead[];
  /** Valid A/B votes the statistics were computed from. */
  totalVotes: number;
  incumbent: ItemId;
  /** Checkpoints that may be promoted (anchors such as the real recording are not). */
  candidates: readonly ItemId[];
}

export type NoPromotionReason =
  | 'too-few-votes'
  | 'no-eligible-candidate'
  | 'incumbent-ranks-first'
  | 'too-few-head-to-head'
  | 'loses-to-incumbent'
  | 'not-significant';

export interface RankedItem {
  item: ItemId;
  logStrength: number;
  ci: Interval;
  votes: number;
  eligible: boolean;
}

export interface PromotionAudit {
  policy: PromotionPolicy;
  totalVotes: number;
  incumbent: ItemId;
  ranking: RankedItem[];
  top: ItemId | null;
  /** The top candidate against the incumbent, from the top candidate's side. */
  headToHead: { wins: number; losses: number; ties: number; p: number; pHolm: number } | null;
  bootstrap: { seed: string; replicates: number; level: number; unit: string };
}

export type PromotionDecision =
  | { promote: true; winner: ItemId; audit: PromotionAudit }
  | { promote: false; reason: NoPromotionReason; audit: PromotionAudit };

export function decidePromotion(
  input: PromotionInput,
  policy: PromotionPolicy = DEFAULT_PROMOTION_POLICY,
): PromotionDecision {
  const bt = input.bradleyTerry;
  const contestants = new Set([input.incumbent, ...input.candidates]);
  const ranking: RankedItem[] = bt.estimates
    .filter((e) => contestants.has(e.item))
    .map((e) => ({
      item: e.item,
      logStrength: e.logStrength,
      ci: e.ci,
      votes: e.votes,
      eligible: e.votes >= policy.minVotesPerItem,
    }))
    .sort((x, y) => y.ci.low - x.ci.low || y.logStrength - x.logStrength);
  const audit: PromotionAudit = {
    policy: { ...policy },
    totalVotes: input.totalVotes,
    incumbent: input.incumbent,
    ranking,
    top: null,
    headToHead: null,
    bootstrap: { seed: bt.seed, replicates: bt.replicates, level: bt.level, unit: bt.unit },
  };
  const no = (reason: NoPromotionReason): PromotionDecision => ({ promote: false, reason, audit });

  if (input.totalVotes < policy.minTotalVotes) return no('too-few-votes');
  const top = ranking.find((r) => r.eligible && (r.item === input.incumbent || input.candidates.includes(r.item)));
  if (!top) return no('no-eligible-candidate');
  audit.top = top.item;
  if (top.item === input.incumbent) return no('incumbent-ranks-first');

  const row = findHeadToHead(input.headToHead, top.item, input.incumbent);
  const wins = row ? (row.a === top.item ? row.winsA : row.winsB) : 0;
  const losses = row ? (row.a === top.item ? row.winsB : row.winsA) : 0;
  audit.headToHead = { wins, losses, ties: row?.ties ?? 0, p: row?.p ?? 1, pHolm: row?.pHolm ?? 1 };
  if (wins + losses < policy.minHeadToHead) return no('too-few-head-to-head');
  if (wins <= losses) return no('loses-to-incumbent');
  if (audit.headToHead.pHolm >= policy.alpha) return no('not-significant');
  return { promote: true, winner: top.item, audit };
}
