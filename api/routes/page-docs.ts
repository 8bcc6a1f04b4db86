/**
 * The OpenAPI description of the routes that are not JSON: the owner's pages (console.ts,
 * studio-pages.ts), the home page, the docs, the document itself and the metrics. Their
 * handlers read forms and render HTML themselves; app.ts registers these next to them.
 */
import type { RouteConfig } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import { exampleIds, exampleTokens } from '../examples.ts';
import { studioCss } from '../pages/layout.ts';
import { studioScript } from '../pages/studio-script.ts';
import { errorResponses, jsonResponse, mediaResponse } from '../validation.ts';

const security = [{ bearer: [] }];
const page = (description: string) => mediaResponse('text/html', description, '<!doctype html>…');
const redirect = (description: string, location: string) => ({
  description,
  headers: { Location: { schema: { type: 'string' as const }, example: location } },
});
const id = (example: string, description?: string) =>
  z.object({
    id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, example, ...(description ? { description } : {}) }),
  });
const form = <T extends z.ZodType>(schema: T, example: z.input<T>) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema, example } },
});
const ownerErrors = errorResponses(400, 401, 403, 404);

/** Owner pages: a session (sign-in) or the Bearer admin key; forms carry the session's CSRF token. */
const owner = (path: string, summary: string, params?: z.ZodObject): RouteConfig => ({
  method: 'get',
  path,
  tags: ['owner pages'],
  security,
  summary,
  ...(params ? { request: { params } } : {}),
  responses: {
    200: page('The page'),
    303: redirect('Not signed in: to the sign-in page', `/sign-in?next=${encodeURIComponent(path)}`),
    ...ownerErrors,
  },
});

/** A console form: answered with a redirect to the page that shows the outcome. */
const action = (path: string, summary: string, params: z.ZodObject, location: string): RouteConfig => ({
  method: 'post',
  path,
  tags: ['owner pages'],
  security,
  summary,
  request: { params },
  responses: { 303: redirect('Back to the page, with a notice or an error code', location), ...ownerErrors },
});

const testPage = `/console/tests/${exampleIds.test}`;
const voicePage = `/console/voices/${exampleIds.voice}`;

export const consoleDocs: RouteConfig[] = [
  {
    method: 'get',
    path: '/assets/studio.css',
    tags: ['owner pages'],
    summary: "The owner pages' style sheet",
    responses: { 200: mediaResponse('text/css', 'CSS', `${studioCss.trim().slice(0, 30)}…`) },
  },
  {
    method: 'get',
    path: '/sign-in',
    tags: ['owner pages'],
    summary: 'The sign-in form (an admin key; a session cookie from then on)',
    request: { query: z.object({ next: z.string().optional().openapi({ example: '/console' }) }) },
    responses: { 200: page('The form'), 303: redirect('Already signed in', '/console') },
  },
  {
    method: 'post',
    path: '/sign-in',
    tags: ['owner pages'],
    summary: 'Sign in with an admin key: a new session cookie, then on to `next`',
    request: {
      body: form(z.object({ key: z.string(), _csrf: z.string(), next: z.string().optional() }), {
        key: exampleTokens.adminKey,
        _csrf: exampleTokens.signIn,
        next: '/console',
      }),
    },
    responses: {
      303: redirect('Signed in', '/console'),
      401: mediaResponse('text/html', 'The key is unknown or revoked: the form again'),
      403: mediaResponse('text/html', 'Not an admin key: the form again'),
    },
  },
  {
    method: 'post',
    path: '/sign-out',
    tags: ['owner pages'],
    summary: 'End the session',
    request: { body: form(z.object({ _csrf: z.string().optional() }), {}) },
    responses: { 303: redirect('Signed out', '/sign-in'), ...errorResponses(403) },
  },
  owner('/console', 'The console: voices, datasets, training runs and listening tests'),
  owner('/console/tests', 'Listening tests'),
  owner(
    '/console/tests/{id}',
    'A listening test: invitation (link and QR code), progress, decision',
    id(exampleIds.test),
  ),
  action('/console/tests/{id}/open', 'Open the test to raters', id(exampleIds.test), `${testPage}?notice=opened`),
  action('/console/tests/{id}/close', 'Close the test', id(exampleIds.test), `${testPage}?notice=closed`),
  {
    ...owner('/console/tests/{id}/progress', 'The progress fragment the test page reloads', id(exampleIds.test)),
    responses: { 200: mediaResponse('text/html', 'An HTML fragment', '<'), ...ownerErrors },
  },
  action(
    '/console/tests/{id}/promote',
    'Promote the checkpoint the rule names',
    id(exampleIds.test),
    `${testPage}?error=PROMOTION_NOT_JUSTIFIED`,
  ),
  {
    ...action(
      '/console/voices/{id}/rollback',
      'Undo the voice’s latest promotion',
      id(exampleIds.voice),
      `${voicePage}?notice=rolled-back`,
    ),
    request: {
      params: id(exampleIds.voice),
      body: form(z.object({ back: z.string().optional().openapi({ description: 'The page to return to' }) }), {
        back: voicePage,
      }),
    },
  },
  {
    ...action(
      '/console/training-runs/{id}/listening-test',
      'Create the listening test of an ended run in one step (as the job worker does when a run succeeds)',
      id(exampleIds.run),
      // Created, it goes to the new test's page (`?notice=created`); refused, back to the run's.
      `/training-runs/${exampleIds.run}?error=RUN_NOT_FINISHED`,
    ),
    request: {
      params: id(exampleIds.run),
      body: form(
        z.object({
          voice_id: z.uuid().optional().openapi({ description: 'The voice the test is for, when the run is for none' }),
        }),
        {},
      ),
    },
  },
  owner('/console/keys', 'API keys'),
  {
    method: 'post',
    path: '/console/keys',
    tags: ['owner pages'],
    security,
    summary: 'Create an API key; the page shows its token once',
    request: {
      body: form(z.object({ name: z.string(), scope: z.enum(['admin', 'synth']) }), { name: 'phone', scope: 'synth' }),
    },
    responses: { 201: page('The keys, with the new token'), ...ownerErrors },
  },
  action('/console/keys/{id}/revoke', 'Revoke an API key', id(exampleIds.key), '/console/keys'),
  owner('/console/datasets', 'Datasets and training runs'),
  owner('/console/voices', 'Voices'),
  owner('/console/voices/{id}', 'A voice: clips, checkpoint, promotions, tests', id(exampleIds.voice)),
];

export const studioPageDocs: RouteConfig[] = [
  {
    method: 'get',
    path: '/assets/studio.js',
    tags: ['owner pages'],
    summary: "The owner pages' script",
    responses: { 200: mediaResponse('text/javascript', 'JavaScript', `${studioScript.trim().slice(0, 30)}…`) },
  },
  owner('/datasets/{id}', 'A dataset: its clips to listen to, correct and exclude', id(exampleIds.dataset)),
  owner('/training-runs/{id}', 'A training run: progress, loss curves, checkpoints', id(exampleIds.run)),
  {
    ...owner(
      '/training-runs/{id}/test',
      "The run's listening test alone, for the run page to show once the worker has created it",
      id(exampleIds.run),
    ),
    responses: { 200: mediaResponse('text/html', 'An HTML fragment', '<p>'), ...ownerErrors },
  },
  {
    ...owner('/training-runs/{id}/curves', 'The loss curves alone, for the run page to redraw', id(exampleIds.run)),
    responses: { 200: mediaResponse('text/html', 'An HTML fragment (SVG)', '<'), ...ownerErrors },
  },
];

export const appDocs: RouteConfig[] = [
  {
    method: 'get',
    path: '/',
    tags: ['pages'],
    summary: 'Type and hear it spoken, streamed as it is made',
    responses: { 200: page('The page') },
  },
  {
    method: 'get',
    path: '/docs',
    tags: ['pages'],
    summary: 'This document as a page',
    responses: { 200: page('The page') },
  },
  {
    method: 'get',
    path: '/openapi.json',
    tags: ['pages'],
    summary: 'This document (OpenAPI 3.1)',
    responses: {
      200: jsonResponse(z.record(z.string(), z.unknown()), 'The document', {
        openapi: '3.1.0',
        info: { title: 'XTTS voice studio', version: '0.1.0' },
        paths: {},
      }),
    },
  },
  {
    method: 'get',
    path: '/metrics',
    tags: ['pages'],
    summary: 'Prometheus metrics: HTTP, synthesis (first audio, real-time factor) and the engine',
    responses: { 200: mediaResponse('text/plain', 'Prometheus text format', '# HELP …') },
  },
];
