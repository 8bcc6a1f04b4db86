/**
 * Owners' browser sessions. Signing in with an admin key opens a session: a random id in an
 * HttpOnly, SameSite=Strict cookie (Secure, and `__Host-` named, behind https), stored hashed
 * (db/queries/sessions.ts). Every sign-in issues a new id and ends the one the browser brought,
 * so an id planted before sign-in is never adopted. State-changing requests made with the cookie
 * must carry the session's CSRF token (a form field or the X-CSRF-Token header) and, for forms,
 * pass Hono's Origin / Sec-Fetch-Site check.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { createMiddleware } from 'hono/factory';
import { type Db, findOwnerSession, type OwnerSession } from '../db/index.ts';
import { ApiError } from './errors.ts';

export const SESSION_TTL_MS = 12 * 3600 * 1000;
/** The sign-in form's double-submit token lives this long (the form has no session yet). */
const SIGN_IN_TTL_S = 30 * 60;

/** Behind a TLS-terminating proxy the request reaches the server as http; the proxy says https. */
export function isHttps(c: Context): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  return (c.req.header('x-forwarded-proto') ?? '').split(',')[0]?.trim().toLowerCase() === 'https';
}

export const sessionCookieName = (c: Context) => (isHttps(c) ? '__Host-xvs_session' : 'xvs_session');
const signInCookieName = (c: Context) => (isHttps(c) ? '__Host-xvs_signin' : 'xvs_signin');

const cookieOptions = (c: Context, maxAge: number) =>
  ({ httpOnly: true, sameSite: 'Strict', secure: isHttps(c), path: '/', maxAge }) as const;

export const sessionToken = (c: Context): string | undefined => getCookie(c, sessionCookieName(c));

export function setSessionCookie(c: Context, token: string): void {
  setCookie(c, sessionCookieName(c), token, cookieOptions(c, SESSION_TTL_MS / 1000));
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, sessionCookieName(c), { path: '/', secure: isHttps(c) });
}

/** The live session the request's cookie names, cached on the request. */
export async function sessionOf(c: Context, db: Db): Promise<OwnerSession | undefined> {
  const cached = c.get('session' as never) as OwnerSession | null | undefined;
  if (cached !== undefined) return cached ?? undefined;
  const token = sessionToken(c);
  const session = token ? await findOwnerSession(db, token) : undefined;
  c.set('session' as never, (session ?? null) as never);
  return session;
}

export function tokensMatch(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const safeMethod = (method: string) => method === 'GET' || method === 'HEAD' || method === 'OPTIONS';

/** A request made with the cookie that changes state must carry the session's token in X-CSRF-Token. */
export function checkCsrfHeader(c: Context, session: OwnerSession): void {
  if (safeMethod(c.req.method)) return;
  if (!tokensMatch(c.req.header('x-csrf-token'), session.csrfToken)) {
    throw new ApiError('CSRF_FAILED', 'This request needs the page’s CSRF token in the X-CSRF-Token header', {
      field: 'header.x-csrf-token',
    });
  }
  checkOriginHeader(c);
}

/** A cross-site Origin is refused outright (the browser sends it with every fetch that changes state). */
function checkOriginHeader(c: Context): void {
  const origin = c.req.header('origin');
  if (origin !== undefined && !sameHost(origin, c)) {
    throw new ApiError('CSRF_FAILED', 'The request came from another site', { field: 'header.origin' });
  }
}

/** Same host as the request, whatever the scheme a proxy in front changed. */
function sameHost(origin: string, c: Context): boolean {
  try {
    return new URL(origin).host === new URL(c.req.url).host;
  } catch {
    return false;
  }
}

const honoCsrf = csrf({ origin: sameHost });

/**
 * Hono's CSRF middleware (Origin / Sec-Fetch-Site must be this site's) for the owners' HTML
 * forms, answering with the API's error body. The synchroniser token is checked by each form's
 * handler with `checkFormToken`, once the body is parsed.
 */
export const formOrigin = createMiddleware(async (c, next) => {
  let passed = false;
  await honoCsrf(c, async () => {
    passed = true;
  }).catch(() => undefined);
  if (!passed) throw new ApiError('CSRF_FAILED', 'The form was sent from another site', { field: 'header.origin' });
  await next();
});

export function checkFormToken(value: unknown, expected: string): void {
  if (!tokensMatch(typeof value === 'string' ? value : undefined, expected)) {
    throw new ApiError('CSRF_FAILED', 'The form’s CSRF token is missing or stale: reload the page and try again', {
      field: 'body._csrf',
    });
  }
}

/** The sign-in form's token: a double-submit cookie, as there is no session to keep it in yet. */
export function issueSignInToken(c: Context): string {
  const token = randomBytes(32).toString('base64url');
  setCookie(c, signInCookieName(c), token, { ...cookieOptions(c, SIGN_IN_TTL_S), path: '/' });
  return token;
}

export function checkSignInToken(c: Context, value: unknown): void {
  const cookie = getCookie(c, signInCookieName(c));
  if (!cookie) {
    throw new ApiError('CSRF_FAILED', 'The sign-in form expired: reload it and try again', { field: 'body._csrf' });
  }
  checkFormToken(value, cookie);
  deleteCookie(c, signInCookieName(c), { path: '/', secure: isHttps(c) });
}

/**
 * Where to go after sign-in: a path on this site only. Never `//host`, `/\host` or a full URL,
 * and only printable ASCII without spaces or backslashes: browsers drop tabs and newlines from a
 * URL, so `/<tab>/host` would otherwise become `//host`.
 */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || next.length > 2000 || !/^\/(?![/\\])[\x21-\x5b\x5d-\x7e]*$/.test(next)) {
    return '/console';
  }
  return next;
}
