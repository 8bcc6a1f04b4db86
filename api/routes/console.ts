import { Hono, type MiddlewareHandler } from 'hono';
import { html } from 'hono/html';
import QRCode from 'qrcode';
import { z } from 'zod';
import {
  type ApiKeyView,
  apiKeyScopes,
  countRaters,
  countVotes,
  createApiKey,
  createOwnerSession,
  type Db,
  deleteOwnerSession,
  findActiveKey,
  getListeningTest,
  getRun,
  getVoice,
  listApiKeys,
  listCheckpoints,
  listDatasets,
  listListeningTests,
  listPromotions,
  listRaters,
  listRuns,
  listVoiceClips,
  listVoices,
  revokeApiKey,
} from '../../db/index.ts';
import { autoPromote, closeTest, configOf, openTest, promoteFromTest, rollbackVoice } from '../../listening/index.ts';
import { ApiError, toApiError } from '../errors.ts';
import { createRunListeningTest, type JobDeps } from '../jobs.ts';
import { requireScope } from '../middleware/auth.ts';
import {
  consoleHome,
  datasetsPage,
  keysPage,
  signInPage,
  type TestProgress,
  testPage,
  testProgress,
  testsPage,
  voicePage,
  voicesPage,
} from '../pages/console.ts';
import { type Frame, layout, studioCss } from '../pages/layout.ts';
import {
  checkFormToken,
  checkSignInToken,
  clearSessionCookie,
  formOrigin,
  isHttps,
  issueSignInToken,
  SESSION_TTL_MS,
  safeNext,
  sessionOf,
  sessionToken,
  setSessionCookie,
} from '../sessions.ts';

/**
 * Owner pages allow scripts and styles from this origin only, no inline script, and no framing.
 * Style attributes stay allowed: the server-drawn SVG plots size and colour themselves with them.
 */
export const OWNER_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; " +
  "media-src 'self' blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** The report runs no script at all; its style element is the only inline content it needs. */
export const REPORT_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; " +
  "frame-ancestors 'none'";

export const ownerHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  if (!(c.res.headers.get('content-type') ?? '').startsWith('text/html')) return;
  c.header('Content-Security-Policy', OWNER_CSP);
  c.header('Referrer-Policy', 'same-origin');
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('X-Robots-Tag', 'noindex');
  c.header('Cache-Control', 'no-store');
};

const safe = (method: string) => method === 'GET' || method === 'HEAD';
const wantsHtml = (accept: string | undefined) => (accept ?? '').includes('text/html');

const notices: Record<string, string> = {
  promoted: 'Promoted: the voice now speaks with the checkpoint the listeners chose.',
  'rolled-back': 'Rolled back: the voice speaks with its previous checkpoint again.',
  opened: 'Open: listeners with the invitation link can take part.',
  closed: 'Closed: no more votes are taken.',
  created:
    'Created from the run: its stimuli are rendered and screened now; it opens to listeners once they are ready (reload to see).',
};

/** How long creating a run's test may take before the owner is sent back to the run's page (ms). */
const CREATE_WAIT_MS = 30_000;

/**
 * The owner's console: sign-in with an admin key (a session cookie from then on), sign-out,
 * and pages for voices, listening tests and keys. Every page also opens with a Bearer admin
 * key; signed in, every form carries the session's CSRF token and passes the Origin check.
 */
export function consoleRoutes(deps: {
  db: Db;
  localSecret?: string | undefined;
  /** What creating a run's listening test needs (the job worker's own path); without it the console cannot. */
  tests?: Omit<JobDeps, 'db'> | undefined;
}) {
  const { db } = deps;
  const app = new Hono();
  for (const path of ['/sign-in', '/console', '/console/*', '/datasets/*', '/training-runs/*']) {
    app.use(path, ownerHeaders);
  }
  // The listening report is one self-contained page with its own style element and no script.
  app.use('/v1/listening/tests/:id/report', async (c, next) => {
    await next();
    if (!(c.res.headers.get('content-type') ?? '').startsWith('text/html')) return;
    c.header('Content-Security-Policy', REPORT_CSP);
    c.header('Referrer-Policy', 'same-origin');
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Cache-Control', 'no-store');
  });
  app.onError((err, c) => {
    const e = toApiError(err);
    if (!wantsHtml(c.req.header('accept')) || e.code === 'INTERNAL') throw err;
    for (const [k, v] of Object.entries(e.headers)) c.header(k, v);
    return c.html(
      layout(
        'Sorry',
        html`<h1>Sorry</h1><p class="error" role="alert">${e.message}</p><p><a href="/console">Console</a></p>`,
      ),
      e.status,
    );
  });

  app.get('/assets/studio.css', (c) =>
    c.body(studioCss, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'no-cache' }),
  );

  app.get('/sign-in', async (c) => {
    const next = safeNext(c.req.query('next'));
    if (await sessionOf(c, db)) return c.redirect(next, 303);
    return c.html(signInPage({ next, token: issueSignInToken(c) }));
  });
  app.post('/sign-in', formOrigin, async (c) => {
    const body = await c.req.parseBody();
    checkSignInToken(c, body._csrf);
    const next = safeNext(body.next);
    const token = typeof body.key === 'string' ? body.key.trim() : '';
    const key = token ? await findActiveKey(db, token) : undefined;
    if (key?.scope !== 'admin') {
      const error = key ? 'That key may only speak: sign in with an admin key.' : 'That key is unknown or revoked.';
      return c.html(signInPage({ next, token: issueSignInToken(c), error }), key ? 403 : 401);
    }
    // A new id on every sign-in; whatever id the browser brought is ended, never adopted.
    const previous = sessionToken(c);
    if (previous) await deleteOwnerSession(db, previous);
    const session = await createOwnerSession(db, { keyId: key.id, ttlMs: SESSION_TTL_MS });
    setSessionCookie(c, session.token);
    return c.redirect(next, 303);
  });
  app.post('/sign-out', formOrigin, async (c) => {
    const session = await sessionOf(c, db);
    if (session) {
      checkFormToken((await c.req.parseBody())._csrf, session.csrfToken);
      await deleteOwnerSession(db, sessionToken(c) as string);
    }
    clearSessionCookie(c);
    return c.redirect('/sign-in', 303);
  });

  // A session (forms then need the Origin check and the token) or a Bearer admin key.
  const admin = requireScope({ db, scope: 'admin', localSecret: deps.localSecret });
  const owner: MiddlewareHandler = async (c, next) => {
    const authorization = c.req.header('authorization');
    if (authorization) {
      return admin(c, async () => {
        c.set('actor' as never, (c.get('apiKey' as never) as ApiKeyView).name as never);
        await next();
      });
    }
    const session = await sessionOf(c, db);
    if (!session) {
      if (safe(c.req.method) && wantsHtml(c.req.header('accept'))) {
        const url = new URL(c.req.url);
        return c.redirect(`/sign-in?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
      }
      throw new ApiError('UNAUTHORIZED', 'Sign in, or send "Authorization: Bearer <admin key>"', {
        field: 'header.authorization',
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    c.set('actor' as never, session.key.name as never);
    c.set('frame' as never, { csrf: session.csrfToken } as never);
    if (!safe(c.req.method)) {
      await formOrigin(c, async () => undefined);
      checkFormToken((await c.req.parseBody())._csrf, session.csrfToken);
    }
    return next();
  };
  app.use('/console', owner);
  app.use('/console/*', owner);
  const frameOf = (c: { get: (k: never) => unknown }) => (c.get('frame' as never) as Frame | undefined) ?? {};
  const actorOf = (c: { get: (k: never) => unknown }) => c.get('actor' as never) as string;
  const uuid = (value: string, field = 'path.id') => {
    const id = z.uuid().safeParse(value);
    if (!id.success) throw new ApiError('VALIDATION_FAILED', `${field}: not a uuid`, { field });
    return id.data;
  };

  app.get('/console', async (c) => {
    const [voices, datasets, runs, tests] = await Promise.all([
      listVoices(db),
      listDatasets(db),
      listRuns(db),
      listListeningTests(db),
    ]);
    return c.html(consoleHome(frameOf(c), { voices, datasets, runs, tests: tests.reverse() }));
  });

  app.get('/console/tests', async (c) => {
    const [tests, voices, runs, checkpoints] = await Promise.all([
      listListeningTests(db),
      listVoices(db),
      listRuns(db),
      listCheckpoints(db),
    ]);
    const names = new Map(voices.map((v) => [v.id, v.name]));
    const ready = new Map<string, number>();
    for (const k of checkpoints) if (k.runId && k.status === 'ready') ready.set(k.runId, (ready.get(k.runId) ?? 0) + 1);
    const untested = runs
      .filter((r) => !['queued', 'running'].includes(r.status) && !r.listeningTestId && ready.get(r.id))
      .map((run) => ({ run, ready: ready.get(run.id) ?? 0, voice: run.voiceId ? names.get(run.voiceId) : undefined }));
    return c.html(testsPage(frameOf(c), tests.reverse(), names, untested));
  });
  const progressOf = async (testId: string): Promise<TestProgress> => {
    const [votes, raters, all] = await Promise.all([
      countVotes(db, testId),
      countRaters(db, testId),
      listRaters(db, testId),
    ]);
    return { votes, raters, flagged: all.filter((r) => r.flaggedAt) };
  };
  const testOf = async (id: string) => {
    const test = await getListeningTest(db, uuid(id));
    if (!test) throw new ApiError('TEST_NOT_FOUND', 'No listening test with that id', { field: 'path.id' });
    return test;
  };
  app.get('/console/tests/:id', async (c) => {
    const test = await testOf(c.req.param('id'));
    const [voice, progress, promotions, checkpoints] = await Promise.all([
      getVoice(db, test.voiceId),
      progressOf(test.id),
      listPromotions(db, test.voiceId),
      listCheckpoints(db),
    ]);
    const origin = `${isHttps(c) ? 'https' : 'http'}://${new URL(c.req.url).host}`;
    const invitation = `${origin}/listen/i/${configOf(test).invite_code}`;
    return c.html(
      testPage(frameOf(c), {
        test,
        voice,
        invitation,
        qrSvg: await QRCode.toString(invitation, { type: 'svg', margin: 1 }),
        progress,
        promotions,
        checkpoints: new Map(checkpoints.map((k) => [k.id, k.name])),
        notice: notices[c.req.query('notice') ?? ''],
        error: c.req.query('error') ? errorText(c.req.query('error') as string) : undefined,
      }),
    );
  });
  for (const action of ['open', 'close'] as const) {
    app.post(`/console/tests/:id/${action}`, async (c) => {
      const test = await testOf(c.req.param('id'));
      try {
        if (action === 'open') await openTest(db, test.id);
        else {
          await closeTest(db, test.id);
          await autoPromote(db, test.id);
        }
      } catch (err) {
        const e = toApiError(err);
        if (e.code === 'INTERNAL') throw err;
        return c.redirect(`/console/tests/${test.id}?error=${e.code}`, 303);
      }
      return c.redirect(`/console/tests/${test.id}?notice=${action === 'open' ? 'opened' : 'closed'}`, 303);
    });
  }
  app.get('/console/tests/:id/progress', async (c) => {
    const test = await testOf(c.req.param('id'));
    return c.html(testProgress(await progressOf(test.id)));
  });
  app.post('/console/tests/:id/promote', async (c) => {
    const test = await testOf(c.req.param('id'));
    try {
      await promoteFromTest(db, test.id, actorOf(c));
    } catch (err) {
      const e = toApiError(err);
      if (e.code === 'INTERNAL') throw err;
      return c.redirect(`/console/tests/${test.id}?error=${e.code}`, 303);
    }
    return c.redirect(`/console/tests/${test.id}?notice=promoted`, 303);
  });
  // One step from a finished run to its listening test: the same function the job worker calls
  // when a run succeeds (the run's ready checkpoints, the voice's current one and the base, on the
  // dataset's held-out clips), rendered, screened and opened in the background. The owner lands on
  // the test as soon as it exists.
  const creating = new Set<string>();
  app.post('/console/training-runs/:id/listening-test', async (c) => {
    const run = await getRun(db, uuid(c.req.param('id')));
    if (!run) throw new ApiError('RUN_NOT_FOUND', 'No training run with that id', { field: 'path.id' });
    const back = `/training-runs/${run.id}`;
    const refuse = (code: string) => c.redirect(`${back}?error=${code}`, 303);
    if (!deps.tests) {
      throw new ApiError('RENDERER_NOT_CONFIGURED', 'This server cannot create listening tests from runs');
    }
    if (run.status === 'queued' || run.status === 'running') return refuse('RUN_NOT_FINISHED');
    const body = await c.req.parseBody();
    let voiceId = run.voiceId;
    if (!voiceId) {
      if (typeof body.voice_id !== 'string' || !body.voice_id) {
        throw new ApiError('VALIDATION_FAILED', 'body.voice_id: choose the voice the test is for', {
          field: 'body.voice_id',
        });
      }
      voiceId = uuid(body.voice_id, 'body.voice_id');
    }
    if (!(await getVoice(db, voiceId))) return refuse('VOICE_NOT_FOUND');
    const ready = (await listCheckpoints(db, { runId: run.id })).filter((k) => k.status === 'ready');
    if (ready.length === 0) return refuse('NO_CHECKPOINTS');
    if (creating.has(run.id)) return refuse('TEST_BEING_CREATED');
    creating.add(run.id);
    const previous = run.listeningTestId;
    // Asked for by the owner: made even where the run's options turned automatic tests off.
    const loop = (run.config.listening_test ?? {}) as Record<string, unknown>;
    const asked = { ...run, voiceId, config: { ...run.config, listening_test: { ...loop, auto_create: true } } };
    let outcome: { id?: string | undefined; error?: unknown } | undefined;
    createRunListeningTest({ ...deps.tests, db }, asked)
      .then(
        (id) => {
          outcome = { id };
          if (id) deps.tests?.logger.info({ run: run.id, test: id }, 'listening test created from the console');
        },
        (error) => {
          outcome = { error };
          deps.tests?.logger.error({ run: run.id, err: error }, 'creating the listening test of a run failed');
        },
      )
      .finally(() => creating.delete(run.id));
    // The test exists (and the run names it) before its stimuli are rendered.
    for (const deadline = Date.now() + CREATE_WAIT_MS; Date.now() < deadline; ) {
      if (outcome) break;
      const now = await getRun(db, run.id);
      if (now?.listeningTestId && now.listeningTestId !== previous) {
        return c.redirect(`/console/tests/${now.listeningTestId}?notice=created`, 303);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (outcome?.id) return c.redirect(`/console/tests/${outcome.id}?notice=created`, 303);
    if (outcome?.error) {
      const e = toApiError(outcome.error);
      return refuse(e.code === 'INTERNAL' ? 'TEST_NOT_CREATED' : e.code);
    }
    return outcome ? refuse('TEST_NOT_CREATED') : c.redirect(`${back}?notice=test-coming`, 303);
  });
  app.post('/console/voices/:id/rollback', async (c) => {
    const voiceId = uuid(c.req.param('id'));
    const back = safeNext((await c.req.parseBody()).back);
    try {
      await rollbackVoice(db, voiceId, actorOf(c));
    } catch (err) {
      const e = toApiError(err);
      if (e.code === 'INTERNAL') throw err;
      return c.redirect(`${back}?error=${e.code}`, 303);
    }
    return c.redirect(`${back}?notice=rolled-back`, 303);
  });

  app.get('/console/keys', async (c) => c.html(keysPage(frameOf(c), await listApiKeys(db))));
  app.post('/console/keys', async (c) => {
    const body = await c.req.parseBody();
    const input = z
      .object({ name: z.string().trim().min(1).max(100), scope: z.enum(apiKeyScopes) })
      .safeParse({ name: body.name, scope: body.scope });
    if (!input.success) {
      const field = String(input.error.issues[0]?.path[0] ?? 'name');
      throw new ApiError('VALIDATION_FAILED', `body.${field}: ${input.error.issues[0]?.message}`, {
        field: `body.${field}`,
      });
    }
    const { key, token } = await createApiKey(db, input.data);
    return c.html(keysPage(frameOf(c), await listApiKeys(db), { name: key.name, token }), 201);
  });
  app.post('/console/keys/:id/revoke', async (c) => {
    const key = await revokeApiKey(db, uuid(c.req.param('id')));
    if (!key) throw new ApiError('NOT_FOUND', 'No API key with that id', { field: 'path.id' });
    return c.redirect('/console/keys', 303);
  });

  app.get('/console/datasets', async (c) => {
    const [datasets, voices, runs] = await Promise.all([listDatasets(db), listVoices(db), listRuns(db)]);
    return c.html(datasetsPage(frameOf(c), datasets, voices, runs));
  });
  app.get('/console/voices', async (c) => c.html(voicesPage(frameOf(c), await listVoices(db))));
  app.get('/console/voices/:id', async (c) => {
    const voice = await getVoice(db, uuid(c.req.param('id')));
    if (!voice) throw new ApiError('VOICE_NOT_FOUND', 'No voice with that id', { field: 'path.id' });
    const [clips, checkpoints, promotions, tests] = await Promise.all([
      listVoiceClips(db, voice.id),
      listCheckpoints(db),
      listPromotions(db, voice.id),
      listListeningTests(db, { voiceId: voice.id }),
    ]);
    return c.html(
      voicePage(frameOf(c), {
        voice,
        clips: clips.length,
        checkpoints,
        promotions,
        tests,
      }),
    );
  });
  return app;
}

/** What a refused promotion or rollback means, in words (only known codes are shown). */
export function errorText(code: string): string {
  const texts: Record<string, string> = {
    PROMOTION_NOT_JUSTIFIED: 'Not promoted: the listeners’ votes do not justify a change yet (see the report).',
    NOTHING_TO_ROLL_BACK: 'Nothing to roll back: the voice has no promotion to undo.',
    TEST_NOT_READY: 'Not opened: every stimulus must be rendered and every sentence recorded first.',
    TEST_NOT_OPEN: 'The test is not open.',
    TEST_CLOSED: 'The test is closed.',
    CONFLICT: 'Not changed: the voice changed meanwhile; reload and try again.',
    RUN_NOT_FINISHED: 'Not created: the run is still training (its test is created when it ends).',
    NO_CHECKPOINTS: 'Not created: the run has no ready checkpoint to put before listeners.',
    TEST_BEING_CREATED: 'Not created: a listening test of this run is being created already.',
    TEST_NOT_CREATED: 'Not created: the listening test could not be made (the server log says why).',
    VOICE_NOT_FOUND: 'Not created: that voice no longer exists.',
    DATASET_NOT_FOUND: 'Not created: the run’s dataset no longer exists.',
  };
  return texts[code] ?? `Refused (${code.replace(/[^A-Z_]/g, '')}).`;
}
