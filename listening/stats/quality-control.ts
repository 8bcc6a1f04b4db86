/**
 * Rater quality control. A rater's votes count only when the rater is "trusted"; flagged
 * and not-yet-verified raters are left out of every statistic.
 *
 * Flagging policy (defaults in DEFAULT_QUALITY_POLICY), each rule with its reason:
 * - trap: the audio says which side to pick; anyone listening gets it right, so a single
 *   failure flags (the practice of ITU-T P.808's trapping questions).
 * - gold: real recording against a degraded copy; an attentive listener can still slip once,
 *   so up to max(1, 20%) failures are allowed. A random clicker with 6 gold trials passes
 *   that with probability 7/64 ≈ 11%; together with 2 traps (25%) about 2.7%.
 * - too fast: an answer submitted before the trial's audio could have played once
 *   (responseMs < audioMs), or in under 1.5 s whatever the audio. More than 25% such answers
 *   flags; occasional skipping of a clip's tail after deciding is allowed.
 * - side bias: design balances sides per rater and preferences do not depend on side, so an
 *   honest rater's left share is Binomial(n, ½). With ≥ 12 two-sided answers (A/B, gold and
 *   trap, ties dropped), an exact sign test with p < 0.001 flags; always-left over 20
 *   answers gives p ≈ 2·10⁻⁶.
 * - straight-lining: 8 or more ratings all identical (the default session has 8).
 * A rater with no check answer yet is "unverified": not accused of anything, but not counted.
 */
import type { Answer, CheckAnswer, PreferenceVote, ScoreVote } from '../types.ts';
import { signTest } from './significance.ts';

export interface QualityPolicy {
  maxTrapFailures: number;
  /** Allowed gold failures = max(minGoldFailuresAllowed, floor(share × gold trials)). */
  maxGoldFailureShare: number;
  minGoldFailuresAllowed: number;
  minResponseMs: number;
  /** An answer is too fast when responseMs < listenFraction × audioMs. */
  listenFraction: number;
  maxFastShare: number;
  sideBiasAlpha: number;
  minSideBiasAnswers: number;
  straightLiningMin: number;
  /** Gold and trap answers a rater needs before their votes count. */
  minChecks: number;
}

export const DEFAULT_QUALITY_POLICY: Readonly<QualityPolicy> = Object.freeze({
  maxTrapFailures: 0,
  maxGoldFailureShare: 0.2,
  minGoldFailuresAllowed: 1,
  minResponseMs: 1500,
  listenFraction: 1,
  maxFastShare: 0.25,
  sideBiasAlpha: 0.001,
  minSideBiasAnswers: 12,
  straightLiningMin: 8,
  minChecks: 1,
});

export type FlagReason = 'trap-failed' | 'gold-failed' | 'too-fast' | 'side-bias' | 'straight-lining';

export interface RaterReport {
  raterId: string;
  status: 'trusted' | 'flagged' | 'unverified';
  reasons: FlagReason[];
  answers: number;
  gold: { trials: number; failures: number; allowed: number };
  trap: { trials: number; failures: number };
  fast: { answers: number; share: number };
  side: { left: number; right: number; p: number };
}

export function isTooFast(a: Answer, policy: QualityPolicy = DEFAULT_QUALITY_POLICY): boolean {
  return a.responseMs < policy.minResponseMs || a.responseMs < policy.listenFraction * a.audioMs;
}

function assessOne(raterId: string, answers: readonly Answer[], policy: QualityPolicy): RaterReport {
  const gold = answers.filter((a): a is CheckAnswer => a.kind === 'gold');
  const trap = answers.filter((a): a is CheckAnswer => a.kind === 'trap');
  const goldFailures = gold.filter((a) => a.choice !== a.expected).length;
  const trapFailures = trap.filter((a) => a.choice !== a.expected).length;
  const allowed = Math.max(policy.minGoldFailuresAllowed, Math.floor(policy.maxGoldFailureShare * gold.length));
  const fast = answers.filter((a) => isTooFast(a, policy)).length;
  const fastShare = answers.length > 0 ? fast / answers.length : 0;
  let left = 0;
  let right = 0;
  for (const a of answers) {
    if (!('choice' in a) || a.choice === 'tie') continue;
    if (a.choice === 'left') left++;
    else right++;
  }
  const sideP = signTest(left, right);
  const scores = answers.filter((a): a is ScoreVote => a.kind === 'mos' || a.kind === 'similarity');

  const reasons: FlagReason[] = [];
  if (trapFailures > policy.maxTrapFailures) reasons.push('trap-failed');
  if (goldFailures > allowed) reasons.push('gold-failed');
  if (fastShare > policy.maxFastShare) reasons.push('too-fast');
  if (left + right >= policy.minSideBiasAnswers && sideP < policy.sideBiasAlpha) reasons.push('side-bias');
  if (scores.length >= policy.straightLiningMin && scores.every((s) => s.score === scores[0]?.score)) {
    reasons.push('straight-lining');
  }
  const status =
    reasons.length > 0 ? 'flagged' : gold.length + trap.length < policy.minChecks ? 'unverified' : 'trusted';
  return {
    raterId,
    status,
    reasons,
    answers: answers.length,
    gold: { trials: gold.length, failures: goldFailures, allowed },
    trap: { trials: trap.length, failures: trapFailures },
    fast: { answers: fast, share: fastShare },
    side: { left, right, p: sideP },
  };
}

/** One report per rater, in order of first appearance. */
export function assessRaters(
  answers: readonly Answer[],
  policy: QualityPolicy = DEFAULT_QUALITY_POLICY,
): RaterReport[] {
  const byRater = new Map<string, Answer[]>();
  for (const a of answers) {
    const list = byRater.get(a.raterId) ?? [];
    list.push(a);
    byRater.set(a.raterId, list);
  }
  return [...byRater.entries()].map(([id, list]) => assessOne(id, list, policy));
}

function isCheck(a: Answer): a is CheckAnswer {
  return a.kind === 'gold' || a.kind === 'trap';
}

export interface ValidVotes {
  preferences: PreferenceVote[];
  scores: ScoreVote[];
  /** Votes left out because their rater was flagged or unverified. */
  excluded: number;
}

/**
 * The votes that count: those of trusted raters. A rater's too-fast answers are dropped even
 * when the rater as a whole is trusted, since such an answer was not a judgement of the audio.
 */
export function validVotes(
  answers: readonly Answer[],
  reports: readonly RaterReport[],
  policy: QualityPolicy = DEFAULT_QUALITY_POLICY,
): ValidVotes {
  const trusted = new Set(reports.filter((r) => r.status === 'trusted').map((r) => r.raterId));
  const preferences: PreferenceVote[] = [];
  const scores: ScoreVote[] = [];
  let excluded = 0;
  for (const a of answers) {
    if (isCheck(a)) continue;
    if (!trusted.has(a.raterId) || isTooFast(a, policy)) {
      excluded++;
      continue;
    }
    if (a.kind === 'ab') preferences.push(a);
    else scores.push(a);
  }
  return { preferences, scores, excluded };
}
