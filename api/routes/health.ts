import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { type Db, readiness } from '../../db/index.ts';
import { jsonResponse } from '../validation.ts';

const Readiness = z
  .object({
    ok: z.boolean(),
    database: z.enum(['up', 'down']),
    migrations: z.object({ applied: z.number().int(), expected: z.number().int() }),
  })
  .openapi('Readiness');

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['health'],
  summary: 'Liveness: the process answers',
  responses: {
    200: jsonResponse(z.object({ ok: z.literal(true) }), 'Alive', { ok: true }),
  },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  tags: ['health'],
  summary: 'Readiness: the database answers and every migration is applied',
  responses: {
    200: jsonResponse(Readiness, 'Ready', { ok: true, database: 'up', migrations: { applied: 12, expected: 12 } }),
    503: { description: 'Not ready', content: { 'application/json': { schema: Readiness } } },
  },
});

export function healthRoutes(deps: { db: Db }) {
  return new OpenAPIHono()
    .openapi(healthz, (c) => c.json({ ok: true as const }, 200))
    .openapi(readyz, async (c) => {
      const r = await readiness(deps.db);
      return r.ok ? c.json(r, 200) : c.json(r, 503);
    });
}
