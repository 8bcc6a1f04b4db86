import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../errors.ts';

/**
 * Caps request bodies: uploads (multipart) get `maxUploadBytes`, everything else `maxJsonBytes`.
 * The limit is enforced while reading, so an oversized body is never buffered whole.
 * Multipart bodies to `streamedUploads` (exact paths, or prefixes ending in `/*`) skip the generic
 * cap: those routes stream the body to disk themselves and enforce their limit while doing so.
 */
export function limitBodies(options: { maxJsonBytes: number; maxUploadBytes: number; streamedUploads?: string[] }) {
  const tooLarge = (max: number) => () => {
    throw new ApiError('PAYLOAD_TOO_LARGE', `The request body is larger than ${max} bytes`, { field: 'body' });
  };
  const json = bodyLimit({ maxSize: options.maxJsonBytes, onError: tooLarge(options.maxJsonBytes) });
  const upload = bodyLimit({ maxSize: options.maxUploadBytes, onError: tooLarge(options.maxUploadBytes) });
  const streamed = new Set(options.streamedUploads ?? []);
  const prefixes = [...streamed].filter((p) => p.endsWith('/*')).map((p) => p.slice(0, -1));
  const isStreamed = (path: string) => streamed.has(path) || prefixes.some((p) => path.startsWith(p));
  return createMiddleware(async function limitBodies(c, next) {
    const type = c.req.header('content-type') ?? '';
    if (!type.toLowerCase().startsWith('multipart/form-data')) return json(c, next);
    return isStreamed(c.req.path) ? next() : upload(c, next);
  });
}
