import { OpenAPIHono } from '@hono/zod-openapi';
import {
  type Checkpoint,
  createRunWithJob,
  type Db,
  defaultBaseCheckpoint,
  getCheckpoint,
  getDataset,
  getRun,
  getVoice,
  listCheckpoints,
  listMetrics,
  listMetricsAfter,
  listRunPrescreenJobs,
  listRuns,
  requestCancel,
  requeueJob,
  type TrainingRun,
  updateRun,
} from '../../db/index.ts';
import { ApiError } from '../errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { signedOr, type UrlSigner } from '../signed-urls.ts';
import { pollingEvents } from '../sse.ts';
import { runRoutes as routes } from '../training/openapi.ts';
import { byStep, checkpointJson, metricJson, runJson } from '../training/views.ts';
import { validationHook } from '../validation.ts';

export type TrainingRouteDeps = {
  db: Db;
  signer: UrlSigner;
  pollMs?: number | undefined;
  localSecret?: string | undefined;
};

const ended = { succeeded: 'done', failed: 'failed', cancelled: 'cancelled' } as const;

export function trainingRoutes(deps: TrainingRouteDeps) {
  const { db } = deps;
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const admin = requireScope({ db, scope: 'admin', localSecret: deps.localSecret });
  app.use('/v1/training-runs', admin);
  app.use('/v1/training-runs/*', signedOr(deps.signer, admin));
  const pollMs = deps.pollMs ?? 500;

  const found = async (id: string) => {
    const r = await getRun(db, id);
    if (!r) throw new ApiError('RUN_NOT_FOUND', 'No training run with that id', { field: 'path.id' });
    return r;
  };
  const full = async (r: TrainingRun) => {
    const [checkpoints, metrics] = await Promise.all([listCheckpoints(db, { runId: r.id }), listMetrics(db, r.id)]);
    return runJson(r, { checkpoints: byStep(checkpoints), metrics });
  };

  async function baseCheckpoint(id: string | undefined): Promise<Checkpoint> {
    if (id === undefined) {
      const k = await defaultBaseCheckpoint(db);
      if (!k?.packagePath) {
        throw new ApiError('MODEL_NOT_READY', 'No base model is registered: run `npm run model:pull` first');
      }
      return k;
    }
    const k = await getCheckpoint(db, id);
    if (!k)
      throw new ApiError('CHECKPOINT_NOT_FOUND', 'No checkpoint with that id', { field: 'body.base_checkpoint_id' });
    if (k.kind !== 'base' || k.status !== 'ready' || !k.packagePath) {
      throw new ApiError('VALIDATION_FAILED', 'body.base_checkpoint_id: must be a ready base checkpoint', {
        field: 'body.base_checkpoint_id',
      });
    }
    return k;
  }

  return app
    .openapi(routes.create, async (c) => {
      const b = c.req.valid('json');
      const dataset = await getDataset(db, b.dataset_id);
      if (!dataset) throw new ApiError('DATASET_NOT_FOUND', 'No dataset with that id', { field: 'body.dataset_id' });
      if (dataset.status !== 'ready') {
        throw new ApiError('DATASET_NOT_READY', `The dataset is ${dataset.status}; train once it is ready`, {
          field: 'body.dataset_id',
        });
      }
      if (b.voice_id !== undefined && !(await getVoice(db, b.voice_id))) {
        throw new ApiError('VOICE_NOT_FOUND', 'No voice with that id', { field: 'body.voice_id' });
      }
      const base = await baseCheckpoint(b.base_checkpoint_id);
      const run = await createRunWithJob(db, {
        name: b.name,
        datasetId: dataset.id,
        voiceId: b.voice_id ?? null,
        baseCheckpointId: base.id,
        basePackage: base.packagePath as string,
        config: b.options,
      });
      return c.json(await full(run), 202);
    })
    .openapi(routes.list, async (c) => {
      const q = c.req.valid('query');
      const runs = await listRuns(db, {
        ...(q.dataset_id ? { datasetId: q.dataset_id } : {}),
        ...(q.voice_id ? { voiceId: q.voice_id } : {}),
      });
      return c.json({ data: runs.map((r) => runJson(r)) }, 200);
    })
    .openapi(routes.get, async (c) => c.json(await full(await found(c.req.valid('param').id)), 200))
    .openapi(routes.metrics, async (c) => {
      const metrics = (await listMetrics(db, (await found(c.req.valid('param').id)).id)).map(metricJson);
      return c.json(
        { train: metrics.filter((m) => m.kind === 'train'), eval: metrics.filter((m) => m.kind === 'eval') },
        200,
      );
    })
    .openapi(routes.cancel, async (c) => {
      const run = await found(c.req.valid('param').id);
      const outcome = run.jobId === null ? 'missing' : await requestCancel(db, run.jobId);
      if (outcome === 'ended' || outcome === 'missing') {
        throw new ApiError('RUN_NOT_CANCELLABLE', `The run is ${run.status}; there is nothing to cancel`, {
          field: 'path.id',
        });
      }
      // A queued job ends at once and no worker will report it: the run ends with it.
      if (outcome === 'cancelled') await updateRun(db, run.id, { status: 'cancelled' });
      return c.json({ ...(await full(await found(run.id))), cancel: outcome }, 202);
    })
    .openapi(routes.resume, async (c) => {
      const run = await found(c.req.valid('param').id);
      const resumable = run.status === 'cancelled' || run.status === 'failed';
      if (!resumable || run.jobId === null || !(await requeueJob(db, run.jobId))) {
        throw new ApiError(
          'RUN_NOT_RESUMABLE',
          resumable
            ? 'The run’s job is still stopping; try again in a moment'
            : `The run is ${run.status}; only a cancelled or failed run resumes`,
          { field: 'path.id' },
        );
      }
      await updateRun(db, run.id, { status: 'queued', errorCode: null, error: null });
      return c.json(await full(await found(run.id)), 202);
    })
    .openapi(routes.events, async (c) => {
      const { id } = c.req.valid('param');
      await found(id);
      let lastProgress = '';
      let afterId = c.req.valid('query').after ?? 0;
      const seen = new Map<string, string>();
      return pollingEvents(c, pollMs, async (send) => {
        const run = await getRun(db, id);
        if (!run) {
          await send('failed', { status: 'deleted', error_code: 'RUN_NOT_FOUND', error: 'The run was deleted' });
          return false;
        }
        const progress = { status: run.status, ...(run.progress ?? {}) };
        if (JSON.stringify(progress) !== lastProgress) {
          lastProgress = JSON.stringify(progress);
          await send('progress', progress);
        }
        const points = await listMetricsAfter(db, id, afterId);
        if (points.length) {
          afterId = points.at(-1)?.id ?? afterId;
          await send('metrics', { points: points.map(metricJson) });
        }
        for (const k of byStep(await listCheckpoints(db, { runId: id }))) {
          const view = checkpointJson(k);
          if (seen.get(k.id) !== JSON.stringify(view)) {
            seen.set(k.id, JSON.stringify(view));
            await send('checkpoint', view);
          }
        }
        // The pre-screen jobs of the run's listening tests (an epoch's while training goes on).
        for (const j of await listRunPrescreenJobs(db, id)) {
          const view = {
            test_id: String(j.payload.testId ?? ''),
            job_id: j.id,
            status: j.status,
            attempts: j.attempts,
            progress: j.progress ?? null,
            error: j.lastError ?? null,
          };
          if (seen.get(`prescreen/${j.id}`) !== JSON.stringify(view)) {
            seen.set(`prescreen/${j.id}`, JSON.stringify(view));
            await send('prescreen', view);
          }
        }
        if (run.status in ended) {
          await send(ended[run.status as keyof typeof ended], {
            status: run.status,
            error_code: run.errorCode,
            error: run.error,
            listening_test_id: run.listeningTestId,
          });
          return false;
        }
        return true;
      }) as never;
    });
}
