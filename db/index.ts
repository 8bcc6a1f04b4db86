export { type Db, type DbHandle, openDb, pgliteDirFor } from './client.ts';
export { isDatabaseUnavailable, retryWhileUnavailable, skipWhileUnavailable } from './errors.ts';
export { readiness } from './health.ts';
export { migrate } from './migrate.ts';
export { pgliteTemplate } from './pglite-template.ts';
export {
  type ApiKeyView,
  createApiKey,
  findActiveKey,
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
  setCheckpointKind,
} from './queries/checkpoints.ts';
export { type DatasetClipSummary, datasetClipSummary, listMetricsAfter } from './queries/dataset-views.ts';
export {
  clipIncluded,
  createDatasetWithBuild,
  DATASET_BUILD_JOB,
  type Dataset,
  type DatasetClip,
  type DatasetRecording,
  deleteDataset,
  failDataset,
  finishDatasetBuild,
  getDataset,
  getDatasetClip,
  listDatasetClips,
  listDatasetRecordings,
  listDatasets,
  type NewDatasetClip,
  setDatasetProgress,
  updateDatasetClip,
} from './queries/datasets.ts';
export { listUnlaunchedJobs, recordJobLaunch } from './queries/job-launch.ts';
export {
  cancelledJob,
  claimJob,
  completeJob,
  enqueueJob,
  failJob,
  getJob,
  heartbeatJob,
  type Job,
  type Lease,
  requestCancel,
  requeueJob,
} from './queries/jobs.ts';
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
  redeemCompletion,
  type Stimulus,
  type TrialRow,
  transitionTest,
  updateRater,
  type VoteRecord,
  type VoteRow,
} from './queries/listening.ts';
export {
  dropDraftConditions,
  latestPrescreenJob,
  listRunPrescreenJobs,
  PRESCREEN_JOB,
  setTestPrescreen,
} from './queries/prescreen.ts';
export { listPromotions, type Promotion, promoteCheckpoint, rollbackPromotion } from './queries/promotions.ts';
export { createOwnerSession, deleteOwnerSession, findOwnerSession, type OwnerSession } from './queries/sessions.ts';
export {
  addMetrics,
  createRunWithJob,
  deleteMetricsAfter,
  finishRun,
  getRun,
  listMetrics,
  listRuns,
  type NewTrainingMetric,
  TRAINING_RUN_JOB,
  type TrainingMetric,
  type TrainingRun,
  updateRun,
} from './queries/training.ts';
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
} from './queries/voices.ts';
export { type ApiKeyScope, apiKeyScopes } from './schema/auth.ts';
export * as schema from './schema/index.ts';
export { createScratchDatabase, databaseInterruptions } from './scratch.ts';
