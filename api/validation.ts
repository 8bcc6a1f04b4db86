import type { Hook } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import type { Env } from 'hono';
import { ApiError } from './errors.ts';

type Issue = z.core.$ZodIssue;

/** `body.name`, `query.limit`, `body.items.2.text`; unknown keys name the first of them. */
function fieldOf(target: string, issue: Issue): string {
  const path = [...issue.path];
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  const where = target === 'json' || target === 'form' ? 'body' : target === 'param' ? 'path' : target;
  return [where, ...path.map(String)].join('.');
}

/**
 * The hook every route's validator calls: a failed validation becomes a 400 naming the
 * first field at fault, with every issue in `details`.
 */
export const validationHook: Hook<unknown, Env, string, unknown> = (result, _c) => {
  if (result.success) return;
  const issues = result.error.issues;
  const first = issues[0];
  const field = first ? fieldOf(result.target, first) : result.target;
  const message = first
    ? `${field}: ${first.code === 'unrecognized_keys' ? 'unknown field' : first.message}`
    : `${field}: invalid`;
  throw new ApiError('VALIDATION_FAILED', message, {
    field,
    details: issues.map((i) => ({ field: fieldOf(result.target, i), message: i.message, code: i.code })),
  });
};

/** A required JSON body: without `required`, a request with another media type would skip validation. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return {
    required: true,
    ...(description ? { description } : {}),
    content: { 'application/json': { schema } },
  } as const;
}

export const ErrorSchema = z
  .object({
    code: z.string().openapi({ example: 'VALIDATION_FAILED' }),
    message: z.string(),
    requestId: z.string(),
    field: z.string().optional(),
    details: z.unknown().optional(),
  })
  .openapi('Error');

export function errorResponses(...statuses: number[]) {
  const out: Record<number, { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }> =
    {};
  for (const s of statuses) {
    out[s] = { description: `Error (${s})`, content: { 'application/json': { schema: ErrorSchema } } };
  }
  return out;
}

/** A sampler seed: the same (checkpoint, text, voice, seed) renders the same audio. */
export const Seed = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1)
  .openapi({ description: 'Seed of the sampler: the same seed renders the same audio again' });

/** The promotion rule's evidence thresholds as the API takes them (snake_case), each optional. */
export const PromotionPolicyInput = z
  .strictObject({
    min_total_votes: z.number().int().min(1).optional(),
    min_votes_per_item: z.number().int().min(1).optional(),
    min_head_to_head: z.number().int().min(1).optional(),
    alpha: z.number().gt(0).lt(1).optional(),
  })
  .openapi('PromotionPolicyInput');

/** Those thresholds in the listening module's terms; what is left out keeps the rule's default. */
export function promotionPolicyOf(p: z.infer<typeof PromotionPolicyInput> | undefined) {
  if (!p) return undefined;
  return {
    ...(p.min_total_votes ? { minTotalVotes: p.min_total_votes } : {}),
    ...(p.min_votes_per_item ? { minVotesPerItem: p.min_votes_per_item } : {}),
    ...(p.min_head_to_head ? { minHeadToHead: p.min_head_to_head } : {}),
    ...(p.alpha ? { alpha: p.alpha } : {}),
  };
}
