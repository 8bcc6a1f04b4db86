/** The OpenAPI description of the training-run routes (handlers in api/routes/training.ts). */
import { createRoute, z } from '@hono/zod-openapi';
import { errorResponses, jsonBody } from '../validation.ts';
import { TrainingOptions } from './options.ts';
import { MetricJson, RunJson } from './views.ts';

const security = [{ bearer: [] }];
const tags = ['training runs'];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const Id = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) });

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
    request: { body: jsonBody(CreateRun) },
    responses: { 202: json(RunJson, 'Queued'), ...errorResponses(400, 401, 403, 404, 409, 415, 503) },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/training-runs',
    tags,
    security,
    summary: 'Training runs, newest first',
    request: { query: z.object({ dataset_id: z.uuid().optional(), voice_id: z.uuid().optional() }) },
    responses: { 200: json(z.object({ data: z.array(RunJson) }), 'Runs'), ...errorResponses(400, 401, 403) },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/training-runs/{id}',
    tags,
    security,
    summary: 'A run with its progress, checkpoints (epoch, step, losses) and a summary of its metrics',
    request: { params: Id },
    responses: { 200: json(RunJson, 'The run'), ...errorResponses(400, 401, 403, 404) },
  }),
  metrics: createRoute({
    method: 'get',
    path: '/v1/training-runs/{id}/metrics',
    tags,
    security,
    summary: 'Loss curves: every logged train step and every evaluation',
    request: { params: Id },
    responses: {
      200: json(z.object({ train: z.array(MetricJson), eval: z.array(MetricJson) }), 'Metrics'),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  events: createRoute({
    method: 'get',
    path: '/v1/training-runs/{id}/events',
    tags,
    security,
    summary:
      'Server-sent events: `progress`, `metrics` (new points; `?after=` a metric id), `checkpoint`, then `done`, `failed` or `cancelled`',
    request: { params: Id, query: z.object({ after: z.coerce.number().int().min(0).optional() }) },
    responses: {
      200: { description: 'Event stream', content: { 'text/event-stream': { schema: z.string() } } },
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
      202: json(RunJson.extend({ cancel: z.enum(['cancelled', 'requested']) }), 'Cancelled or asked to stop'),
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
    responses: { 202: json(RunJson, 'Queued again'), ...errorResponses(400, 401, 403, 404, 409) },
  }),
};
