/**
 * The studio's job workers, wired to what they need: storage, the model folder, checkpoint
 * registration and, when a run succeeds, a blind listening test of its checkpoints. The server
 * (`npm start`) runs them in-process; `npm run worker` runs them alone against a Postgres server.
 */
import { readFile } from 'node:fs/promises';
import type { z } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import {
  clipIncluded,
  type Db,
  enqueueJob,
  getDataset,
  getVoice,
  listCheckpoints,
  listDatasetClips,
  PRESCREEN_JOB,
  type TrainingRun,
  updateRun,
} from '../db/index.ts';
import type { Storage } from '../infra/index.ts';
import {
  type AudioStore,
  createTest,
  DEFAULT_GOLD_PER_RATER,
  DEFAULT_TRAP_PER_RATER,
  DEFAULT_TRIALS_PER_RATER,
  type ListeningDeps,
  putRecording,
  type RenderStimulus,
} from '../listening/index.ts';
import {
  type CheckpointMeta,
  DATASET_BUILD_JOB,
  datasetBuildHandler,
  type JobHandler,
  startWorker,
  TRAINING_RUN_JOB,
  trainingRunHandler,
  type Worker,
} from '../trainer/index.ts';
import { registerPackage } from '../voices/index.ts';
import { type PrescreenJobPayload, type PrescreenSettings, prescreenAsr, prescreenJobHandler } from './prescreen.ts';
import type { ListeningTestOptions } from './training/options.ts';
import { promotionPolicyOf } from './validation.ts';

export type JobDeps = {
  db: Db;
  storage: Storage;
  modelDir: string;
  logger: Logger;
  audio: AudioStore;
  renderStimulus?: RenderStimulus | undefined;
};

/** How many held-out sentences an automatic test uses at most (each rendered by every checkpoint). */
const MAX_TEST_SENTENCES = 10;

/** What a run's stored config says about its listening tests (see api/training/options.ts). */
type LoopConfig = Partial<z.infer<typeof ListeningTestOptions>>;

/**
 * Puts a finished run's checkpoints before listeners: a blind test for the run's voice with every
 * checkpoint of the run, the voice's current checkpoint and the base model, on the dataset's
 * held-out (eval) sentences, whose real recordings are the real-speaker anchor. A `prescreen.run`
 * job then renders it, pre-screens it (api/prescreen.ts: clearly broken checkpoints are left out,
 * unless `listening_test.prescreen.enabled` is false) and opens it; with auto-promotion the
 * preferred checkpoint becomes the voice's.
 */
export async function createRunListeningTest(
  deps: JobDeps,
  run: TrainingRun,
  upToEpoch?: number,
): Promise<string | undefined> {
  const loop = (run.config.listening_test ?? {}) as LoopConfig;
  if (loop.auto_create === false || !run.voiceId) return undefined;
  const voice = await getVoice(deps.db, run.voiceId);
  if (!voice) return undefined;
  const checkpoints = (await listCheckpoints(deps.db, { runId: run.id })).filter(
    (c) => c.status === 'ready' && (upToEpoch === undefined || (c.epoch ?? 0) <= upToEpoch),
  );
  if (checkpoints.length === 0) return undefined;
  const ids = checkpoints.map((c) => c.id);
  if (voice.checkpointId && !ids.includes(voice.checkpointId)) ids.push(voice.checkpointId);
  const evalClips = (await listDatasetClips(deps.db, run.datasetId, { split: 'eval' })).filter(clipIncluded);
  const train = (await listDatasetClips(deps.db, run.datasetId, { split: 'train' })).filter(clipIncluded);
  // Held-out first; a dataset too small to hold any out lends train clips as references.
  const references = [...evalClips, ...train].slice(0, MAX_TEST_SENTENCES);
  const sentences = loop.sentences?.length ? loop.sentences : references.map((c) => ({ text: c.text }));
  const ldeps: ListeningDeps = { db: deps.db, audio: deps.audio, renderStimulus: deps.renderStimulus };
  const { test } = await createTest(deps.db, {
    voiceId: voice.id,
    name: upToEpoch === undefined ? `${run.name}: checkpoints by ear` : `${run.name}: epochs 1–${upToEpoch} by ear`,
    checkpointIds: ids.slice(0, 20),
    baseCheckpointId: run.baseCheckpointId ?? undefined,
    sentences,
    trialsPerRater: { ...DEFAULT_TRIALS_PER_RATER, ...loop.trials_per_rater },
    goldPerRater: DEFAULT_GOLD_PER_RATER,
    trapPerRater: DEFAULT_TRAP_PER_RATER,
    autoPromote: loop.auto_promote ?? false,
    promotionPolicy: promotionPolicyOf(loop.promotion_policy),
  });
  // The run links to its final test; interim ones are found by voice.
  if (upToEpoch === undefined) await updateRun(deps.db, run.id, { listeningTestId: test.id });
  if (!loop.sentences?.length) {
    for (const [i, clip] of references.entries()) {
      await putRecording(ldeps, test.id, i, new Uint8Array(await readFile(deps.storage.localPath(clip.path))));
    }
  }
  if (!deps.renderStimulus) return test.id; // rendered and opened later by a process with an engine
  // Rendering, the pre-screen and opening are a job of their own (api/prescreen.ts), so that an
  // epoch's test is made while the next epoch trains, and a dead worker's test is resumed.
  let prescreen: PrescreenSettings | null = null;
  if (loop.prescreen?.enabled !== false) {
    const dataset = await getDataset(deps.db, run.datasetId);
    prescreen = {
      language: voice.language,
      asr: prescreenAsr(dataset?.options?.asr as Record<string, unknown> | undefined, loop.prescreen?.asr),
      currentCheckpointId: voice.checkpointId,
      policy: loop.prescreen?.policy,
    };
  }
  const payload: PrescreenJobPayload = { testId: test.id, runId: run.id, prescreen };
  await enqueueJob(deps.db, { kind: PRESCREEN_JOB, payload });
  return test.id;
}

export function jobHandlers(deps: JobDeps & { trainerGpus?: number }): Record<string, JobHandler> {
  const renderStimulus = deps.renderStimulus;
  return {
    // Only a process with an engine renders; without one the test waits for a process that has one.
    ...(renderStimulus
      ? { [PRESCREEN_JOB]: prescreenJobHandler({ audio: deps.audio, logger: deps.logger, renderStimulus }) }
      : {}),
    [DATASET_BUILD_JOB]: datasetBuildHandler({ storage: deps.storage }),
    [TRAINING_RUN_JOB]: trainingRunHandler({
      storage: deps.storage,
      modelDir: deps.modelDir,
      gpus: deps.trainerGpus ?? 1,
      registerCheckpoint: async (db: Db, dir: string, meta: CheckpointMeta) => {
        const { checkpoint, created } = await registerPackage(db, dir, meta);
        return { id: checkpoint.id, created };
      },
      onEpochCheckpoint: async (_db, run, epoch) => {
        const k = (run.config.listening_test as LoopConfig | undefined)?.every_epochs;
        const last = Number(run.config.epochs ?? 0);
        // The last epoch's test is the one made when the run ends.
        if (!k || epoch % k !== 0 || epoch >= last) return;
        const id = await createRunListeningTest(deps, run, epoch);
        if (id) deps.logger.info({ run: run.id, test: id, epoch }, 'listening test created for the epochs so far');
      },
      onRunSucceeded: async (_db, run) => {
        const id = await createRunListeningTest(deps, run);
        if (id) deps.logger.info({ run: run.id, test: id }, 'listening test created for the run');
      },
    }),
  };
}

/** Job kinds that take minutes, not hours: they get worker slots of their own (see startJobWorkers). */
export const SHORT_JOB_KINDS: readonly string[] = [PRESCREEN_JOB];

/**
 * Starts this process's workers. Worker slots are per kind of job: `count` workers claim every
 * kind given (dataset builds, training runs and pre-screens), and `shortCount` more (default 1)
 * claim only the short kinds (SHORT_JOB_KINDS: the pre-screen that opens a listening test).
 * A training run holds its worker for hours; without slots of their own, the listening test of
 * epoch 1 would wait on the queue until the run ends, where listeners should start on it while
 * epoch 2 trains. A short job queued while every worker is busy is claimed by a short-job slot
 * at its next poll; nothing else changes: the same queue, leases and retries, so a pre-screen
 * whose worker dies is resumed by the next worker that claims it. A process that runs no
 * workers (count 0) runs no short-job slots either.
 */
export function startJobWorkers(
  deps: JobDeps & {
    count: number;
    /** Workers for the short kinds only, beside `count` (default 1). */
    shortCount?: number;
    /** The job kinds these workers claim (a Kubernetes launcher takes training runs elsewhere). */
    kinds?: readonly string[];
    trainerGpus?: number;
    pollMs?: number;
    leaseMs?: number;
    stopWhenIdle?: boolean;
  },
): Worker[] {
  const all = jobHandlers(deps);
  const handlers = Object.fromEntries(Object.entries(all).filter(([k]) => !deps.kinds || deps.kinds.includes(k)));
  return startWorkerSlots(handlers, deps);
}

/** The slots of startJobWorkers for any handlers: `count` workers for every kind, `shortCount` for the short ones. */
export function startWorkerSlots(
  handlers: Record<string, JobHandler>,
  opts: {
    db: Db;
    logger: Logger;
    count: number;
    shortCount?: number;
    pollMs?: number;
    leaseMs?: number;
    stopWhenIdle?: boolean;
  },
): Worker[] {
  if (Object.keys(handlers).length === 0 || opts.count === 0) return [];
  const short = Object.fromEntries(Object.entries(handlers).filter(([k]) => SHORT_JOB_KINDS.includes(k)));
  const start = (h: Record<string, JobHandler>) =>
    startWorker({
      db: opts.db,
      handlers: h,
      logger: opts.logger,
      ...(opts.stopWhenIdle ? { stopWhenIdle: true } : {}),
      ...(opts.pollMs ? { pollMs: opts.pollMs } : {}),
      ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
    });
  const slots = Object.keys(short).length > 0 ? (opts.shortCount ?? 1) : 0;
  return [
    ...Array.from({ length: opts.count }, () => start(handlers)),
    ...Array.from({ length: slots }, () => start(short)),
  ];
}
