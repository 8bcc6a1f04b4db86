/**
 * Redeeming the completion codes crowd workers hand in (admin key): a code counts once, and,
 * given the worker id the platform reports, only for that worker.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Db } from '../../../db/index.ts';
import { redeemCompletionCode } from '../../../listening/index.ts';
import { exampleIds, exampleLaterTime, exampleTime, exampleTokens } from '../../examples.ts';
import { requireScope } from '../../middleware/auth.ts';
import { errorResponses, jsonBody, jsonResponse, validationHook } from '../../validation.ts';

const Redeemed = z
  .object({
    rater_id: z.uuid(),
    worker_id: z.string().nullable(),
    completed_at: z.iso.datetime(),
    redeemed_at: z.iso.datetime(),
  })
  .openapi('RedeemedCompletionCode');

const redeem = createRoute({
  method: 'post',
  path: '/v1/listening/tests/{id}/completion-codes/redeem',
  tags: ['listening tests'],
  security: [{ bearer: [] }],
  summary:
    'Check a completion code a crowd worker handed in: valid once (409 COMPLETION_CODE_USED after), and with worker_id only for that worker (404 COMPLETION_CODE_UNKNOWN otherwise)',
  request: {
    params: z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, example: exampleIds.test }) }),
    body: jsonBody(
      z.strictObject({
        code: z.string().min(1).max(64),
        worker_id: z.string().min(1).max(128).optional(),
      }),
      { code: exampleTokens.completion, worker_id: 'W-1001' },
    ),
  },
  responses: {
    200: jsonResponse(Redeemed, 'Redeemed now', {
      rater_id: exampleIds.rater,
      worker_id: 'W-1001',
      completed_at: exampleTime,
      redeemed_at: exampleLaterTime,
    }),
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

export function completionCodeRoutes(deps: { db: Db; localSecret?: string | undefined }) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.use('/v1/listening/tests/:id/completion-codes/*', requireScope({ ...deps, scope: 'admin' }));
  return app.openapi(redeem, async (c) => {
    const { code, worker_id } = c.req.valid('json');
    const rater = await redeemCompletionCode(deps.db, c.req.valid('param').id, code, worker_id);
    return c.json(
      {
        rater_id: rater.id,
        worker_id: rater.workerId,
        completed_at: (rater.completedAt ?? new Date()).toISOString(),
        redeemed_at: (rater.completionRedeemedAt ?? new Date()).toISOString(),
      },
      200,
    );
  });
}
