/**
 * The OpenAPI description of the crowd's routes under /listen (handlers in crowd.ts, which
 * reads bodies itself: pages post forms, scripts post JSON). No API key: the invitation code,
 * then the rater's session token in the path, are the capability.
 */
import type { RouteConfig } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import { CROWD_ASSETS } from '../../../listening/index.ts';
import { exampleIds, exampleTokens } from '../../examples.ts';
import { errorResponses, jsonResponse, mediaResponse } from '../../validation.ts';

const tags = ['listening (crowd)'];
const page = (description: string) => mediaResponse('text/html', description, '<!doctype html>…');
const redirect = (description: string, location: string) => ({
  description,
  headers: { Location: { schema: { type: 'string' as const }, example: location } },
});
const session = `/listen/s/${exampleTokens.rater}`;

const Code = z.object({
  code: z.string().openapi({ param: { name: 'code', in: 'path' }, example: exampleTokens.invite }),
});
const Token = z.object({
  token: z.string().openapi({ param: { name: 'token', in: 'path' }, example: exampleTokens.rater }),
});
const TrialId = z.uuid().openapi({ param: { name: 'trial_id', in: 'path' }, example: exampleIds.trial });

const [assetPath, asset] = Object.entries(CROWD_ASSETS)[0] ?? ['', { type: 'text/css', body: '' }];
const assetType = asset.type.split(';')[0] as string;

const State = z
  .object({
    step: z.enum(['headphones', 'screened-out', 'trial', 'done']),
    trial: z
      .object({
        trial_id: z.uuid(),
        task: z.string(),
        slots: z.array(z.string()),
        audio: z.record(z.string(), z.string()),
        position: z.number().int(),
        total: z.number().int(),
      })
      .optional(),
    completion_code: z.string().nullable().optional(),
    answered: z.number().int().optional(),
    total: z.number().int().optional(),
  })
  .openapi('RaterSessionState');

const Consent = z
  .object({
    consent: z.union([z.literal(true), z.literal('yes')]),
    worker_id: z.string().max(128).optional().openapi({ description: "The crowd platform's worker id" }),
  })
  .openapi('Consent');

export const crowdDocs: RouteConfig[] = [
  {
    method: 'get',
    path: '/listen/assets/{file}',
    tags,
    summary: "The crowd pages' script and style, named by their content (cached for a year)",
    request: {
      params: z.object({
        file: z.string().openapi({ param: { name: 'file', in: 'path' }, example: assetPath.split('/').at(-1) }),
      }),
    },
    responses: {
      200: mediaResponse(assetType, 'The file', `${asset.body.slice(0, 20)}…`),
      ...errorResponses(404),
    },
  },
  {
    method: 'get',
    path: '/listen/i/{code}',
    tags,
    summary: 'The invitation: what the test asks and the consent form',
    request: {
      params: Code,
      query: z.object({ worker_id: z.string().optional().openapi({ example: 'W-1001' }) }),
    },
    responses: { 200: page('The instructions and consent form'), ...errorResponses(404, 409, 429) },
  },
  {
    method: 'post',
    path: '/listen/i/{code}',
    tags,
    summary: 'Consent and start (or resume) a session; a form is answered with a redirect to it',
    request: {
      params: Code,
      body: {
        required: true,
        content: {
          'application/json': { schema: Consent, example: { consent: true, worker_id: 'W-1001' } },
          'application/x-www-form-urlencoded': { schema: Consent },
        },
      },
    },
    responses: {
      201: jsonResponse(
        z.object({ token: z.string(), session_url: z.string(), resumed: z.boolean() }),
        'The session (JSON clients)',
        { token: exampleTokens.rater, session_url: session, resumed: false },
      ),
      303: redirect('The session page (forms and pages)', session),
      ...errorResponses(400, 404, 409, 429),
    },
  },
  {
    method: 'get',
    path: '/listen/s/{token}',
    tags,
    summary: 'Where the rater is: the headphone check, a trial, or done (a page with Accept: text/html)',
    request: { params: Token },
    responses: {
      200: {
        description: 'The state, or its page',
        content: {
          'application/json': {
            schema: State,
            example: {
              step: 'trial',
              trial: {
                trial_id: exampleIds.trial,
                task: 'ab_naturalness',
                slots: ['a', 'b'],
                audio: { a: `/listen/audio/${exampleIds.trial}/a`, b: `/listen/audio/${exampleIds.trial}/b` },
                position: 1,
                total: 1,
              },
            },
          },
          'text/html': { schema: z.string() },
        },
      },
      ...errorResponses(401, 409, 429),
    },
  },
  {
    method: 'get',
    path: '/listen/s/{token}/headphones/{file}',
    tags,
    summary: 'One question of the headphone check: three stereo tones, one of them quieter over headphones',
    request: {
      params: Token.extend({
        file: z.string().openapi({ param: { name: 'file', in: 'path' }, example: '0.wav' }),
      }),
    },
    responses: {
      200: mediaResponse('audio/wav', 'The tones', 'RIFF…WAVEfmt … (stereo)'),
      ...errorResponses(401, 404, 429),
    },
  },
  {
    method: 'post',
    path: '/listen/s/{token}/headphones',
    tags,
    summary: 'Answers to the headphone check (the quiet tone of each question); a form is redirected back',
    request: {
      params: Token,
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.object({ answers: z.array(z.number().int().min(0).max(2)) }),
            example: { answers: [2, 0, 1] },
          },
          'application/x-www-form-urlencoded': {
            schema: z.object({ q0: z.string(), q1: z.string(), q2: z.string() }),
          },
        },
      },
    },
    responses: {
      200: jsonResponse(z.object({ passed: z.boolean() }), 'Checked', { passed: false }),
      303: redirect('Back to the session page (forms)', session),
      ...errorResponses(400, 401, 409, 429),
    },
  },
  {
    method: 'post',
    path: '/listen/s/{token}/trials/{trial_id}/vote',
    tags,
    summary: 'A vote on a trial: once per trial (the same vote again is 200 with duplicate true)',
    request: {
      params: Token.extend({ trial_id: TrialId }),
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.object({
              answer: z.string().max(8).openapi({ description: 'a or b (A/B trials), or a score 1–5' }),
              played_ms: z.number().int().min(0).max(3_600_000).optional(),
              page_ms: z.number().int().min(0).optional(),
            }),
            example: { answer: 'a', played_ms: 5200 },
          },
        },
      },
    },
    responses: {
      201: jsonResponse(
        z.object({ vote_id: z.uuid(), trial_id: z.uuid(), answer: z.string(), duplicate: z.boolean() }),
        'Recorded',
        { vote_id: exampleIds.vote, trial_id: exampleIds.trial, answer: 'a', duplicate: false },
      ),
      200: jsonResponse(
        z.object({ vote_id: z.uuid(), trial_id: z.uuid(), answer: z.string(), duplicate: z.boolean() }),
        'Already recorded',
      ),
      ...errorResponses(400, 401, 404, 409, 429, 503),
    },
  },
  {
    method: 'post',
    path: '/listen/s/{token}/complete',
    tags,
    summary: 'Finish the session: every trial answered; gives the completion code to hand in',
    request: { params: Token },
    responses: {
      200: jsonResponse(z.object({ completion_code: z.string() }), 'Completed', {
        completion_code: exampleTokens.completion,
      }),
      303: redirect('Back to the session page (forms)', session),
      ...errorResponses(401, 409, 429),
    },
  },
  {
    method: 'get',
    path: '/listen/audio/{trial_id}/{slot}',
    tags,
    summary: "A trial's clip (every slot has the same headers, so nothing but the sound tells them apart)",
    request: {
      params: z.object({
        trial_id: TrialId,
        slot: z.string().openapi({ param: { name: 'slot', in: 'path' }, example: 'a', description: 'a, b or ref' }),
      }),
    },
    responses: {
      200: mediaResponse('audio/wav', 'The clip', 'RIFF…WAVEfmt … (24 kHz mono PCM16)'),
      ...errorResponses(404, 429),
    },
  },
];
