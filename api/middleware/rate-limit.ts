import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../errors.ts';

export type RateLimitOptions = {
  /** Requests allowed per key in each window. */
  max: number;
  windowMs: number;
  /** What is limited: a rater token, a client address; undefined skips limiting. */
  key: (c: Context) => string | undefined;
  now?: () => number;
};

/**
 * Fixed-window request limits kept in this process's memory. Good enough for one API
 * process; with several replicas each keeps its own count, so the effective limit is
 * `max × replicas` (a shared store would be needed to be exact).
 */
export function rateLimit(options: RateLimitOptions) {
  // Read the clock at each request (not a reference captured now), so a replaced Date.now is seen.
  const now = options.now ?? (() => Date.now());
  const windows = new Map<string, { start: number; count: number }>();
  return createMiddleware(async function rateLimit(c, next) {
    const key = options.key(c);
    if (key === undefined) return next();
    const t = now();
    if (windows.size > 50_000) {
      for (const [k, w] of windows) if (t - w.start >= options.windowMs) windows.delete(k);
    }
    let w = windows.get(key);
    if (!w || t - w.start >= options.windowMs) {
      w = { start: t, count: 0 };
      windows.set(key, w);
    }
    w.count++;
    if (w.count > options.max) {
      const retry = Math.max(1, Math.ceil((w.start + options.windowMs - t) / 1000));
      throw new ApiError('RATE_LIMITED', 'Too many requests; slow down', { headers: { 'Retry-After': String(retry) } });
    }
    await next();
  });
}

/** The peer address as Node saw it (no proxy headers are trusted here). */
export function clientAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}
