import { Transform } from 'node:stream';
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

/**
 * A pass-through for a streamed upload that fails with 413 PAYLOAD_TOO_LARGE once more than
 * `maxBytes` went through, handing the error to `onTooLarge` first so the caller records it
 * as the request's failure.
 */
export function uploadByteLimit(maxBytes: number, onTooLarge: (err: ApiError) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      total += chunk.length;
      if (total > maxBytes) {
        const err = new ApiError('PAYLOAD_TOO_LARGE', `The upload is larger than ${maxBytes} bytes`, { field: 'body' });
        onTooLarge(err);
        // Stop here: what follows is not read into anything.
        return done(err);
      }
      done(null, chunk);
    },
  });
}
