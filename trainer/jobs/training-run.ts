/**
 * The `training.run` job: fine-tunes a base model's GPT on a dataset with the Python trainer
 * (trainer/finetune), registers each checkpoint's package as it is exported, stores the loss
 * curves, and hands the finished run on (to a listening test). A run whose worker died is
 * claimed again and the trainer resumes from its last checkpoint in the same run folder.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  addMetrics,
  clipIncluded,
  type DatasetClip,
  type Db,
  deleteMetricsAfter,
  finishRun,
  getDataset,
  getRun,
  listDatasetClips,
  type NewTrainingMetric,
  retryWhileUnavailable,
  skipWhileUnavailable,
  TRAINING_RUN_JOB,
  type TrainingRun,
  updateRun,
} from '../../db/index.ts';
import type { Storage } from '../../infra/index.ts';
import { missingPythonModule, runTrainerCommand } from './python-process.ts';
import { type JobContext, JobError, type JobHandler } from './worker.ts';

export type CheckpointMeta = {
  name: string;
  runId: string;
  epoch: number;
  step: number;
  trainLoss: number | null;
  evalLoss: number | null;
  trainingConfig: Record<string, unknown>;
};

export type TrainingDeps = {
  storage: Storage;
  /** Where the run's checkpoint packages are exported (inside MODEL_DIR, so they can be served). */
  modelDir: string;
  /** GPUs this worker trains on: more than one runs the trainer under torchrun (DDP). */
  gpus?: number;
  /** Registers an exported package as a checkpoint; registering it again returns the same row. */
  registerCheckpoint(db: Db, packageDir: string, meta: CheckpointMeta): Promise<{ id: string; created: boolean }>;
  /** Called once a run succeeded: puts its checkpoints before listeners. Failures are logged, not fatal. */
  onRunSucceeded?(db: Db, run: TrainingRun): Promise<void>;
  /**
   * Called when an epoch's checkpoint is registered, while training goes on (not awaited by the
   * trainer: listeners can start on early epochs). Failures are logged, not fatal.
   */
  onEpochCheckpoint?(db: Db, run: TrainingRun, epoch: number): Promise<void>;
};

/** The PyTorch weights a package was exported from: `model:pull` keeps them beside it as `<package>.download`. */
export function baseWeightsFor(basePackage: string, configured?: unknown): string {
  return typeof configured === 'string' && configured ? configured : `${basePackage}.download`;
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A trainer's progress or eval event as a loss-curve row; what an event does not carry stays null. */
const metricOf = (kind: 'train' | 'eval', e: Record<string, unknown>): NewTrainingMetric => ({
  kind,
  step: Number(e.step ?? 0),
  epoch: Number(e.epoch ?? 0),
  loss: num(e.loss),
  lossText: num(e.loss_text),
  lossMel: num(e.loss_mel),
  lr: num(e.lr),
  samplesPerS: num(e.samples_per_s),
  gpuMemMb: num(e.gpu_mem_mb),
});

/** Writes the dataset as the trainer reads it: the owner's edits and exclusions applied. */
async function writeDatasetSnapshot(dir: string, wavsDir: string, clips: DatasetClip[]): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await symlink(wavsDir, join(dir, 'wavs'), 'dir');
  const rows = { train: [] as string[], eval: [] as string[] };
  for (const c of clips) {
    if (!clipIncluded(c)) continue;
    const text = c.text.replace(/[|\r\n]+/g, ' ').trim();
    const normalized = c.originalText === null && c.normalizedText ? c.normalizedText : text;
    rows[c.split === 'eval' ? 'eval' : 'train'].push(`${c.clipKey}|${text}|${normalized.replace(/[|\r\n]+/g, ' ')}`);
  }
  await writeFile(join(dir, 'metadata_train.csv'), rows.train.map((r) => `${r}\n`).join(''));
  await writeFile(join(dir, 'metadata_eval.csv'), rows.eval.map((r) => `${r}\n`).join(''));
  await writeFile(join(dir, 'metadata.csv'), [...rows.train, ...rows.eval].map((r) => `${r}\n`).join(''));
  return rows.train.length + rows.eval.length;
}

export function trainingRunHandler(deps: TrainingDeps): JobHandler {
  return {
    async run(ctx: JobContext) {
      const runId = String(ctx.job.payload.runId ?? '');
      const run = await getRun(ctx.db, runId);
      if (!run) throw new JobError('RUN_NOT_FOUND', `training run ${runId} no longer exists`);
      const dataset = await getDataset(ctx.db, run.datasetId);
      if (dataset?.status !== 'ready' || !dataset.path) {
        throw new JobError('DATASET_NOT_READY', `dataset ${run.datasetId} is not ready`);
      }
      const baseWeights = baseWeightsFor(run.basePackage, run.config.base_model_dir);
      if (!existsSync(join(baseWeights, 'model.pth'))) {
        throw new JobError(
          'BASE_WEIGHTS_MISSING',
          `training needs the PyTorch weights of ${run.basePackage} (model.pth, dvae.pth, mel_stats.pth, vocab.json, config.json) in ${baseWeights}`,
        );
      }
      const runDir = deps.storage.localPath(`runs/${run.id}`);
      const clips = await listDatasetClips(ctx.db, dataset.id);
      const usable = await writeDatasetSnapshot(
        join(runDir, 'dataset'),
        deps.storage.localPath(`${dataset.path}/wavs`),
        clips,
      );
      if (usable === 0) throw new JobError('NO_USABLE_CLIPS', `dataset ${dataset.name} has no clips left to train on`);
      const spec = {
        run_dir: runDir,
        base_model_dir: baseWeights,
        base_package: run.basePackage,
        dataset_dir: join(runDir, 'dataset'),
        language: dataset.language,
        export_dir: join(deps.modelDir, 'runs', run.id),
        name: run.name,
        // What happens after training (the listening test) is the studio's business, not the trainer's.
        config: Object.fromEntries(
          Object.entries(run.config).filter(([k]) => k !== 'listening_test' && k !== 'base_model_dir'),
        ),
      };
      const specPath = join(runDir, 'spec.json');
      await writeFile(specPath, JSON.stringify(spec, null, 1));
      await updateRun(ctx.db, run.id, { status: 'running', started: true, errorCode: null, error: null });

      let lastProgressWrite = 0;
      const retry = { signal: ctx.signal };
      const result = await runTrainerCommand('finetune.train', [specPath], {
        signal: ctx.signal,
        processes: deps.gpus ?? 1,
        onEvent: async (e) => {
          if (e.event === 'start') {
            // Where the trainer starts: from its last complete checkpoint, or from nothing. A killed
            // attempt may have logged steps past that point, which this one runs again: their rows go.
            const step = Number(e.step ?? 0);
            const from = typeof e.checkpoint === 'string' ? e.checkpoint : null;
            const dropped = await retryWhileUnavailable(
              () => deleteMetricsAfter(ctx.db, run.id, from === null ? -1 : step),
              retry,
            );
            ctx.logger.info(
              { step, checkpoint: from, droppedMetrics: dropped },
              from === null ? 'training from the start' : 'resuming from a checkpoint',
            );
          } else if (e.event === 'progress') {
            const progress = { ...e } as Record<string, unknown>;
            delete progress.event;
            await ctx.report(progress);
            // Metrics and checkpoints wait out a passing database outage (training goes on
            // meanwhile); the progress shown on the page is only skipped while it lasts.
            await retryWhileUnavailable(() => addMetrics(ctx.db, run.id, [metricOf('train', e)]), retry);
            const now = Date.now();
            if (now - lastProgressWrite > 300) {
              lastProgressWrite = now;
              await updateRun(ctx.db, run.id, { progress }).catch(skipWhileUnavailable);
            }
          } else if (e.event === 'eval') {
            await retryWhileUnavailable(() => addMetrics(ctx.db, run.id, [metricOf('eval', e)]), retry);
          } else if (e.event === 'checkpoint' && typeof e.package === 'string') {
            const epoch = Number(e.epoch ?? 0);
            const step = Number(e.step ?? 0);
            const { created } = await retryWhileUnavailable(
              () =>
                deps.registerCheckpoint(ctx.db, e.package as string, {
                  name: `${run.name} · epoch ${epoch} · step ${step}`,
                  runId: run.id,
                  epoch,
                  step,
                  trainLoss: num(e.train_loss),
                  evalLoss: num(e.eval_loss),
                  trainingConfig: run.config,
                }),
              retry,
            );
            // An epoch's end (not a mid-epoch save), new (a resumed run announces its old ones again).
            if (deps.onEpochCheckpoint && created && num(e.eval_loss) !== null) {
              deps.onEpochCheckpoint(ctx.db, run, epoch).catch((err) => {
                ctx.logger.error({ err, epoch }, "putting the epoch's checkpoints before listeners failed");
              });
            }
          }
        },
      });
      if (ctx.signal.reason === 'cancel') {
        await finishRun(ctx.db, ctx.lease, run.id, 'cancelled');
        return;
      }
      if (ctx.signal.aborted) throw new JobError('STOPPED', `the run stopped (${String(ctx.signal.reason)})`);
      if (result.error)
        throw new JobError(String(result.error.code ?? 'TRAINING_FAILED'), String(result.error.message));
      const missing = result.code !== 0 ? missingPythonModule(result.stderrTail) : undefined;
      if (missing) throw new JobError('PYTHON_ENV_MISSING', missing);
      if (result.code !== 0 || !result.done) {
        // A crash (killed, out of host memory): another attempt resumes from the last checkpoint.
        const tail = result.stderrTail.trim().split('\n').slice(-5).join(' | ');
        throw new JobError('TRAINER_CRASHED', `the trainer exited with ${result.code ?? result.signal}: ${tail}`, {
          retry: true,
        });
      }
      if (!(await finishRun(ctx.db, ctx.lease, run.id, 'succeeded'))) {
        throw new JobError('LEASE_LOST', 'another worker took over the run', { retry: true });
      }
      if (deps.onRunSucceeded) {
        const finished = await getRun(ctx.db, run.id);
        if (finished) {
          await deps.onRunSucceeded(ctx.db, finished).catch((err) => {
            ctx.logger.error({ err }, 'the run succeeded, but putting its checkpoints before listeners failed');
          });
        }
      }
    },
    async failed(db: Db, job, code, message) {
      const runId = String(job.payload.runId ?? '');
      if (!runId) return;
      await updateRun(db, runId, {
        status: code === 'CANCELLED' ? 'cancelled' : 'failed',
        errorCode: code === 'CANCELLED' ? null : code,
        error: code === 'CANCELLED' ? null : message,
      });
    },
  };
}

export { TRAINING_RUN_JOB };
