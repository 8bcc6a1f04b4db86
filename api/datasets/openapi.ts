/** The OpenAPI description of the dataset routes (handlers in api/routes/datasets.ts). */
import { createRoute, z } from '@hono/zod-openapi';
import { errorResponses, jsonBody } from '../validation.ts';
import { chunkers, XTTS_LANGUAGES } from './options.ts';
import { ClipJson, DatasetJson } from './views.ts';

const security = [{ bearer: [] }];
const tags = ['datasets'];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const Id = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) });
const ClipId = Id.extend({ clipId: z.uuid().openapi({ param: { name: 'clipId', in: 'path' } }) });

/** Documented only: the handler streams the body itself (a validator would buffer it whole). */
export const createDatasetDoc = {
  method: 'post' as const,
  path: '/v1/datasets',
  tags,
  security,
  summary: 'Create a dataset from long recordings (or import an LJSpeech archive) and queue its build',
  description:
    'multipart/form-data, streamed to storage. Fields: `name`, `language`, `chunker`, `options` (JSON), one or ' +
    'more `recordings` files, optional `transcripts` (text or files, by order) or `transcript:<file name>`; or ' +
    'a single `ljspeech` archive (zip, tar, tar.gz) instead of recordings.',
  request: {
    body: {
      required: true,
      content: {
        'multipart/form-data': {
          schema: z
            .object({
              name: z.string().min(1).max(200),
              language: z.enum(XTTS_LANGUAGES),
              chunker: z.enum(chunkers).default('sentence'),
              options: z.string().optional().openapi({ description: 'JSON of DatasetOptions (see components)' }),
              recordings: z.array(z.string().openapi({ format: 'binary' })).optional(),
              transcripts: z.array(z.string()).optional(),
              ljspeech: z.string().optional().openapi({ format: 'binary' }),
            })
            .openapi('CreateDataset'),
        },
      },
    },
  },
  responses: {
    202: json(DatasetJson, 'Stored; the build is queued'),
    ...errorResponses(400, 401, 403, 413, 415, 507),
  },
};

export const datasetRoutes = {
  list: createRoute({
    method: 'get',
    path: '/v1/datasets',
    tags,
    security,
    summary: 'Datasets, newest first',
    responses: { 200: json(z.object({ data: z.array(DatasetJson) }), 'Datasets'), ...errorResponses(401, 403) },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/datasets/{id}',
    tags,
    security,
    summary: 'A dataset with its build report, clip summary (hours, reasons) and recordings',
    request: { params: Id },
    responses: { 200: json(DatasetJson, 'The dataset'), ...errorResponses(400, 401, 403, 404) },
  }),
  remove: createRoute({
    method: 'delete',
    path: '/v1/datasets/{id}',
    tags,
    security,
    summary: 'Delete a dataset and its files; 409 DATASET_IN_USE while a training run uses it',
    request: { params: Id },
    responses: { 204: { description: 'Deleted' }, ...errorResponses(400, 401, 403, 404, 409) },
  }),
  events: createRoute({
    method: 'get',
    path: '/v1/datasets/{id}/events',
    tags,
    security,
    summary: 'Build progress as server-sent events: `progress`, then `done` or `failed`',
    request: { params: Id },
    responses: {
      200: { description: 'Event stream', content: { 'text/event-stream': { schema: z.string() } } },
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  clips: createRoute({
    method: 'get',
    path: '/v1/datasets/{id}/clips',
    tags,
    security,
    summary: 'The clips of a built dataset (kept, flagged and dropped, with reasons)',
    request: {
      params: Id,
      query: z.object({
        status: z.enum(['kept', 'flagged', 'dropped']).optional(),
        split: z.enum(['train', 'eval']).optional(),
      }),
    },
    responses: { 200: json(z.object({ data: z.array(ClipJson) }), 'Clips'), ...errorResponses(400, 401, 403, 404) },
  }),
  audio: createRoute({
    method: 'get',
    path: '/v1/datasets/{id}/clips/{clipId}/audio',
    tags,
    security,
    summary: "A clip's audio (WAV)",
    request: { params: ClipId },
    responses: {
      200: { description: 'WAV', content: { 'audio/wav': { schema: z.string().openapi({ format: 'binary' }) } } },
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  patch: createRoute({
    method: 'patch',
    path: '/v1/datasets/{id}/clips/{clipId}',
    tags,
    security,
    summary: "Correct a clip's text (the build's is kept) or exclude/restore it (null: follow the build)",
    request: {
      params: ClipId,
      body: jsonBody(
        z
          .strictObject({
            text: z
              .string()
              .trim()
              .min(1)
              .max(1000)
              .regex(/^[^|\r\n]*$/, 'one line without "|" (the LJSpeech separator)')
              .optional(),
            excluded: z.boolean().nullable().optional(),
          })
          .refine((b) => b.text !== undefined || b.excluded !== undefined, {
            message: 'send text or excluded',
            path: ['text'],
          })
          .openapi('UpdateDatasetClip'),
      ),
    },
    responses: { 200: json(ClipJson, 'Updated'), ...errorResponses(400, 401, 403, 404, 409, 415) },
  }),
  ljspeech: createRoute({
    method: 'get',
    path: '/v1/datasets/{id}/ljspeech.tar',
    tags,
    security,
    summary: 'The dataset now (edits and exclusions applied) as an LJSpeech tar: metadata*.csv and wavs/',
    request: { params: Id },
    responses: {
      200: {
        description: 'tar',
        content: { 'application/x-tar': { schema: z.string().openapi({ format: 'binary' }) } },
      },
      ...errorResponses(400, 401, 403, 404, 409),
    },
  }),
};
