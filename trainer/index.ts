// The trainer side driven from TypeScript: model packaging (trainer/xtts, Python), and the job
// worker that runs dataset builds (trainer/dataset) and training runs (trainer/finetune).

// Synthetic speech with known words and planted faults, for the dataset tests and bench:dataset.
export { makeRecordings, type Recording } from './dataset/fixture.ts';
export { DATASET_BUILD_JOB, datasetBuildHandler, datasetKeys } from './jobs/dataset-build.ts';
export {
  createKubernetesJob,
  KubernetesApiError,
  kubernetesLauncherOptions,
  type Launcher,
  type LauncherOptions,
  launchTrainingJobs,
  startKubernetesLauncher,
  type TrainerJobManifest,
  type TrainerJobOptions,
  trainerJobManifest,
} from './jobs/kubernetes.ts';
export { runTrainerCommand, type TrainerEvent, type TrainerResult } from './jobs/python-process.ts';
export { baseWeightsFor, type CheckpointMeta, TRAINING_RUN_JOB, trainingRunHandler } from './jobs/training-run.ts';
export { type JobContext, JobError, type JobHandler, startWorker, type Worker } from './jobs/worker.ts';
export {
  importModel,
  MODEL_FILES,
  type PullOptions,
  projectPythonReady,
  pull,
  pythonBinary,
  runPython,
} from './model-package/index.ts';
// Planted faults (cut ends, babble, another voice, half tempo, silence) for the pre-screen's tests and bench.
export { EXPECTED_REASON, makePlantedSets, PLANTED_SETS, type PlantedSet } from './prescreen/planted.ts';
export {
  DEFAULT_PRESCREEN_POLICY,
  judgeCheckpoints,
  type PrescreenPolicy,
  type PrescreenScores,
  type PrescreenVerdict,
} from './prescreen/rule.ts';
export { PrescreenError, type PrescreenReport, runPrescreen } from './prescreen/run.ts';
