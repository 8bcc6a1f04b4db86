import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { ApiError } from '../errors.ts';

/**
 * Caps request bodies: uploads (multipart) get `maxUploadBytes`, everything else `maxJsonBytes`.
 * The limit is enforced while reading, so an oversized body is never buffered whole.
 */
export function limitBodies(options: { maxJsonBytes: number; maxUploadBytes: number }) {
  const tooLarge = (max: number) => () => {
    throw new ApiError('PAYLOAD_TOO_LARGE', `The request body is larger than ${max} bytes`, { field: 'body' });
  };
  const json = bodyLimit({ maxSize: options.maxJsonBytes, onError: tooLarge(options.maxJsonBytes) });
  const upload = bodyLimit({ maxSize: options.maxUploadBytes, onError: tooLarge(options.maxUploadBytes) });
  return createMiddleware(async function limitBodies(c, next) {
    const type = c.req.header('content-type') ?? '';
    return type.toLowerCase().startsWith('multipart/form-data') ? upload(c, next) : json(c, next);
  });
}
