// The trainer side driven from TypeScript: model packaging (trainer/xtts, Python), and the job
// worker that runs dataset builds (trainer/dataset) and training runs (trainer/finetune).

// Synthetic speech with known words and planted faults, for the dataset tests and bench:dataset.
export { makeRecordings, type Recording } from './dataset/fixture.ts';
export { DATASET_BUILD_JOB, datasetBuildHandler, datasetKeys } from './jobs/dataset-build.ts';
export { kubernetesLauncherOptions, startKubernetesLauncher, trainerJobManifest } from './jobs/kubernetes.ts';
export { type CheckpointMeta, TRAINING_RUN_JOB, trainingRunHandler } from './jobs/training-run.ts';
export { type JobContext, JobError, type JobHandler, startWorker, type Worker } from './jobs/worker.ts';
export { projectPythonReady, pythonBinary, runPython } from './model-package/index.ts';
// Planted faults (cut ends, babble, another voice, half tempo, silence) for the pre-screen's tests and bench.
export { makePlantedSets, type PlantedSet } from './prescreen/planted.ts';
export { judgeCheckpoints, type PrescreenPolicy, type PrescreenVerdict } from './prescreen/rule.ts';
export { runPrescreen } from './prescreen/run.ts';
