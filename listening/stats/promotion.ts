/**
 * The promotion rule: a pure function from the trusted raters' answers to a decision and the
 * numbers that justify it, stored verbatim as the audit record.
 *
 * For a personal voice "better" means two things: listeners prefer the candidate's naturalness
 * to the voice's current checkpoint (the incumbent), and it is not noticeably less like the
 * speaker. Each is a sequential test over raters (see raters.ts for why the rater is the unit
 * and e-process.ts for the tests), run on each candidate against the incumbent directly:
 *
 * 1. Naturalness, superiority. Each rater with A/B naturalness votes on (candidate, incumbent)
 *    gives y = (wins − losses) / (wins + losses) in [−1, 1]. H0: the crowd's mean y ≤ 0. The
 *    betting test rejects when its wealth reaches m / alpha (m candidates: Bonferroni, so
 *    picking whichever candidate crosses first is covered).
 * 2. Similarity, non-inferiority. Each rater's net preference for the candidate in A/B
 *    similarity trials (which of the two sounds more like the speaker's real recording, the
 *    anchor played as the reference), or when the test has no A/B similarity trials, their mean
 *    similarity rating of the candidate minus that of the incumbent. H0: the crowd's mean ≤
 *    −margin (worse by more than the margin). Rejected at 1 / similarityAlpha, per candidate:
 *    the gate only matters for a candidate that also wins on naturalness. When the test
 *    measures no similarity at all the gate cannot be applied; the audit says so.
 * 3. A candidate that passes both is eligible; the eligible one with the highest Bradley–Terry
 *    strength (all naturalness votes) is promoted.
 * 4. Futility: a candidate is out when a betting test shows its naturalness gain is below
 *    `futilityEffect` (H0: mean y ≥ futilityEffect rejected at futilityAlpha), or its similarity
 *    is worse than the margin (H0: mean ≥ −margin rejected the other way). When every candidate
 *    is out the test is settled with no promotion: further votes could not change that.
 *
 * Only raters whose session is complete enter, in the order they completed: a rater's number is
 * then final, which the sequential tests need. Every rater-quality flag depends only on the
 * rater's own answers and is blind to which side they preferred (quality-control.ts), so
 * excluding raters cannot tilt a test. Votes before `minRaters` raters have voted on a pair
 * decide nothing, so a handful of early raters cannot settle a test either way.
 *
 * Valid at any look: the tests reject only when their wealth crosses 1/α, whose probability
 * under H0 is at most α over the whole, unbounded sequence of looks (Ville's inequality), so
 * evaluating the rule after every vote, or an admin pressing "promote" at any moment, keeps the
 * false-promotion rate at or below `alpha`.
 */
import type { ItemId, PreferenceVote, ScoreVote } from '../types.ts';
import type { BradleyTerryFit } from './bradley-terry.ts';
import { type BettingResult, bettingTest } from './e-process.ts';
import {
  type ClusteredMean,
  clusteredMean,
  netPreference,
  pairShare,
  raterPairOutcomes,
  raterRatingDifferences,
} from './raters.ts';

export interface PromotionPolicy {
  /** Family-wise false-promotion rate on naturalness, over all candidates and all looks. */
  alpha: number;
  /** Non-inferiority margin on the A/B similarity net preference (−1…1): 0.2 = preferred 40 % of the time. */
  similarityMargin: number;
  /** The same margin for similarity ratings, in scale points (1–5). */
  similarityRatingMargin: number;
  /** Error rate of the similarity gate (passing a candidate worse than the margin). */
  similarityAlpha: number;
  /** Smallest naturalness gain (net preference) worth promoting; below it a candidate is futile. */
  futilityEffect: number;
  /** Chance of dropping a candidate as futile when its gain is at least `futilityEffect`. */
  futilityAlpha: number;
  /** Raters with votes on a pair before that pair can decide anything. */
  minRaters: number;
}

export const DEFAULT_PROMOTION_POLICY: Readonly<PromotionPolicy> = Object.freeze({
  alpha: 0.01,
  similarityMargin: 0.2,
  similarityRatingMargin: 0.25,
  similarityAlpha: 0.05,
  futilityEffect: 0.2,
  futilityAlpha: 0.05,
  minRaters: 8,
});

export interface PromotionInput {
  /** Trusted, complete raters' A/B naturalness votes. */
  naturalness: readonly PreferenceVote[];
  /**
   * Their similarity answers and which kind the gate uses (A/B when the test has A/B similarity
   * trials, else ratings), or null when the test measures no similarity.
   */
  similarity: { use: 'ab' | 'ratings'; ab: readonly PreferenceVote[]; ratings: readonly ScoreVote[] } | null;
  /** Complete raters in the order they completed. */
  raterOrder: readonly string[];
  /** Point fit over all naturalness votes, to rank eligible candidates. */
  bradleyTerry: BradleyTerryFit;
  incumbent: ItemId;
  /** Checkpoints that may be promoted (anchors such as the real recording are not). */
  candidates: readonly ItemId[];
}

export type NoPromotionReason = 'no-candidates' | 'collecting' | 'futile';

export interface TestRecord {
  raters: number;
  /** Mean of the per-rater numbers the test bets on. */
  mean: number;
  logWealth: number;
  maxLogWealth: number;
  /** log of the wealth needed to reject. */
  threshold: number;
  rejected: boolean;
}

export interface CandidateVerdict {
  item: ItemId;
  logStrength: number;
  naturalness: {
    /** Share of wins against the incumbent, clustered by rater, with its 95 % interval. */
    share: ClusteredMean;
    superiority: TestRecord;
    futility: TestRecord;
  };
  similarity: {
    measured: 'ab' | 'ratings' | 'none';
    /** A/B: share of "more like the speaker"; ratings: per-rater difference from the incumbent. */
    summary: ClusteredMean | null;
    nonInferiority: TestRecord | null;
    inferiority: TestRecord | null;
  };
  status: 'eligible' | 'collecting' | 'futile' | 'less-similar';
}

export interface PromotionAudit {
  policy: PromotionPolicy;
  incumbent: ItemId;
  raters: number;
  candidates: CandidateVerdict[];
  method: string;
}

export type PromotionDecision =
  | { promote: true; settled: true; winner: ItemId; audit: PromotionAudit }
  | { promote: false; settled: boolean; reason: NoPromotionReason; audit: PromotionAudit };

export const PROMOTION_METHOD =
  'per-rater betting e-processes (Waudby-Smith & Ramdas 2024), Bonferroni over candidates; similarity non-inferiority against the incumbent with the real recording as reference';

function record(r: BettingResult, mean: number, alpha: number, minRaters: number): TestRecord {
  const threshold = Math.log(1 / alpha);
  return {
    raters: r.n,
    mean,
    logWealth: r.logWealth,
    maxLogWealth: r.maxLogWealth,
    threshold,
    rejected: r.n >= minRaters && r.maxLogWealth >= threshold,
  };
}

const meanOf = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

export function decidePromotion(
  input: PromotionInput,
  policy: PromotionPolicy = DEFAULT_PROMOTION_POLICY,
): PromotionDecision {
  const m = Math.max(1, input.candidates.length);
  const order = input.raterOrder;
  const strength = new Map(input.bradleyTerry.items.map((id, i) => [id, input.bradleyTerry.logStrength[i] as number]));
  const verdicts = input.candidates.map((c): CandidateVerdict => {
    const outcomes = raterPairOutcomes(input.naturalness, c, input.incumbent, order);
    const ys = outcomes.map(netPreference);
    const superiority = record(
      bettingTest(ys, { null: 0, direction: 'greater', lo: -1, hi: 1 }),
      meanOf(ys),
      policy.alpha / m,
      policy.minRaters,
    );
    const futility = record(
      bettingTest(ys, { null: policy.futilityEffect, direction: 'less', lo: -1, hi: 1 }),
      meanOf(ys),
      policy.futilityAlpha,
      policy.minRaters,
    );
    const similarity = similarityVerdict(input, c, policy);
    const futile = futility.rejected;
    const lessSimilar = similarity.inferiority?.rejected ?? false;
    const similar = similarity.measured === 'none' || (similarity.nonInferiority?.rejected ?? false);
    return {
      item: c,
      logStrength: strength.get(c) ?? Number.NaN,
      naturalness: { share: pairShare(outcomes), superiority, futility },
      similarity,
      status: futile
        ? 'futile'
        : lessSimilar
          ? 'less-similar'
          : superiority.rejected && similar
            ? 'eligible'
            : 'collecting',
    };
  });
  const audit: PromotionAudit = {
    policy: { ...policy },
    incumbent: input.incumbent,
    raters: order.length,
    candidates: verdicts,
    method: PROMOTION_METHOD,
  };
  if (verdicts.length === 0) return { promote: false, settled: true, reason: 'no-candidates', audit };
  const eligible = verdicts
    .filter((v) => v.status === 'eligible')
    .sort((a, b) => b.logStrength - a.logStrength || b.naturalness.superiority.mean - a.naturalness.superiority.mean);
  const winner = eligible[0];
  if (winner) return { promote: true, settled: true, winner: winner.item, audit };
  if (verdicts.every((v) => v.status === 'futile' || v.status === 'less-similar')) {
    return { promote: false, settled: true, reason: 'futile', audit };
  }
  return { promote: false, settled: false, reason: 'collecting', audit };
}

function similarityVerdict(input: PromotionInput, c: ItemId, policy: PromotionPolicy): CandidateVerdict['similarity'] {
  const sim = input.similarity;
  if (!sim) return { measured: 'none', summary: null, nonInferiority: null, inferiority: null };
  const order = input.raterOrder;
  // Per rater: net preference in A/B trials (−1…1), or rating difference (−4…4 points).
  let ys: number[];
  let summary: ClusteredMean;
  let bounds: { lo: number; hi: number; null: number };
  if (sim.use === 'ab') {
    const outcomes = raterPairOutcomes(sim.ab, c, input.incumbent, order);
    ys = outcomes.map(netPreference);
    summary = pairShare(outcomes);
    bounds = { lo: -1, hi: 1, null: -policy.similarityMargin };
  } else {
    ys = raterRatingDifferences(sim.ratings, 'similarity', c, input.incumbent, order).map((d) => d.difference);
    summary = clusteredMean(ys.map((d) => [d]));
    bounds = { lo: -4, hi: 4, null: -policy.similarityRatingMargin };
  }
  // Not worse than the margin (the gate), and worse than it (out).
  const test = (direction: 'greater' | 'less', alpha: number) =>
    record(bettingTest(ys, { ...bounds, direction }), meanOf(ys), alpha, policy.minRaters);
  return {
    measured: sim.use,
    summary,
    nonInferiority: test('greater', policy.similarityAlpha),
    inferiority: test('less', policy.futilityAlpha),
  };
}
