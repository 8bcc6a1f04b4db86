/**
 * The crowd's side: no API key. An invitation link leads to consent, consent makes a rater
 * session whose unguessable token is the capability for everything after it. The token
 * travels in the path, not a cookie, because crowd platforms often frame the study page and
 * frames commonly lose third-party cookies; pages send no Referer so it does not leak onward.
 */
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { type Db, isDatabaseUnavailable } from '../../../db/index.ts';
import {
  type AudioStore,
  authenticateRater,
  CROWD_ASSETS,
  CROWD_CSP,
  castVote,
  completedPage,
  completeSession,
  findInvitation,
  finishPage,
  HEADPHONE_QUESTIONS,
  headphonePage,
  headphoneQuestionWav,
  instructionsPage,
  joinTest,
  ListeningError,
  messagePage,
  type SessionState,
  sessionState,
  submitHeadphoneCheck,
  trialAudio,
  trialPage,
} from '../../../listening/index.ts';
import { ApiError, toApiError } from '../../errors.ts';
import { clientAddress, rateLimit } from '../../middleware/rate-limit.ts';
import { validationHook } from '../../validation.ts';

export type CrowdLimits = {
  /** Sessions started per client address per minute. */
  joinsPerMinute: number;
  /** Requests per rater token per minute (votes, pages). */
  requestsPerMinute: number;
  /**
   * Requests per client address per minute to anything under /listen (audio included). Higher
   * than one rater needs: several raters may share an address (a lab, a carrier's NAT).
   */
  addressRequestsPerMinute?: number;
};

export const DEFAULT_CROWD_LIMITS: CrowdLimits = {
  joinsPerMinute: 20,
  requestsPerMinute: 240,
  addressRequestsPerMinute: 1200,
};

const VoteBody = z.strictObject({
  answer: z.string().max(8),
  played_ms: z.number().int().min(0).max(3_600_000).optional(),
  page_ms: z.number().int().min(0).optional(),
});

const stateJson = (s: SessionState) =>
  s.step === 'trial'
    ? {
        step: s.step,
        trial: {
          trial_id: s.trial.trialId,
          task: s.trial.task,
          slots: s.trial.slots,
          audio: Object.fromEntries(s.trial.slots.map((slot) => [slot, `/listen/audio/${s.trial.trialId}/${slot}`])),
          position: s.trial.position,
          total: s.trial.total,
        },
      }
    : s.step === 'done'
      ? { step: s.step, completion_code: s.completionCode, answered: s.answered, total: s.total }
      : { step: s.step };

/** Runs `work` again once when the database connection dropped under it (idempotent work only). */
async function onceMoreIfDatabaseAway<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!isDatabaseUnavailable(err)) throw err;
    return work();
  }
}

const wantsHtml = (c: Context) => (c.req.header('accept') ?? '').includes('text/html');
const isForm = (c: Context) => (c.req.header('content-type') ?? '').includes('form');

/** A JSON body checked against `schema`: 400 MALFORMED_JSON, or 400 naming the field at fault. */
async function jsonBodyOf<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  const text = await c.req.text();
  let value: unknown;
  try {
    value = text.trim() ? JSON.parse(text) : {};
  } catch {
    throw new ApiError('MALFORMED_JSON', 'The request body is not valid JSON', { field: 'body' });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) validationHook({ success: false, error: parsed.error, target: 'json' } as never, c as never);
  return parsed.data as z.output<T>;
}

const Consent = z.object({ consent: z.unknown().optional(), worker_id: z.unknown().optional() });
const HeadphoneAnswers = z.strictObject({ answers: z.array(z.number().int().min(0).max(9)).max(HEADPHONE_QUESTIONS) });

export function listeningCrowdRoutes(deps: { db: Db; audio: AudioStore; limits?: CrowdLimits | undefined }) {
  const { db } = deps;
  const limits = deps.limits ?? DEFAULT_CROWD_LIMITS;
  const app = new Hono();
  app.use('/listen/*', async (c, next) => {
    await next();
    c.header('Referrer-Policy', 'no-referrer');
    c.header('X-Robots-Tag', 'noindex');
    c.header('Content-Security-Policy', CROWD_CSP);
    c.header('X-Content-Type-Options', 'nosniff');
    if (!c.res.headers.get('Cache-Control')) c.header('Cache-Control', 'no-store');
  });
  // Pages show a readable page for the errors a rater can meet; JSON clients get the usual error body.
  app.onError((err, c) => {
    const e = toApiError(err);
    if (!wantsHtml(c) || e.code === 'INTERNAL') throw err;
    for (const [k, v] of Object.entries(e.headers)) c.header(k, v);
    return c.html(messagePage(e.code === 'TEST_CLOSED' ? 'This test has ended' : 'Sorry', e.message), e.status);
  });
  // The page's script and style: immutable files, named by their content, exempt from the limits.
  app.get('/listen/assets/:file', (c) => {
    const asset = CROWD_ASSETS[c.req.path];
    if (!asset) throw new ApiError('NOT_FOUND', 'No such file');
    return c.body(asset.body, 200, {
      'Content-Type': asset.type,
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
  });
  app.use(
    '/listen/*',
    rateLimit({
      max: limits.addressRequestsPerMinute ?? Number.POSITIVE_INFINITY,
      windowMs: 60_000,
      key: clientAddress,
    }),
  );
  app.use(
    '/listen/s/:token/*',
    rateLimit({ max: limits.requestsPerMinute, windowMs: 60_000, key: (c) => c.req.param('token') }),
  );
  app.use(
    '/listen/s/:token',
    rateLimit({ max: limits.requestsPerMinute, windowMs: 60_000, key: (c) => c.req.param('token') }),
  );
  const joinLimit = rateLimit({ max: limits.joinsPerMinute, windowMs: 60_000, key: clientAddress });

  const rater = (c: Context) => authenticateRater(db, c.req.param('token') ?? '');
  const workerIdOf = (v: unknown) => (typeof v === 'string' && /^[\w.@:-]{1,128}$/.test(v) ? v : undefined);

  app.get('/listen/i/:code', async (c) => {
    const test = await findInvitation(db, c.req.param('code'));
    return c.html(
      instructionsPage({
        name: test.name,
        action: c.req.path,
        workerId: workerIdOf(c.req.query('worker_id')),
        kinds: test.kinds,
      }),
    );
  });

  app.post('/listen/i/:code', joinLimit, async (c) => {
    const body: Record<string, unknown> = isForm(c) ? await c.req.parseBody() : await jsonBodyOf(c, Consent);
    if ((body as Record<string, unknown>).consent !== 'yes' && (body as Record<string, unknown>).consent !== true) {
      throw new ApiError('VALIDATION_FAILED', 'Consent is needed to take part', { field: 'body.consent' });
    }
    const { token, resumed } = await joinTest(
      db,
      c.req.param('code'),
      workerIdOf((body as Record<string, unknown>).worker_id),
    );
    const url = `/listen/s/${token}`;
    if (wantsHtml(c)) return c.redirect(url, 303);
    return c.json({ token, session_url: url, resumed }, 201);
  });

  app.get('/listen/s/:token', async (c) => {
    const ctx = await rater(c);
    const state = await sessionState(db, ctx);
    if (!wantsHtml(c)) return c.json(stateJson(state));
    const token = c.req.param('token');
    switch (state.step) {
      case 'headphones':
        return c.html(headphonePage(token));
      case 'screened-out':
        return c.html(
          messagePage('Thank you', 'This test needs headphones, and the check did not succeed, so it ends here.'),
        );
      case 'trial':
        return c.html(trialPage(token, state.trial));
      case 'done':
        return c.html(
          state.completionCode ? completedPage(state.completionCode) : finishPage(token, state.answered, state.total),
        );
    }
  });

  app.get('/listen/s/:token/headphones/:file', async (c) => {
    const ctx = await rater(c);
    const q = /^(\d)\.wav$/.exec(c.req.param('file'))?.[1];
    if (q === undefined || Number(q) >= HEADPHONE_QUESTIONS) throw new ApiError('NOT_FOUND', 'No such sound');
    return c.body(headphoneQuestionWav(ctx.rater.id, Number(q)) as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': 'audio/wav',
    });
  });

  app.post('/listen/s/:token/headphones', async (c) => {
    const form = isForm(c);
    const answers = form
      ? await c.req
          .parseBody()
          .then((body) => Array.from({ length: HEADPHONE_QUESTIONS }, (_, q) => Number(body[`q${q}`])))
      : (await jsonBodyOf(c, HeadphoneAnswers)).answers;
    const ctx = await rater(c);
    const { passed } = await submitHeadphoneCheck(db, ctx, answers);
    if (form) return c.redirect(`/listen/s/${c.req.param('token')}`, 303);
    return c.json({ passed });
  });

  app.post('/listen/s/:token/trials/:trial_id/vote', async (c) => {
    // A vote is idempotent (one per trial), so a dropped database connection is retried once
    // here; if the database is still away the client gets a 503 to retry with the same answer.
    return onceMoreIfDatabaseAway(() => vote(c));
  });
  const vote = async (c: Context) => {
    const body = await jsonBodyOf(c, VoteBody);
    const ctx = await rater(c);
    const trialId = z.uuid().safeParse(c.req.param('trial_id'));
    if (!trialId.success)
      throw new ListeningError('TRIAL_NOT_FOUND', 'No such trial in this session', { field: 'path.trial_id' });
    const { vote, duplicate } = await castVote(db, ctx, trialId.data, {
      answer: body.answer,
      playedMs: body.played_ms,
    });
    return c.json({ vote_id: vote.id, trial_id: vote.trialId, answer: vote.answer, duplicate }, duplicate ? 200 : 201);
  };

  app.post('/listen/s/:token/complete', async (c) => {
    const ctx = await rater(c);
    const { completionCode } = await completeSession(db, ctx);
    if (wantsHtml(c) || (c.req.header('content-type') ?? '').includes('form')) {
      return c.redirect(`/listen/s/${c.req.param('token')}`, 303);
    }
    return c.json({ completion_code: completionCode });
  });

  app.get('/listen/audio/:trial_id/:slot', async (c) => {
    const trialId = z.uuid().safeParse(c.req.param('trial_id'));
    if (!trialId.success) throw new ListeningError('TRIAL_NOT_FOUND', 'No such audio', { field: 'path.trial_id' });
    const bytes = await trialAudio(db, deps.audio, trialId.data, c.req.param('slot'));
    // The same headers for every clip: nothing but the (equal) bytes differs between slots.
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': 'audio/wav',
      'Cache-Control': 'private, max-age=3600',
    });
  });

  return app;
}
