/** The OpenAPI description of the dataset routes (handlers in api/routes/datasets.ts). */
import { createRoute, z } from '@hono/zod-openapi';
import { exampleIds, exampleTime } from '../examples.ts';
import { errorResponses, jsonBody, jsonResponse, mediaResponse } from '../validation.ts';
import { chunkers, XTTS_LANGUAGES } from './options.ts';
import { ClipJson, DatasetJson } from './views.ts';

const security = [{ bearer: [] }];
const tags = ['datasets'];
const json = jsonResponse;
const Id = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, example: exampleIds.dataset }) });
const ClipId = Id.extend({
  clip_id: z.uuid().openapi({ param: { name: 'clip_id', in: 'path' }, example: exampleIds.datasetClip }),
});

const links = (id: string) => ({
  self: `/v1/datasets/${id}`,
  events: `/v1/datasets/${id}/events`,
  clips: `/v1/datasets/${id}/clips`,
  ljspeech: `/v1/datasets/${id}/ljspeech.tar`,
  page: `/datasets/${id}`,
});
const exampleRecording = {
  id: exampleIds.recording,
  name: 'chapter-1.wav',
  bytes: 52_920_044,
  sha256: '3b7f0c9e2d4a6b8c1e3f5a7b9d0c2e4f6a8b0d1c3e5f7a9b1d3c5e7f9a0b2c4d',
  transcript: false,
};
const exampleQueued: z.output<typeof DatasetJson> = {
  id: exampleIds.dataset,
  name: 'ada reading',
  language: 'en',
  status: 'queued',
  source: 'recordings',
  chunker: 'sentence',
  options: {},
  progress: null,
  report: null,
  recordings: [exampleRecording],
  error_code: null,
  error: null,
  links: links(exampleIds.dataset),
  created_at: exampleTime,
  updated_at: exampleTime,
};
const exampleReady: z.output<typeof DatasetJson> = {
  ...exampleQueued,
  status: 'ready',
  progress: { stage: 'done', fraction: 1 },
  report: { clips: 412, hours: 0.93 },
  summary: {
    clips: 412,
    included: 398,
    overridden: 0,
    edited: 2,
    hours_included: 0.9,
    hours_dropped: 0.03,
    train: 378,
    eval: 20,
    reasons: { too_short: 9, low_snr: 5 },
  },
};
const exampleClip: z.output<typeof ClipJson> = {
  id: exampleIds.datasetClip,
  clip_key: 'chapter-1_0007',
  recording: 'chapter-1.wav',
  start_s: 41.2,
  end_s: 47.9,
  text: 'It was the best of times.',
  normalized_text: 'it was the best of times.',
  original_text: null,
  duration_s: 6.7,
  sample_rate: 22050,
  cps: 3.7,
  loudness_dbfs: -21.3,
  peak_dbfs: -2.1,
  wer: 0,
  status: 'kept',
  reasons: [],
  excluded: null,
  included: true,
  split: 'train',
  audio_url: `/v1/datasets/${exampleIds.dataset}/clips/${exampleIds.datasetClip}/audio`,
};

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
          // File fields are shown by file name.
          example: { name: 'ada reading', language: 'en', chunker: 'sentence', recordings: ['chapter-1.wav'] },
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
    202: json(DatasetJson, 'Stored; the build is queued', exampleQueued),
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
    responses: {
      200: json(z.object({ data: z.array(DatasetJson) }), 'Datasets', {
        data: [{ ...exampleReady, summary: undefined, recordings: undefined }],
      }),
      ...errorResponses(401, 403),
    },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/datasets/{id}',
    tags,
    security,
    summary: 'A dataset with its build report, clip summary (hours, reasons) and recordings',
    request: { params: Id },
    responses: { 200: json(DatasetJson, 'The dataset', exampleReady), ...errorResponses(400, 401, 403, 404) },
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
      200: mediaResponse(
        'text/event-stream',
        'Event stream',
        'event: progress\ndata: {"status":"ready","stage":"done","fraction":1,"message":null}\n\n' +
          'event: done\ndata: {"status":"ready","report":{…}}\n\n',
      ),
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
        status: z.enum(['kept', 'flagged', 'dropped']).optional().openapi({ example: 'kept' }),
        split: z.enum(['train', 'eval']).optional(),
      }),
    },
    responses: {
      200: json(z.object({ data: z.array(ClipJson) }), 'Clips', { data: [exampleClip] }),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  audio: createRoute({
    method: 'get',
    path: '/v1/datasets/{id}/clips/{clip_id}/audio',
    tags,
    security,
    summary: "A clip's audio (WAV)",
    request: { params: ClipId },
    responses: {
      200: mediaResponse('audio/wav', 'WAV', 'RIFF…WAVEfmt … (the clip as the build cut it)'),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  patch: createRoute({
    method: 'patch',
    path: '/v1/datasets/{id}/clips/{clip_id}',
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
        { text: 'It was the best of times, it was the worst of times.' },
      ),
    },
    responses: {
      200: json(ClipJson, 'Updated', {
        ...exampleClip,
        text: 'It was the best of times, it was the worst of times.',
        original_text: 'It was the best of times.',
      }),
      ...errorResponses(400, 401, 403, 404, 409, 415),
    },
  }),
  ljspeech: createRoute({
    method: 'get',
    path: '/v1/datasets/{id}/ljspeech.tar',
    tags,
    security,
    summary: 'The dataset now (edits and exclusions applied) as an LJSpeech tar: metadata*.csv and wavs/',
    request: { params: Id },
    responses: {
      200: mediaResponse('application/x-tar', 'tar', 'metadata.csv, metadata_train.csv, metadata_eval.csv, wavs/…'),
      ...errorResponses(400, 401, 403, 404, 409),
    },
  }),
};
