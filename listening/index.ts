/**
 * The listening test as other modules use it: the crowd's pages, the service that creates,
 * renders, opens and closes tests, runs raters' sessions, computes results and promotes
 * checkpoints, and the report. The design and the statistics underneath (design/, stats/) are
 * pure functions over plain arrays of answers, reached through the service. Typical flow inside
 * (service/results.ts, service/session-plan.ts):
 *
 *   const { naturalness, likeness, decision } = evaluateVotes(records, { conditions, config, incumbent, similarityMeasured, replicates });
 *   const next = allocateTrials({ decision, fit: naturalness.bradleyTerry.fit, headToHead: naturalness.headToHead, incumbent, candidates, budget });
 *   const session = designSession({ raterId, seed, sentences, pairs: next.pairs, abTrials: 20, goldIds, trapIds, gold: 6, trap: 2, seen });
 *
 * `decision.audit` is JSON-serialisable and meant to be stored as it is.
 */

export { completedPage, finishPage, headphonePage, instructionsPage, messagePage, trialPage } from './crowd/pages.ts';
export { CROWD_ASSETS, CROWD_CSP } from './crowd/player.ts';
export { ITEMS_CSV_HEADER, itemsCsv, resultsJson, toSnake, votesCsv } from './report/export.ts';
export { resultsPage } from './report/page.ts';
export { createRng } from './rng.ts';
export { HEADPHONE_QUESTIONS, headphoneAnswers, headphoneQuestionWav, STIMULUS_SAMPLE_RATE } from './service/audio.ts';
export type { AudioStore } from './service/audio-store.ts';
export { fileAudioStore, memoryAudioStore } from './service/audio-store.ts';
export {
  configOf,
  DEFAULT_GOLD_PER_RATER,
  DEFAULT_TRAP_PER_RATER,
  DEFAULT_TRIALS_PER_RATER,
} from './service/config.ts';
export { ListeningError } from './service/errors.ts';
export { PAD_BLOCK, unpadWav } from './service/padding.ts';
export { autoPromote, promoteFromTest, promotionHistory, rollbackVoice } from './service/promote.ts';
export { computeResults } from './service/results.ts';
export { planSession } from './service/session-plan.ts';
export {
  authenticateRater,
  castVote,
  completeSession,
  findInvitation,
  joinTest,
  redeemCompletionCode,
  type SessionState,
  sessionState,
  submitHeadphoneCheck,
  trialAudio,
} from './service/sessions.ts';
export {
  closeTest,
  createTest,
  getTest,
  type ListeningDeps,
  openTest,
  putRecording,
  type RenderStimulus,
  renderSome,
} from './service/tests.ts';
