export { type Db, type DbDriver, type DbHandle, type DbOptions, openDb, pgliteDirFor } from './client.ts';
export { type Readiness, readiness } from './health.ts';
export { appliedMigrationCount, expectedMigrations, migrate } from './migrate.ts';
export {
  type ApiKey,
  type ApiKeyView,
  createApiKey,
  findActiveKey,
  hashToken,
  listApiKeys,
  revokeApiKey,
  touchApiKey,
} from './queries/api-keys.ts';
export {
  type Checkpoint,
  defaultBaseCheckpoint,
  findCheckpointByPackage,
  getCheckpoint,
  insertCheckpoint,
  listCheckpoints,
  type NewCheckpoint,
  setCheckpointKind,
} from './queries/checkpoints.ts';
export {
  type Condition,
  completeRater,
  countRaters,
  countVotes,
  findRaterByTokenHash,
  findRaterByWorker,
  findTestByInviteCode,
  flagRater,
  getListeningTest,
  getRater,
  getStimulus,
  getTrial,
  insertListeningTest,
  insertRater,
  insertTrials,
  insertVote,
  type ListeningTest,
  listConditions,
  listListeningTests,
  listRaters,
  listStimuli,
  listVoteRecords,
  type NewTrial,
  nextTrial,
  putStimulus,
  type Rater,
  raterProgress,
  type Stimulus,
  type TestStatus,
  type TrialRow,
  transitionTest,
  updateRater,
  type VoteRecord,
  type VoteRow,
} from './queries/listening.ts';
export {
  listPromotions,
  type Promotion,
  type PromotionOutcome,
  promoteCheckpoint,
  rollbackPromotion,
} from './queries/promotions.ts';
export {
  deleteVoice,
  findVoice,
  getConditioning,
  getVoice,
  insertVoice,
  listVoiceClips,
  listVoices,
  putConditioning,
  updateVoice,
  type Voice,
  type VoiceClip,
  type VoiceConditioningRow,
} from './queries/voices.ts';
export { type ApiKeyScope, apiKeyScopes } from './schema/auth.ts';
export * as schema from './schema/index.ts';
export { createScratchDatabase } from './scratch.ts';
