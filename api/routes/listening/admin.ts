import { join } from 'node:path';
import { createRoute, OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import {
  type ApiKeyView,
  type Condition,
  type Job,
  type ListeningTest,
  latestPrescreenJob,
  listConditions,
  listListeningTests,
  type Promotion,
} from '../../../db/index.ts';
import type { AudioSandbox } from '../../../inference/index.ts';
import {
  autoPromote,
  closeTest,
  computeResults,
  configOf,
  createTest,
  DEFAULT_GOLD_PER_RATER,
  DEFAULT_TRAP_PER_RATER,
  DEFAULT_TRIALS_PER_RATER,
  getTest,
  ITEMS_CSV_HEADER,
  itemsCsv,
  type ListeningDeps,
  openTest,
  promoteFromTest,
  promotionHistory,
  putRecording,
  renderSome,
  resultsJson,
  resultsPage,
  rollbackVoice,
  STIMULUS_SAMPLE_RATE,
  toSnake,
  votesCsv,
} from '../../../listening/index.ts';
import { audioInputError } from '../../../voices/index.ts';
import { ApiError } from '../../errors.ts';
import { exampleIds, exampleLaterTime, exampleTime, exampleTokens } from '../../examples.ts';
import { requireScope } from '../../middleware/auth.ts';
import { receiveUpload } from '../../synthesis/upload.ts';
import {
  errorExample,
  errorResponses,
  jsonBody,
  jsonResponse,
  mediaResponse,
  PromotionPolicyInput,
  promotionPolicyOf,
  Seed,
  validationHook,
} from '../../validation.ts';

const kinds = ['ab_naturalness', 'ab_similarity', 'mos', 'similarity'] as const;
const count = z.number().int().min(0).max(200);

const CreateTest = z
  .strictObject({
    voice_id: z.uuid(),
    name: z.string().trim().min(1).max(200),
    checkpoint_ids: z.array(z.uuid()).min(1).max(20),
    base_checkpoint_id: z.uuid().optional(),
    sentences: z
      .array(
        z.strictObject({
          text: z.string().trim().min(1).max(400),
          seed: Seed.optional(),
        }),
      )
      .min(1)
      .max(200),
    trials_per_rater: z.strictObject({
      ab_naturalness: count.default(DEFAULT_TRIALS_PER_RATER.ab_naturalness),
      ab_similarity: count.default(DEFAULT_TRIALS_PER_RATER.ab_similarity),
      mos: count.default(DEFAULT_TRIALS_PER_RATER.mos),
      similarity: count.default(DEFAULT_TRIALS_PER_RATER.similarity),
    }),
    gold_per_rater: count.default(DEFAULT_GOLD_PER_RATER),
    trap_per_rater: count.default(DEFAULT_TRAP_PER_RATER),
    auto_promote: z.boolean().default(false),
    promotion_policy: PromotionPolicyInput.optional(),
  })
  .openapi('CreateListeningTest');

const TestJson = z
  .object({
    id: z.uuid(),
    voice_id: z.uuid(),
    name: z.string(),
    status: z.enum(['draft', 'rendering', 'open', 'closed']),
    kinds: z.array(z.enum(kinds)),
    invite_url: z.string().openapi({ description: 'Give this to raters; add ?worker_id=… for a crowd platform' }),
    config: z.record(z.string(), z.unknown()),
    conditions: z.array(
      z.object({ id: z.uuid(), kind: z.string(), label: z.string(), checkpoint_id: z.uuid().nullable() }),
    ),
    created_at: z.iso.datetime(),
    closed_at: z.iso.datetime().nullable(),
    preparation: z
      .object({
        job_id: z.number().int(),
        status: z.string(),
        attempts: z.number().int(),
        progress: z.record(z.string(), z.unknown()).nullable(),
        error: z.string().nullable(),
      })
      .nullable()
      .openapi({
        description:
          "The job that renders, pre-screens and opens a run's test (prescreen.run): progress has stage " +
          '(rendering, scoring, opening), done and total renderings; null for a test made by hand',
      }),
  })
  .openapi('ListeningTest');

const PromotionJson = z
  .object({
    id: z.uuid(),
    voice_id: z.uuid(),
    action: z.enum(['promote', 'rollback']),
    from_checkpoint_id: z.uuid().nullable(),
    to_checkpoint_id: z.uuid(),
    test_id: z.uuid().nullable(),
    statistics: z.unknown(),
    actor: z.string(),
    created_at: z.iso.datetime(),
  })
  .openapi('Promotion');

const preparationJson = (job: Job | undefined) =>
  job
    ? {
        job_id: job.id,
        status: job.status,
        attempts: job.attempts,
        progress: job.progress ?? null,
        error: job.lastError ?? null,
      }
    : null;

const testJson = (t: ListeningTest, conditions: Condition[], job?: Job) => ({
  id: t.id,
  voice_id: t.voiceId,
  name: t.name,
  status: t.status,
  kinds: t.kinds,
  invite_url: `/listen/i/${configOf(t).invite_code}`,
  // Stored keys are shown snake_case, whatever a rule stored them as.
  config: toSnake(t.config) as Record<string, unknown>,
  conditions: conditions.map((c) => ({ id: c.id, kind: c.kind, label: c.label, checkpoint_id: c.checkpointId })),
  created_at: t.createdAt.toISOString(),
  closed_at: t.closedAt?.toISOString() ?? null,
  preparation: preparationJson(job),
});

const promotionJson = (p: Promotion) => ({
  id: p.id,
  voice_id: p.voiceId,
  action: p.action,
  from_checkpoint_id: p.fromCheckpointId,
  to_checkpoint_id: p.toCheckpointId,
  test_id: p.testId,
  statistics: p.statistics,
  actor: p.actor,
  created_at: p.createdAt.toISOString(),
});

const security = [{ bearer: [] }];
const TestId = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, example: exampleIds.test }) });
const json = jsonResponse;
const tags = ['listening tests'];

const exampleSentence = 'The garden was quiet after the rain.';
const exampleCreate: z.input<typeof CreateTest> = {
  voice_id: exampleIds.voice,
  name: 'ada v1: step 500',
  checkpoint_ids: [exampleIds.checkpoint],
  base_checkpoint_id: exampleIds.baseCheckpoint,
  sentences: [{ text: exampleSentence, seed: 7 }],
  trials_per_rater: { ab_naturalness: 1, ab_similarity: 0, mos: 0, similarity: 0 },
  gold_per_rater: 0,
  trap_per_rater: 0,
  promotion_policy: { min_raters: 1 },
};
const examplePolicy = {
  alpha: 0.01,
  similarity_margin: 0.2,
  similarity_rating_margin: 0.25,
  similarity_alpha: 0.05,
  futility_effect: 0.2,
  futility_alpha: 0.05,
  min_raters: 1,
};
const exampleTest: z.output<typeof TestJson> = {
  id: exampleIds.test,
  voice_id: exampleIds.voice,
  name: 'ada v1: step 500',
  status: 'draft',
  kinds: ['ab_naturalness'],
  invite_url: `/listen/i/${exampleTokens.invite}`,
  config: {
    language: 'en',
    sentences: [{ text: exampleSentence, seed: 7 }],
    trials_per_rater: { ab_naturalness: 1, ab_similarity: 0, mos: 0, similarity: 0 },
    gold_per_rater: 0,
    trap_per_rater: 0,
    invite_code: exampleTokens.invite,
    auto_promote: false,
    promotion_policy: examplePolicy,
    seed: 'd3282743a5091c34',
  },
  conditions: [
    { id: exampleIds.condition, kind: 'checkpoint', label: 'ada v1 step 500', checkpoint_id: exampleIds.checkpoint },
    {
      id: '1d0c7e52-8a4b-4f3e-9c61-5b2a7d8e0f13',
      kind: 'base',
      label: 'base model: XTTS-v2 base',
      checkpoint_id: exampleIds.baseCheckpoint,
    },
    { id: 'e7a4c2d9-3b5f-4e81-a6d0-9c8b7f1e2a34', kind: 'real', label: 'real recording', checkpoint_id: null },
  ],
  created_at: exampleTime,
  closed_at: null,
  preparation: null,
};
const examplePromotion: z.output<typeof PromotionJson> = {
  id: exampleIds.promotion,
  voice_id: exampleIds.voice,
  action: 'rollback',
  from_checkpoint_id: exampleIds.checkpoint,
  to_checkpoint_id: exampleIds.baseCheckpoint,
  test_id: null,
  statistics: null,
  actor: 'studio admin',
  created_at: exampleLaterTime,
};

const routes = {
  create: createRoute({
    method: 'post',
    path: '/v1/listening/tests',
    tags,
    security,
    summary: 'Create a listening test for a voice from checkpoints, anchors and held-out sentences',
    request: { body: jsonBody(CreateTest, exampleCreate) },
    responses: { 201: json(TestJson, 'Created', exampleTest), ...errorResponses(400, 401, 403, 404) },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/listening/tests',
    tags,
    security,
    summary: 'List listening tests',
    request: { query: z.object({ voice_id: z.uuid().optional().openapi({ example: exampleIds.voice }) }) },
    responses: {
      200: json(z.object({ data: z.array(TestJson) }), 'Tests', { data: [exampleTest] }),
      ...errorResponses(400, 401, 403),
    },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/listening/tests/{id}',
    tags,
    security,
    summary: 'A listening test with its conditions',
    request: { params: TestId },
    responses: { 200: json(TestJson, 'The test', exampleTest), ...errorResponses(400, 401, 403, 404) },
  }),
  render: createRoute({
    method: 'post',
    path: '/v1/listening/tests/{id}/render',
    tags,
    security,
    summary: 'Render up to `max` missing stimuli; call again until `remaining` is 0',
    request: {
      params: TestId,
      body: jsonBody(z.strictObject({ max: z.number().int().min(1).max(500).default(20) }), { max: 50 }),
    },
    responses: {
      200: json(
        z.object({ rendered: z.number(), remaining: z.number(), recordings: z.number(), sentences: z.number() }),
        'Progress',
        { rendered: 2, remaining: 0, recordings: 1, sentences: 1 },
      ),
      ...errorResponses(400, 401, 403, 404, 409, 503),
    },
  }),
  open: createRoute({
    method: 'post',
    path: '/v1/listening/tests/{id}/open',
    tags,
    security,
    summary: 'Open the test to raters (every stimulus must be ready)',
    request: { params: TestId },
    responses: {
      200: json(TestJson, 'Opened', { ...exampleTest, status: 'open' }),
      ...errorResponses(401, 403, 404, 409),
    },
  }),
  close: createRoute({
    method: 'post',
    path: '/v1/listening/tests/{id}/close',
    tags,
    security,
    summary: 'Close the test; applies the promotion rule when the test promotes automatically',
    request: { params: TestId },
    responses: {
      200: json(TestJson.extend({ promotion: PromotionJson.nullable() }), 'Closed', {
        ...exampleTest,
        status: 'closed',
        closed_at: exampleLaterTime,
        promotion: null,
      }),
      ...errorResponses(401, 403, 404, 409),
    },
  }),
  results: createRoute({
    method: 'get',
    path: '/v1/listening/tests/{id}/results',
    tags,
    security,
    summary:
      'Statistics: Bradley–Terry with bootstrap intervals, MOS and similarity with 95% CIs, pairwise tests, the rule’s decision',
    request: { params: TestId },
    responses: {
      200: json(z.record(z.string(), z.unknown()), 'Results', {
        test_id: exampleIds.test,
        status: 'open',
        votes: 1,
        excluded_votes: 0,
        raters: { total: 1, completed: 1, flagged: 0 },
        valid_preference_votes: 1,
        valid_score_votes: 0,
        incumbent: '1d0c7e52-8a4b-4f3e-9c61-5b2a7d8e0f13',
        items: [
          {
            condition_id: exampleIds.condition,
            kind: 'checkpoint',
            label: 'ada v1 step 500',
            checkpoint_id: exampleIds.checkpoint,
            incumbent: false,
            naturalness_bt: { log_strength: 0.4, ci_low: null, ci_high: null, probability_best: null, votes: 1 },
            mos: { n: 0, raters: 0, mean: null, ci_low: null, ci_high: null },
          },
        ],
        head_to_head: [],
        decision: { promote: false, settled: false, reason: 'collecting', audit: { raters: 1, candidates: [] } },
      }),
      ...errorResponses(401, 403, 404),
    },
  }),
  promote: createRoute({
    method: 'post',
    path: '/v1/listening/tests/{id}/promote',
    tags,
    security,
    summary: 'Promote the checkpoint the rule names; 409 PROMOTION_NOT_JUSTIFIED when it names none',
    request: { params: TestId },
    responses: {
      201: json(PromotionJson, 'Promoted'),
      ...errorResponses(401, 403, 404),
      ...errorExample(409, {
        code: 'PROMOTION_NOT_JUSTIFIED',
        message: 'The promotion rule names no winner: collecting',
        details: {
          policy: examplePolicy,
          incumbent: '1d0c7e52-8a4b-4f3e-9c61-5b2a7d8e0f13',
          raters: 1,
          candidates: [{ item: exampleIds.condition, log_strength: 0.4, status: 'collecting' }],
        },
      }),
    },
  }),
  promotions: createRoute({
    method: 'get',
    path: '/v1/listening/promotions',
    tags,
    security,
    summary: 'A voice’s promotions and rollbacks, newest first',
    request: { query: z.object({ voice_id: z.uuid().openapi({ example: exampleIds.voice }) }) },
    responses: {
      200: json(z.object({ data: z.array(PromotionJson) }), 'History', { data: [examplePromotion] }),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  rollback: createRoute({
    method: 'post',
    path: '/v1/listening/voices/{voice_id}/rollback',
    tags,
    security,
    summary: 'Undo the voice’s latest promotion (recorded too)',
    request: {
      params: z.object({
        voice_id: z.uuid().openapi({ param: { name: 'voice_id', in: 'path' }, example: exampleIds.voice }),
      }),
    },
    responses: {
      201: json(PromotionJson, 'Rolled back', examplePromotion),
      ...errorResponses(400, 401, 403, 404, 409),
    },
  }),
  // Uploads, CSV and HTML: documented here, handled without a validator below.
  recording: {
    method: 'put' as const,
    path: '/v1/listening/tests/{id}/recordings/{index}',
    tags,
    security,
    summary: "The speaker's real recording of a sentence: the reference the similarity trials compare with",
    request: {
      params: TestId.extend({
        index: z.coerce
          .number()
          .int()
          .min(0)
          .openapi({ param: { name: 'index', in: 'path' }, example: 0, description: 'The sentence index' }),
      }),
      body: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: z.object({ audio: z.string().openapi({ format: 'binary' }) }),
            // File fields are shown by file name.
            example: { audio: 'sentence-0.wav' },
          },
        },
      },
    },
    responses: {
      200: json(z.object({ sentence_index: z.number().int(), sha256: z.string(), duration_s: z.number() }), 'Stored', {
        sentence_index: 0,
        sha256: '8f2a1c3e5b7d9f0a2c4e6b8d0f1a3c5e7b9d1f3a5c7e9b0d2f4a6c8e0b1d3f5a',
        duration_s: 2.4,
      }),
      ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422),
    },
  } satisfies RouteConfig,
  resultsCsv: {
    method: 'get' as const,
    path: '/v1/listening/tests/{id}/results.csv',
    tags,
    security,
    summary: 'The results as CSV: one row per condition, or with `table=votes` one row per vote',
    request: {
      params: TestId,
      query: z.object({ table: z.enum(['items', 'votes']).optional().openapi({ example: 'items' }) }),
    },
    responses: {
      200: mediaResponse('text/csv', 'CSV (a download)', `${ITEMS_CSV_HEADER}\r\n`),
      ...errorResponses(400, 401, 403, 404),
    },
  } satisfies RouteConfig,
  report: {
    method: 'get' as const,
    path: '/v1/listening/tests/{id}/report',
    tags,
    security,
    summary: 'The results as a page to read and print: intervals, comparisons and the decision, without script',
    request: { params: TestId },
    responses: {
      200: mediaResponse('text/html', 'The report', '<!doctype html>…'),
      ...errorResponses(400, 401, 403, 404),
    },
  } satisfies RouteConfig,
};

export type ListeningAdminDeps = ListeningDeps & {
  localSecret?: string | undefined;
  /** Where uploaded recordings are decoded and checked. */
  audioSandbox: AudioSandbox;
  maxUploadBytes: number;
  dataDir: string;
};

export function listeningAdminRoutes(deps: ListeningAdminDeps) {
  const { db } = deps;
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const auth = requireScope({ db, scope: 'admin', localSecret: deps.localSecret });
  app.use('/v1/listening/*', auth);
  const view = async (t: ListeningTest) =>
    testJson(t, await listConditions(db, t.id), await latestPrescreenJob(db, t.id));
  // requireScope has set the key; its name is the actor the audit trail records.
  const actor = (c: { get: (key: never) => unknown }) => (c.get('apiKey' as never) as ApiKeyView).name;

  // Uploads, CSV and HTML are not JSON, so these stay outside the OpenAPI document's validators.
  app.openAPIRegistry.registerPath(routes.recording);
  app.put('/v1/listening/tests/:id/recordings/:index', async (c) => {
    const index = Number(c.req.param('index'));
    if (!Number.isInteger(index) || index < 0) {
      throw new ApiError('VALIDATION_FAILED', 'path.index: a sentence index', { field: 'path.index' });
    }
    const id = z.uuid().safeParse(c.req.param('id'));
    if (!id.success) throw new ApiError('VALIDATION_FAILED', 'path.id: not a uuid', { field: 'path.id' });
    // Multipart, streamed to disk; decoded and checked in the audio sandbox, never on this thread.
    const upload = await receiveUpload(c.req.raw, {
      root: join(deps.dataDir, 'listening'),
      maxBytes: deps.maxUploadBytes,
      fileFields: { audio: 1 },
      textFields: [],
    });
    try {
      const file = upload.files[0];
      if (!file) {
        throw new ApiError('VALIDATION_FAILED', 'body.audio: a multipart file field with the recording', {
          field: 'body.audio',
        });
      }
      // Resampled to the stimulus rate and encoded as a mono PCM16 WAV in the sandbox too (a
      // file that already is one is kept byte for byte): no per-sample work on this thread.
      const recording = await deps.audioSandbox
        .recording({ path: file.path }, STIMULUS_SAMPLE_RATE, c.req.raw.signal)
        .catch((err) => audioInputError(err, 'body.audio'));
      const stimulus = await putRecording(deps, id.data, index, recording.wav);
      return c.json({ sentence_index: index, sha256: stimulus.sha256, duration_s: stimulus.durationS }, 200);
    } finally {
      await upload.discard();
    }
  });

  app.openAPIRegistry.registerPath(routes.resultsCsv);
  app.get('/v1/listening/tests/:id/results.csv', async (c) => {
    const r = await computeResults(db, await getTest(db, await uuidParam(c.req.param('id'))));
    c.header('Content-Disposition', `attachment; filename="listening-${r.test.id}.csv"`);
    return c.body(c.req.query('table') === 'votes' ? votesCsv(r) : itemsCsv(r), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
    });
  });
  app.openAPIRegistry.registerPath(routes.report);
  app.get('/v1/listening/tests/:id/report', async (c) => {
    const r = await computeResults(db, await getTest(db, await uuidParam(c.req.param('id'))));
    return c.html(resultsPage(r));
  });

  return app
    .openapi(routes.create, async (c) => {
      const b = c.req.valid('json');
      const { test } = await createTest(db, {
        voiceId: b.voice_id,
        name: b.name,
        checkpointIds: b.checkpoint_ids,
        baseCheckpointId: b.base_checkpoint_id,
        sentences: b.sentences,
        trialsPerRater: b.trials_per_rater,
        goldPerRater: b.gold_per_rater,
        trapPerRater: b.trap_per_rater,
        autoPromote: b.auto_promote,
        promotionPolicy: promotionPolicyOf(b.promotion_policy),
      });
      return c.json(await view(test), 201);
    })
    .openapi(routes.list, async (c) => {
      const voiceId = c.req.valid('query').voice_id;
      const tests = await listListeningTests(db, voiceId ? { voiceId } : {});
      return c.json({ data: await Promise.all(tests.map(view)) }, 200);
    })
    .openapi(routes.get, async (c) => c.json(await view(await getTest(db, c.req.valid('param').id)), 200))
    .openapi(routes.render, async (c) =>
      c.json(await renderSome(deps, c.req.valid('param').id, c.req.valid('json').max), 200),
    )
    .openapi(routes.open, async (c) => c.json(await view(await openTest(db, c.req.valid('param').id)), 200))
    .openapi(routes.close, async (c) => {
      const closed = await closeTest(db, c.req.valid('param').id);
      const promotion = await autoPromote(db, closed.id);
      return c.json({ ...(await view(closed)), promotion: promotion ? promotionJson(promotion) : null }, 200);
    })
    .openapi(routes.results, async (c) => {
      const r = await computeResults(db, await getTest(db, c.req.valid('param').id));
      return c.json(resultsJson(r), 200);
    })
    .openapi(routes.promote, async (c) =>
      c.json(promotionJson(await promoteFromTest(db, c.req.valid('param').id, actor(c))), 201),
    )
    .openapi(routes.promotions, async (c) =>
      c.json({ data: (await promotionHistory(db, c.req.valid('query').voice_id)).map(promotionJson) }, 200),
    )
    .openapi(routes.rollback, async (c) =>
      c.json(promotionJson(await rollbackVoice(db, c.req.valid('param').voice_id, actor(c))), 201),
    );
}

async function uuidParam(value: string): Promise<string> {
  const id = z.uuid().safeParse(value);
  if (!id.success) throw new ApiError('VALIDATION_FAILED', 'path.id: not a uuid', { field: 'path.id' });
  return id.data;
}
