/**
 * The listening test's statistics and decisions, as pure functions over plain arrays of
 * answers. Typical flow for one training run:
 *
 *   const { naturalness, likeness, decision } = evaluateVotes(records, { conditions, config, incumbent, similarityMeasured, replicates });
 *   const next = allocateTrials({ decision, fit: naturalness.bradleyTerry.fit, headToHead: naturalness.headToHead, incumbent, candidates, budget });
 *   const session = designSession({ raterId, seed, sentences, pairs: next.pairs, abTrials: 20, goldIds, trapIds, gold: 6, trap: 2, seen });
 *
 * `decision.audit` is JSON-serialisable and meant to be stored as it is.
 */

export {
  completedPage,
  finishPage,
  headphonePage,
  instructionsPage,
  messagePage,
  trialPage,
} from './crowd/pages.ts';
export { CROWD_ASSETS, CROWD_CSP } from './crowd/player.ts';
export type { Allocation, AllocationInput, AllocationPolicy, PairAllocation } from './design/allocation.ts';
export { allocateTrials, DEFAULT_ALLOCATION_POLICY } from './design/allocation.ts';
export { balancedSides, balancedSwaps } from './design/orientation.ts';
export type { AbTrial, CheckTrial, RatingTrial, Session, SessionRequest, Trial } from './design/session.ts';
export { blindView, designSession, isCheckTrial, trialKey } from './design/session.ts';
export { ITEMS_CSV_HEADER, itemsCsv, resultsJson, toSnake, votesCsv } from './report/export.ts';
export { resultsPage } from './report/page.ts';
export type { Rng } from './rng.ts';
export { createRng, shuffled } from './rng.ts';
export type { Clip } from './service/audio.ts';
export {
  degrade,
  HEADPHONE_QUESTIONS,
  headphoneAnswers,
  headphoneQuestionWav,
  STIMULUS_SAMPLE_RATE,
} from './service/audio.ts';
export type { AudioStore } from './service/audio-store.ts';
export { fileAudioStore, memoryAudioStore } from './service/audio-store.ts';
export {
  configOf,
  DEFAULT_GOLD_PER_RATER,
  DEFAULT_TRAP_PER_RATER,
  DEFAULT_TRIALS_PER_RATER,
  policyOf,
  type TestConfig,
  TRAP_TEXTS,
  type TrialKind,
} from './service/config.ts';
export { ListeningError, type ListeningErrorCode } from './service/errors.ts';
export { PAD_BLOCK, unpadWav } from './service/padding.ts';
export { autoPromote, promoteFromTest, promotionHistory, rollbackVoice } from './service/promote.ts';
export {
  computeResults,
  type Evaluation,
  evaluateVotes,
  incumbentOf,
  type TestResults,
  toAnswers,
} from './service/results.ts';
export { ADAPTIVE_AFTER_VOTES, planSession } from './service/session-plan.ts';
export {
  authenticateRater,
  castVote,
  completeSession,
  findInvitation,
  joinTest,
  type RaterContext,
  redeemCompletionCode,
  type SessionState,
  sessionState,
  submitHeadphoneCheck,
  type TrialView,
  trialAudio,
} from './service/sessions.ts';
export {
  type CreateTestInput,
  closeTest,
  createTest,
  getTest,
  type ListeningDeps,
  openTest,
  putRecording,
  type RenderStimulus,
  renderPlan,
  renderSome,
} from './service/tests.ts';
export type { BootstrapOptions, BradleyTerryEstimate, BradleyTerrySummary } from './stats/bootstrap.ts';
export { bootstrapBradleyTerry } from './stats/bootstrap.ts';
export type { BradleyTerryFit, BradleyTerryOptions, PreferenceTally } from './stats/bradley-terry.ts';
export { fitBradleyTerry, preferenceProbability, tallyPreferences } from './stats/bradley-terry.ts';
export { type BettingResult, bettingTest, rejects } from './stats/e-process.ts';
export type { MeanSummary } from './stats/mean-interval.ts';
export { meanInterval } from './stats/mean-interval.ts';
export type { HeadToHead, RatingComparison } from './stats/pairwise.ts';
export { findHeadToHead, headToHead, pairwiseRatings } from './stats/pairwise.ts';
export type {
  CandidateVerdict,
  NoPromotionReason,
  PromotionAudit,
  PromotionDecision,
  PromotionInput,
  PromotionPolicy,
} from './stats/promotion.ts';
export { DEFAULT_PROMOTION_POLICY, decidePromotion, PROMOTION_METHOD } from './stats/promotion.ts';
export type { FlagReason, QualityPolicy, RaterReport, ValidVotes } from './stats/quality-control.ts';
export { assessRaters, DEFAULT_QUALITY_POLICY, isTooFast, validVotes } from './stats/quality-control.ts';
export { type ClusteredMean, clusteredMean, itemRating, pairShare, raterPairOutcomes } from './stats/raters.ts';
export { holmAdjust, signTest } from './stats/significance.ts';
export type { ItemRatings, ListeningStatistics, StatisticsOptions } from './stats/summary.ts';
export { computeStatistics } from './stats/summary.ts';
export { studentTCdf, studentTQuantile } from './stats/t-dist.ts';
export type { Answer, CheckAnswer, Interval, ItemId, PreferenceVote, ScoreVote, Side, TimedAnswer } from './types.ts';
