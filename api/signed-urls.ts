/**
 * Short-lived signed URLs for what a browser fetches without headers: <audio src>, EventSource
 * and download links on the owner pages. A page (itself reached with the admin key) embeds
 * `path?exp=…&sig=…`; the signature covers that one path and its expiry, nothing else. The
 * secret is per process unless given, so a link from one replica works on that replica only.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';

export type UrlSigner = {
  sign(path: string, ttlS?: number): string;
  verify(path: string, exp: string | undefined, sig: string | undefined): boolean;
};

export function urlSigner(secret: Uint8Array = randomBytes(32)): UrlSigner {
  const mac = (path: string, exp: string) => createHmac('sha256', secret).update(`${path}\n${exp}`).digest('base64url');
  return {
    sign(path, ttlS = 12 * 3600) {
      const exp = String(Math.floor(Date.now() / 1000) + ttlS);
      return `${path}?exp=${exp}&sig=${mac(path, exp)}`;
    },
    verify(path, exp, sig) {
      if (!exp || !sig || !/^\d{1,12}$/.test(exp) || Number(exp) * 1000 < Date.now()) return false;
      const want = Buffer.from(mac(path, exp));
      const got = Buffer.from(sig);
      return got.length === want.length && timingSafeEqual(got, want);
    },
  };
}

/** Lets a request with a valid signature for its path through; any other goes to `otherwise` (the key check). */
export function signedOr(
  signer: UrlSigner,
  // biome-ignore lint/suspicious/noExplicitAny: any key-checking middleware, whatever its variables
  otherwise: MiddlewareHandler<any>,
) {
  return createMiddleware(async (c, next) => {
    if (c.req.method === 'GET' && signer.verify(c.req.path, c.req.query('exp'), c.req.query('sig'))) return next();
    return otherwise(c, next);
  });
}
