import type { Hook } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import type { Env } from 'hono';
import { ApiError, type ErrorCode, errorStatus } from './errors.ts';

type Issue = z.core.$ZodIssue;

/** `body.name`, `query.limit`, `body.items.2.text`; unknown keys name the first of them. */
function fieldOf(target: string, issue: Issue): string {
  const path = [...issue.path];
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  const where = target === 'json' || target === 'form' ? 'body' : target === 'param' ? 'path' : target;
  return [where, ...path.map(String)].join('.');
}

/** Request fields that carry text to synthesise (limits.text.maxChars). */
const SPOKEN_TEXT = new Set(['text', 'input']);

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
  // Text to speak over the limit is TEXT_TOO_LONG here as in the engine: one limit, one code.
  const tooLong = first?.code === 'too_big' && first.origin === 'string' && SPOKEN_TEXT.has(String(first.path.at(-1)));
  throw new ApiError(tooLong ? 'TEXT_TOO_LONG' : 'VALIDATION_FAILED', message, {
    field,
    details: issues.map((i) => ({ field: fieldOf(result.target, i), message: i.message, code: i.code })),
  });
};

/**
 * A required JSON body: without `required`, a request with another media type would skip
 * validation. `example` is what the document shows and what its test sends.
 */
export function jsonBody<T extends z.ZodType>(schema: T, example?: z.input<T>, description?: string) {
  return {
    required: true,
    ...(description ? { description } : {}),
    content: { 'application/json': { schema, ...(example !== undefined ? { example } : {}) } },
  } as const;
}

/** A JSON response, with the example the document shows for it. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string, example?: z.output<T>) {
  return {
    description,
    content: { 'application/json': { schema, ...(example !== undefined ? { example } : {}) } },
  };
}

/** A response of another media type (audio, HTML, CSV, an event stream), with its example. */
export function mediaResponse(type: string, description: string, example?: string) {
  const schema = z.string().openapi(type.startsWith('text/') ? {} : { format: 'binary' });
  return { description, content: { [type]: { schema, ...(example !== undefined ? { example } : {}) } } };
}

const errorCodes = Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]];
const exampleRequestId = '5b1c0a52-96d3-4f3e-9e43-0d5a7c2f1e88';

/** The one error shape every route answers with. */
export const ErrorSchema = z
  .object({
    code: z.enum(errorCodes).openapi({
      description: 'Stable: clients may switch on it. Each code has one HTTP status (listed on each response).',
    }),
    message: z.string().openapi({ description: 'What is wrong, starting with the field at fault when there is one' }),
    request_id: z.string().openapi({ description: 'The X-Request-Id of the request, for the logs' }),
    field: z.string().optional().openapi({
      description: 'The request field at fault as a dotted path: body.scope, query.limit, path.id, header.content-type',
    }),
    details: z.unknown().optional().openapi({ description: 'Every validation issue, or the numbers behind a refusal' }),
  })
  .openapi('Error', {
    example: {
      code: 'VALIDATION_FAILED',
      message: 'body.scope: Invalid option: expected one of "admin"|"synth"',
      request_id: exampleRequestId,
      field: 'body.scope',
      details: [
        { field: 'body.scope', message: 'Invalid option: expected one of "admin"|"synth"', code: 'invalid_value' },
      ],
    },
  });

/** The codes an error response of this status can carry. */
export const codesOf = (status: number) => errorCodes.filter((c) => errorStatus[c] === status);

type ErrorResponse = {
  description: string;
  content: { 'application/json': { schema: typeof ErrorSchema; example?: z.output<typeof ErrorSchema> } };
};

/** Error responses, each listing the stable codes its status carries. */
export function errorResponses(...statuses: number[]) {
  const out: Record<number, ErrorResponse> = {};
  for (const s of statuses) {
    out[s] = {
      description: `Error: ${codesOf(s).join(', ')}`,
      content: { 'application/json': { schema: ErrorSchema } },
    };
  }
  return out;
}

/** An error response with an example: the answer the operation's example request gets. */
export function errorExample(
  status: number,
  example: { code: ErrorCode; message: string; field?: string; details?: unknown },
): Record<number, ErrorResponse> {
  return {
    [status]: {
      description: `Error: ${codesOf(status).join(', ')}`,
      content: { 'application/json': { schema: ErrorSchema, example: { request_id: exampleRequestId, ...example } } },
    },
  };
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
    alpha: z.number().gt(0).lt(0.5).optional().openapi({
      description: 'False-promotion rate on naturalness, over all candidates and all looks (default 0.01)',
    }),
    similarity_margin: z.number().min(0).lt(1).optional().openapi({
      description:
        'Non-inferiority margin on the similarity A/B net preference, −1…1 (default 0.2: preferred 40 % of the time)',
    }),
    similarity_rating_margin: z.number().min(0).max(4).optional().openapi({
      description: 'The same margin for similarity ratings, in scale points (default 0.25)',
    }),
    similarity_alpha: z.number().gt(0).lt(0.5).optional().openapi({
      description: 'Chance of passing a candidate less similar than the margin (default 0.05)',
    }),
    futility_effect: z.number().gt(0).lt(1).optional().openapi({
      description: 'Smallest naturalness gain (net preference) worth a promotion (default 0.2)',
    }),
    futility_alpha: z.number().gt(0).lt(0.5).optional().openapi({
      description: 'Chance of dropping a candidate whose gain is at least futility_effect (default 0.05)',
    }),
    min_raters: z.number().int().min(1).max(1000).optional().openapi({
      description: 'Raters with votes on a pair before it can decide anything (default 8)',
    }),
  })
  .openapi('PromotionPolicyInput');

/** Those thresholds in the listening module's terms; what is left out keeps the rule's default. */
export function promotionPolicyOf(p: z.infer<typeof PromotionPolicyInput> | undefined) {
  if (!p) return undefined;
  const names = {
    alpha: 'alpha',
    similarity_margin: 'similarityMargin',
    similarity_rating_margin: 'similarityRatingMargin',
    similarity_alpha: 'similarityAlpha',
    futility_effect: 'futilityEffect',
    futility_alpha: 'futilityAlpha',
    min_raters: 'minRaters',
  } as const;
  const out: Partial<Record<(typeof names)[keyof typeof names], number>> = {};
  for (const [key, name] of Object.entries(names) as [keyof typeof names, (typeof names)[keyof typeof names]][]) {
    const v = p[key];
    if (v !== undefined) out[name] = v;
  }
  return out;
}
