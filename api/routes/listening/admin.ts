import { join } from 'node:path';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import {
  type ApiKeyView,
  type Condition,
  type ListeningTest,
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
  votesCsv,
} from '../../../listening/index.ts';
import { ApiError } from '../../errors.ts';
import { requireScope } from '../../middleware/auth.ts';
import { receiveUpload } from '../../synthesis/upload.ts';
import { audioInputError } from '../../synthesis/voices.ts';
import {
  errorResponses,
  jsonBody,
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

const testJson = (t: ListeningTest, conditions: Condition[]) => ({
  id: t.id,
  voice_id: t.voiceId,
  name: t.name,
  status: t.status,
  kinds: t.kinds,
  invite_url: `/listen/i/${configOf(t).invite_code}`,
  config: t.config,
  conditions: conditions.map((c) => ({ id: c.id, kind: c.kind, label: c.label, checkpoint_id: c.checkpointId })),
  created_at: t.createdAt.toISOString(),
  closed_at: t.closedAt?.toISOString() ?? null,
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
const TestId = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) });
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
const tags = ['listening tests'];

const routes = {
  create: createRoute({
    method: 'post',
    path: '/v1/listening/tests',
    tags,
    security,
    summary: 'Create a listening test for a voice from checkpoints, anchors and held-out sentences',
    request: { body: jsonBody(CreateTest) },
    responses: { 201: json(TestJson, 'Created'), ...errorResponses(400, 401, 403, 404) },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/listening/tests',
    tags,
    security,
    summary: 'List listening tests',
    request: { query: z.object({ voice_id: z.uuid().optional() }) },
    responses: { 200: json(z.object({ data: z.array(TestJson) }), 'Tests'), ...errorResponses(400, 401, 403) },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/listening/tests/{id}',
    tags,
    security,
    summary: 'A listening test with its conditions',
    request: { params: TestId },
    responses: { 200: json(TestJson, 'The test'), ...errorResponses(400, 401, 403, 404) },
  }),
  render: createRoute({
    method: 'post',
    path: '/v1/listening/tests/{id}/render',
    tags,
    security,
    summary: 'Render up to `max` missing stimuli; call again until `remaining` is 0',
    request: { params: TestId, body: jsonBody(z.strictObject({ max: z.number().int().min(1).max(500).default(20) })) },
    responses: {
      200: json(
        z.object({ rendered: z.number(), remaining: z.number(), recordings: z.number(), sentences: z.number() }),
        'Progress',
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
    responses: { 200: json(TestJson, 'Opened'), ...errorResponses(401, 403, 404, 409) },
  }),
  close: createRoute({
    method: 'post',
    path: '/v1/listening/tests/{id}/close',
    tags,
    security,
    summary: 'Close the test; applies the promotion rule when the test promotes automatically',
    request: { params: TestId },
    responses: {
      200: json(TestJson.extend({ promotion: PromotionJson.nullable() }), 'Closed'),
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
    responses: { 200: json(z.record(z.string(), z.unknown()), 'Results'), ...errorResponses(401, 403, 404) },
  }),
  promote: createRoute({
    method: 'post',
    path: '/v1/listening/tests/{id}/promote',
    tags,
    security,
    summary: 'Promote the checkpoint the rule names; 409 PROMOTION_NOT_JUSTIFIED when it names none',
    request: { params: TestId },
    responses: { 201: json(PromotionJson, 'Promoted'), ...errorResponses(401, 403, 404, 409) },
  }),
  promotions: createRoute({
    method: 'get',
    path: '/v1/listening/promotions',
    tags,
    security,
    summary: 'A voice’s promotions and rollbacks, newest first',
    request: { query: z.object({ voice_id: z.uuid() }) },
    responses: {
      200: json(z.object({ data: z.array(PromotionJson) }), 'History'),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  rollback: createRoute({
    method: 'post',
    path: '/v1/listening/voices/{voice_id}/rollback',
    tags,
    security,
    summary: 'Undo the voice’s latest promotion (recorded too)',
    request: { params: z.object({ voice_id: z.uuid().openapi({ param: { name: 'voice_id', in: 'path' } }) }) },
    responses: { 201: json(PromotionJson, 'Rolled back'), ...errorResponses(400, 401, 403, 404, 409) },
  }),
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
  const view = async (t: ListeningTest) => testJson(t, await listConditions(db, t.id));
  // requireScope has set the key; its name is the actor the audit trail records.
  const actor = (c: { get: (key: never) => unknown }) => (c.get('apiKey' as never) as ApiKeyView).name;

  // Uploads, CSV and HTML are not JSON, so these stay outside the OpenAPI document's validators.
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

  app.get('/v1/listening/tests/:id/results.csv', async (c) => {
    const r = await computeResults(db, await getTest(db, await uuidParam(c.req.param('id'))));
    c.header('Content-Disposition', `attachment; filename="listening-${r.test.id}.csv"`);
    return c.body(c.req.query('table') === 'votes' ? votesCsv(r) : itemsCsv(r), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
    });
  });
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
