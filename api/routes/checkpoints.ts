import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { type Checkpoint, type Db, getCheckpoint, listCheckpoints } from '../../db/index.ts';
import { packagePathIn, registerPackage } from '../../voices/index.ts';
import { ApiError } from '../errors.ts';
import { exampleIds, exampleTime } from '../examples.ts';
import { requireScope } from '../middleware/auth.ts';
import { errorResponses, jsonBody, jsonResponse, validationHook } from '../validation.ts';

const CheckpointJson = z
  .object({
    id: z.uuid(),
    name: z.string(),
    kind: z.enum(['base', 'fine-tuned']),
    run_id: z.uuid().nullable(),
    step: z.number().int().nullable(),
    train_loss: z.number().nullable(),
    eval_loss: z.number().nullable(),
    package_path: z.string().nullable(),
    package_key: z.string().nullable(),
    status: z.enum(['exporting', 'ready', 'failed']),
    created_at: z.iso.datetime(),
  })
  .openapi('Checkpoint');

const RegisterCheckpoint = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    package_path: z.string().min(1).max(1000).openapi({ description: 'A model package folder, relative to MODEL_DIR' }),
    run_id: z.uuid().optional(),
    step: z.number().int().min(0).optional(),
    train_loss: z.number().optional(),
    eval_loss: z.number().optional(),
  })
  .openapi('RegisterCheckpoint');

const Id = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, example: exampleIds.baseCheckpoint }),
});

export const exampleCheckpoint = {
  id: exampleIds.baseCheckpoint,
  name: 'XTTS-v2 base',
  kind: 'base' as const,
  run_id: null,
  step: null,
  train_loss: null,
  eval_loss: null,
  package_path: '/data/models/xtts-v2',
  package_key: '9c4d2e7f0a1b3c5d6e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d',
  status: 'ready' as const,
  created_at: exampleTime,
};
const security = [{ bearer: [] }];

export const checkpointJson = (k: Checkpoint) => ({
  id: k.id,
  name: k.name,
  kind: k.kind,
  run_id: k.runId,
  step: k.step,
  train_loss: k.trainLoss,
  eval_loss: k.evalLoss,
  package_path: k.packagePath,
  package_key: k.packageKey,
  status: k.status,
  created_at: k.createdAt.toISOString(),
});

const list = createRoute({
  method: 'get',
  path: '/v1/checkpoints',
  tags: ['checkpoints'],
  summary: 'Checkpoints: base models and every exported step of training runs',
  security,
  request: { query: z.object({ run_id: z.uuid().optional() }) },
  responses: {
    200: jsonResponse(z.object({ data: z.array(CheckpointJson) }), 'Checkpoints', { data: [exampleCheckpoint] }),
    ...errorResponses(400, 401, 403),
  },
});
const get = createRoute({
  method: 'get',
  path: '/v1/checkpoints/{id}',
  tags: ['checkpoints'],
  summary: 'One checkpoint',
  security,
  request: { params: Id },
  responses: {
    200: jsonResponse(CheckpointJson, 'The checkpoint', exampleCheckpoint),
    ...errorResponses(400, 401, 403, 404),
  },
});
const register = createRoute({
  method: 'post',
  path: '/v1/checkpoints',
  tags: ['checkpoints'],
  summary: 'Register a model package (made by `npm run model:import` or a training run) as a checkpoint',
  security,
  request: { body: jsonBody(RegisterCheckpoint, { name: 'XTTS-v2 base (copy)', package_path: 'xtts-v2-copy' }) },
  responses: {
    201: jsonResponse(CheckpointJson, 'Registered', {
      ...exampleCheckpoint,
      id: exampleIds.checkpoint,
      name: 'XTTS-v2 base (copy)',
      package_path: '/data/models/xtts-v2-copy',
    }),
    200: jsonResponse(CheckpointJson, 'Already registered'),
    ...errorResponses(400, 401, 403, 404, 415, 422),
  },
});

export function checkpointRoutes(deps: { db: Db; modelDir: string; localSecret?: string | undefined }) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const admin = requireScope({ db: deps.db, scope: 'admin', localSecret: deps.localSecret });
  app.use('/v1/checkpoints', admin);
  app.use('/v1/checkpoints/*', admin);
  return app
    .openapi(list, async (c) => {
      const runId = c.req.valid('query').run_id;
      return c.json({ data: (await listCheckpoints(deps.db, runId ? { runId } : {})).map(checkpointJson) }, 200);
    })
    .openapi(get, async (c) => {
      const k = await getCheckpoint(deps.db, c.req.valid('param').id);
      if (!k) throw new ApiError('CHECKPOINT_NOT_FOUND', 'No checkpoint with that id', { field: 'path.id' });
      return c.json(checkpointJson(k), 200);
    })
    .openapi(register, async (c) => {
      const b = c.req.valid('json');
      const dir = packagePathIn(deps.modelDir, b.package_path);
      const { checkpoint, created } = await registerPackage(deps.db, dir, {
        name: b.name,
        runId: b.run_id ?? null,
        step: b.step ?? null,
        trainLoss: b.train_loss ?? null,
        evalLoss: b.eval_loss ?? null,
      });
      return c.json(checkpointJson(checkpoint), created ? 201 : 200);
    });
}
