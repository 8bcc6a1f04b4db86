/** The OpenAPI description of the training-run routes (handlers in api/routes/training.ts). */
import { createRoute, z } from '@hono/zod-openapi';
import { exampleIds, exampleLaterTime, exampleTime } from '../examples.ts';
import { errorResponses, jsonBody, jsonResponse, mediaResponse } from '../validation.ts';
import { TrainingOptions } from './options.ts';
import { MetricJson, RunJson } from './views.ts';

const security = [{ bearer: [] }];
const tags = ['training runs'];
const json = jsonResponse;
const Id = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, example: exampleIds.run }) });

const runLinks = (id: string) => ({
  self: `/v1/training-runs/${id}`,
  events: `/v1/training-runs/${id}/events`,
  metrics: `/v1/training-runs/${id}/metrics`,
  page: `/training-runs/${id}`,
});
const exampleQueued: z.output<typeof RunJson> = {
  id: exampleIds.run,
  name: 'ada v1',
  dataset_id: exampleIds.dataset,
  voice_id: exampleIds.voice,
  base_checkpoint_id: exampleIds.baseCheckpoint,
  base_package: '/data/models/xtts-v2',
  config: { epochs: 4, lr: 5e-6, batch_size: 3, grad_accum: 84 },
  status: 'queued',
  progress: null,
  listening_test_id: null,
  error_code: null,
  error: null,
  checkpoints: [],
  metrics_summary: { train_points: 0, eval_points: 0, last_train: null, best_eval: null },
  links: runLinks(exampleIds.run),
  created_at: exampleTime,
  started_at: null,
  finished_at: null,
};
const exampleMetric: z.output<typeof MetricJson> = {
  id: 1,
  kind: 'train',
  step: 50,
  epoch: 0,
  loss: 3.21,
  loss_text: 0.04,
  loss_mel: 3.17,
  lr: 5e-6,
  samples_per_s: 11.8,
  gpu_mem_mb: 9120,
};

export const CreateRun = z
  .strictObject({
    dataset_id: z.uuid(),
    voice_id: z
      .uuid()
      .optional()
      .openapi({ description: 'The voice the checkpoints are for (listening test, promotion)' }),
    base_checkpoint_id: z
      .uuid()
      .optional()
      .openapi({ description: 'A base checkpoint; the newest ready one by default' }),
    name: z.string().trim().min(1).max(200).default('run'),
    options: TrainingOptions.default(TrainingOptions.parse({})),
  })
  .openapi('CreateTrainingRun');

export const runRoutes = {
  create: createRoute({
    method: 'post',
    path: '/v1/training-runs',
    tags,
    security,
    summary: 'Fine-tune XTTS-v2 on a ready dataset: queues a training job',
    request: {
      body: jsonBody(CreateRun, {
        dataset_id: exampleIds.dataset,
        voice_id: exampleIds.voice,
        name: 'ada v1',
        options: { epochs: 4 },
      }),
    },
    responses: { 202: json(RunJson, 'Queued', exampleQueued), ...errorResponses(400, 401, 403, 404, 409, 415, 503) },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/training-runs',
    tags,
    security,
    summary: 'Training runs, newest first',
    request: {
      query: z.object({
        dataset_id: z.uuid().optional().openapi({ example: exampleIds.dataset }),
        voice_id: z.uuid().optional(),
      }),
    },
    responses: {
      200: json(z.object({ data: z.array(RunJson) }), 'Runs', {
        data: [{ ...exampleQueued, checkpoints: undefined, metrics_summary: undefined }],
      }),
      ...errorResponses(400, 401, 403),
    },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/training-runs/{id}',
    tags,
    security,
    summary: 'A run with its progress, checkpoints (epoch, step, losses) and a summary of its metrics',
    request: { params: Id },
    responses: { 200: json(RunJson, 'The run', exampleQueued), ...errorResponses(400, 401, 403, 404) },
  }),
  metrics: createRoute({
    method: 'get',
    path: '/v1/training-runs/{id}/metrics',
    tags,
    security,
    summary: 'Loss curves: every logged train step and every evaluation',
    request: { params: Id },
    responses: {
      200: json(z.object({ train: z.array(MetricJson), eval: z.array(MetricJson) }), 'Metrics', {
        train: [exampleMetric],
        eval: [{ ...exampleMetric, id: 2, kind: 'eval', loss: 3.4, samples_per_s: null, gpu_mem_mb: null }],
      }),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  events: createRoute({
    method: 'get',
    path: '/v1/training-runs/{id}/events',
    tags,
    security,
    summary:
      'Server-sent events: `progress`, `metrics` (new points; `?after=` a metric id), `checkpoint`, `prescreen` (the job that renders, screens and opens one of its listening tests: status and progress), then `done`, `failed` or `cancelled`',
    request: { params: Id, query: z.object({ after: z.coerce.number().int().min(0).optional() }) },
    responses: {
      200: mediaResponse(
        'text/event-stream',
        'Event stream',
        'event: progress\ndata: {"status":"cancelled"}\n\n' +
          'event: cancelled\ndata: {"status":"cancelled","error_code":null,"error":null,"listening_test_id":null}\n\n',
      ),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  cancel: createRoute({
    method: 'post',
    path: '/v1/training-runs/{id}/cancel',
    tags,
    security,
    summary: 'Cancel: a queued run ends at once, a running one stops at its next report (resumable)',
    request: { params: Id },
    responses: {
      202: json(RunJson.extend({ cancel: z.enum(['cancelled', 'requested']) }), 'Cancelled or asked to stop', {
        ...exampleQueued,
        status: 'cancelled',
        finished_at: exampleLaterTime,
        cancel: 'cancelled',
      }),
      ...errorResponses(400, 401, 403, 404, 409),
    },
  }),
  resume: createRoute({
    method: 'post',
    path: '/v1/training-runs/{id}/resume',
    tags,
    security,
    summary: 'Queue a cancelled or failed run again; it continues from its last checkpoint',
    request: { params: Id },
    responses: { 202: json(RunJson, 'Queued again', exampleQueued), ...errorResponses(400, 401, 403, 404, 409) },
  }),
};
