import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { apiKeyScopes, createApiKey, type Db, listApiKeys, revokeApiKey } from '../../db/index.ts';
import { ApiError } from '../errors.ts';
import { exampleIds, exampleTime, exampleTokens } from '../examples.ts';
import { requireScope } from '../middleware/auth.ts';
import { errorResponses, jsonBody, jsonResponse, validationHook } from '../validation.ts';

const ApiKey = z
  .object({
    id: z.uuid(),
    name: z.string(),
    scope: z.enum(apiKeyScopes),
    prefix: z.string().openapi({ description: 'The first characters of the token, to recognise it' }),
    created_at: z.iso.datetime(),
    last_used_at: z.iso.datetime().nullable(),
    revoked_at: z.iso.datetime().nullable(),
  })
  .openapi('ApiKey');

const CreateApiKey = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    scope: z.enum(apiKeyScopes),
  })
  .openapi('CreateApiKey');

const KeyId = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, example: exampleIds.key }) });

const exampleKey = {
  id: exampleIds.key,
  name: 'studio laptop',
  scope: 'synth' as const,
  prefix: exampleTokens.apiKey.slice(0, 8),
  created_at: exampleTime,
  last_used_at: null,
  revoked_at: null,
};

const security = [{ bearer: [] }];

const list = createRoute({
  method: 'get',
  path: '/v1/keys',
  tags: ['keys'],
  summary: 'List API keys (never their tokens)',
  security,
  responses: {
    200: jsonResponse(z.object({ data: z.array(ApiKey) }), 'Keys', { data: [exampleKey] }),
    ...errorResponses(401, 403),
  },
});

const create = createRoute({
  method: 'post',
  path: '/v1/keys',
  tags: ['keys'],
  summary: 'Create an API key; its token is shown in this response only',
  security,
  request: { body: jsonBody(CreateApiKey, { name: 'studio laptop', scope: 'synth' }) },
  responses: {
    201: jsonResponse(z.object({ key: ApiKey, token: z.string() }), 'Created', {
      key: exampleKey,
      token: exampleTokens.apiKey,
    }),
    ...errorResponses(400, 401, 403, 413, 415),
  },
});

const revoke = createRoute({
  method: 'delete',
  path: '/v1/keys/{id}',
  tags: ['keys'],
  summary: 'Revoke an API key; requests with it get 401 from then on',
  security,
  request: { params: KeyId },
  responses: {
    200: jsonResponse(ApiKey, 'Revoked', { ...exampleKey, revoked_at: exampleTime }),
    ...errorResponses(400, 401, 403, 404),
  },
});

type KeyRow = Awaited<ReturnType<typeof listApiKeys>>[number];
const toJson = (k: KeyRow) => ({
  id: k.id,
  name: k.name,
  scope: k.scope,
  prefix: k.prefix,
  created_at: k.createdAt.toISOString(),
  last_used_at: k.lastUsedAt?.toISOString() ?? null,
  revoked_at: k.revokedAt?.toISOString() ?? null,
});

export function keyRoutes(deps: { db: Db; localSecret?: string | undefined }) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.use('/v1/keys', requireScope({ db: deps.db, scope: 'admin', localSecret: deps.localSecret }));
  app.use('/v1/keys/*', requireScope({ db: deps.db, scope: 'admin', localSecret: deps.localSecret }));
  return app
    .openapi(list, async (c) => c.json({ data: (await listApiKeys(deps.db)).map(toJson) }, 200))
    .openapi(create, async (c) => {
      const { key, token } = await createApiKey(deps.db, c.req.valid('json'));
      return c.json({ key: toJson(key), token }, 201);
    })
    .openapi(revoke, async (c) => {
      const key = await revokeApiKey(deps.db, c.req.valid('param').id);
      if (!key) throw new ApiError('NOT_FOUND', 'No API key with that id', { field: 'path.id' });
      return c.json(toJson(key), 200);
    });
}
