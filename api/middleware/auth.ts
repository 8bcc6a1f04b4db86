import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { type ApiKeyScope, type ApiKeyView, type Db, findActiveKey, touchApiKey } from '../../db/index.ts';
import { ApiError } from '../errors.ts';
import { secretMatches } from '../local-admin.ts';
import { checkCsrfHeader, sessionOf } from '../sessions.ts';

export type AuthVariables = { apiKey: ApiKeyView };

/** The principal of the key CLI talking to its own server (see local-admin.ts). */
const localAdmin: ApiKeyView = {
  id: '00000000-0000-0000-0000-000000000000',
  name: 'local admin (CLI)',
  scope: 'admin',
  prefix: 'local_',
  createdAt: new Date(0),
  lastUsedAt: null,
  revokedAt: null,
};

/** When this process last moved each key's last_used_at (see touchApiKey: at most once a minute). */
const touched = new Map<string, number>();
const TOUCH_EVERY_MS = 60_000;

/** An admin key may do anything a synth key may. */
const grants: Record<ApiKeyScope, readonly ApiKeyScope[]> = { admin: ['admin', 'synth'], synth: ['synth'] };

/** A browser opening a page (not a program, not EventSource or <audio>): it is sent to sign in. */
const opensPage = (c: Context) =>
  (c.req.method === 'GET' || c.req.method === 'HEAD') && (c.req.header('accept') ?? '').includes('text/html');

/**
 * Requires a Bearer API key with `scope`, or an owner's session cookie (opened with an admin
 * key, see sessions.ts; then a request that changes state must carry the session's CSRF token).
 * Without either, a browser opening a page is redirected to /sign-in; any other request gets
 * 401. An unknown/revoked key is 401, a key without the scope is 403.
 */
export function requireScope(options: {
  db: Db;
  scope: ApiKeyScope;
  localSecret?: string | undefined;
  /** How long a recent lookup of the same key may be reused (ms; findActiveKey). */
  lookupMaxAgeMs?: number | undefined;
}) {
  return createMiddleware<{ Variables: AuthVariables }>(async function requireScope(c, next) {
    const header = c.req.header('authorization');
    if (!header) {
      const session = await sessionOf(c, options.db);
      if (session && grants[session.key.scope].includes(options.scope)) {
        checkCsrfHeader(c, session);
        c.set('apiKey', session.key);
        return next();
      }
      if (opensPage(c)) {
        const url = new URL(c.req.url);
        return c.redirect(`/sign-in?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
      }
      throw new ApiError('UNAUTHORIZED', 'An API key is required: send "Authorization: Bearer <key>"', {
        field: 'header.authorization',
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    if (token && options.localSecret && secretMatches(options.localSecret, token)) {
      c.set('apiKey', localAdmin);
      return next();
    }
    const key = token ? await findActiveKey(options.db, token, options.lookupMaxAgeMs) : undefined;
    if (!key) {
      throw new ApiError('INVALID_API_KEY', 'The API key is unknown or revoked', {
        field: 'header.authorization',
        headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
      });
    }
    if (!grants[key.scope].includes(options.scope)) {
      throw new ApiError(
        'FORBIDDEN',
        `This key's scope "${key.scope}" does not allow this; it needs "${options.scope}"`,
      );
    }
    c.set('apiKey', key);
    // last_used_at moves at most once a minute (touchApiKey): within the minute after this
    // process moved it, the UPDATE would change nothing, so it is not sent.
    const now = Date.now();
    if (now - (touched.get(key.id) ?? Number.NEGATIVE_INFINITY) >= TOUCH_EVERY_MS) {
      await touchApiKey(options.db, key.id, new Date(now));
      touched.set(key.id, now);
      if (touched.size > 10_000) touched.delete(touched.keys().next().value as string);
    }
    await next();
  });
}
