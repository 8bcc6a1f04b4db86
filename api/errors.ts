import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../db/index.ts';
import { EngineError, type EngineErrorCode } from '../inference/index.ts';
import { ListeningError } from '../listening/index.ts';
import { VoiceError } from '../voices/index.ts';

/**
 * Every error code the API answers with, and its status. Codes are stable: clients may
 * switch on them. Add new ones here, never reuse one for another meaning.
 */
export const errorStatus = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  INVALID_API_KEY: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  VOICE_NOT_FOUND: 404,
  CHECKPOINT_NOT_FOUND: 404,
  MODEL_NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TEXT_EMPTY: 400,
  TEXT_TOO_LONG: 400,
  LANGUAGE_UNSUPPORTED: 400,
  AUDIO_INVALID: 422,
  AUDIO_TOO_SHORT: 422,
  AUDIO_SILENT: 422,
  MODEL_CORRUPT: 422,
  MODEL_FORMAT_UNSUPPORTED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  ENGINE_FAILED: 502,
  NOT_READY: 503,
  MODEL_NOT_READY: 503,
  OVERLOADED: 503,
  DATABASE_UNAVAILABLE: 503,
  TEST_NOT_FOUND: 404,
  TEST_NOT_OPEN: 409,
  TEST_CLOSED: 409,
  TEST_NOT_READY: 409,
  INVITATION_NOT_FOUND: 404,
  RATER_TOKEN_INVALID: 401,
  HEADPHONE_CHECK_REQUIRED: 409,
  TRIAL_NOT_FOUND: 404,
  VOTE_REJECTED: 409,
  SESSION_INCOMPLETE: 409,
  COMPLETION_CODE_UNKNOWN: 404,
  COMPLETION_CODE_USED: 409,
  PROMOTION_NOT_JUSTIFIED: 409,
  NOTHING_TO_ROLL_BACK: 409,
  RENDERER_NOT_CONFIGURED: 503,
  DATASET_NOT_FOUND: 404,
  DATASET_NOT_READY: 409,
  DATASET_IN_USE: 409,
  CLIP_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  RUN_NOT_RESUMABLE: 409,
  RUN_NOT_CANCELLABLE: 409,
  AUDIO_UNSUPPORTED: 415,
  ARCHIVE_UNSUPPORTED: 415,
  UPLOAD_EMPTY: 400,
  DISK_FULL: 507,
  AUDIO_HEADER_INVALID: 422,
  AUDIO_NOT_FINITE: 422,
  AUDIO_NO_SPEECH: 422,
  AUDIO_TOO_LONG: 422,
  AUDIO_TOO_COMPLEX: 422,
  SYNTHESIS_INVALID: 502,
  CSRF_FAILED: 403,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

export type ErrorBody = {
  code: ErrorCode;
  message: string;
  request_id: string;
  /** The request field at fault, as a dotted path (`body.scope`, `query.limit`). */
  field?: string;
  details?: unknown;
};

export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    extra: { field?: string; details?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.code = code;
    this.field = extra.field;
    this.details = extra.details;
    this.headers = extra.headers ?? {};
  }

  get status(): ContentfulStatusCode {
    return errorStatus[this.code];
  }
}

const httpExceptionCodes: Partial<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'NOT_READY',
};

/** Engine failures by code; the rest (VOICE_MISMATCH, CANCELLED) are the server's own fault. */
const engineCodes: Partial<Record<EngineErrorCode, ErrorCode>> = {
  TEXT_EMPTY: 'TEXT_EMPTY',
  TEXT_TOO_LONG: 'TEXT_TOO_LONG',
  LANGUAGE_UNSUPPORTED: 'LANGUAGE_UNSUPPORTED',
  PARAMS_INVALID: 'VALIDATION_FAILED',
  AUDIO_INVALID: 'AUDIO_INVALID',
  AUDIO_TOO_SHORT: 'AUDIO_TOO_SHORT',
  AUDIO_SILENT: 'AUDIO_SILENT',
  MODEL_NOT_FOUND: 'MODEL_NOT_READY',
  MODEL_CORRUPT: 'MODEL_NOT_READY',
  MODEL_FORMAT_UNSUPPORTED: 'MODEL_NOT_READY',
  ENGINE_OVERLOADED: 'OVERLOADED',
  ENGINE_FAILED: 'ENGINE_FAILED',
  OUTPUT_INVALID: 'SYNTHESIS_INVALID',
};

/** Translates whatever was thrown into the one error shape. Unknown errors are 500 and logged. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  // Listening codes are API codes by construction (listening/service/errors.ts).
  if (err instanceof ListeningError) {
    return new ApiError(err.code, err.message, {
      ...(err.field ? { field: err.field } : {}),
      ...(err.details !== undefined ? { details: err.details } : {}),
    });
  }
  // So are the voices module's (voices/errors.ts).
  if (err instanceof VoiceError) {
    return new ApiError(err.code, err.message, {
      ...(err.field ? { field: err.field } : {}),
      ...(err.retryAfterS !== undefined ? { headers: { 'Retry-After': String(err.retryAfterS) } } : {}),
    });
  }
  if (err instanceof EngineError) {
    const code = engineCodes[err.code];
    if (code) {
      return new ApiError(code, err.message, {
        ...(err.field ? { field: `body.${err.field}` } : {}),
        ...(code === 'OVERLOADED' ? { headers: { 'Retry-After': '1' } } : {}),
      });
    }
  }
  if (isDatabaseUnavailable(err)) {
    // Nothing was acknowledged: the client may send the same request again (votes and the
    // other writes a client retries are idempotent).
    return new ApiError('DATABASE_UNAVAILABLE', 'The database is unavailable; retry shortly', {
      headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_S) },
    });
  }
  if (err instanceof HTTPException) {
    // Hono's JSON validator throws this exact message when the body does not parse.
    if (err.status === 400 && err.message.startsWith('Malformed JSON')) {
      return new ApiError('MALFORMED_JSON', 'The request body is not valid JSON', { field: 'body' });
    }
    // Only the JSON bodies' validators refuse a media type this way (uploads say so themselves).
    if (err.status === 415) {
      return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'header.content-type: send the body as application/json', {
        field: 'header.content-type',
      });
    }
    const code = httpExceptionCodes[err.status];
    if (code) return new ApiError(code, err.message || code.toLowerCase().replaceAll('_', ' '));
  }
  return new ApiError('INTERNAL', 'Internal server error');
}

/** Seconds a client is asked to wait before retrying while the database is away. */
export const DATABASE_RETRY_AFTER_S = 1;

export function errorResponse(c: Context, err: ApiError): Response {
  const body: ErrorBody = {
    code: err.code,
    message: err.message,
    request_id: (c.get('requestId') as string | undefined) ?? '',
  };
  if (err.field !== undefined) body.field = err.field;
  if (err.details !== undefined) body.details = err.details;
  for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
  return c.json(body, err.status);
}

export const onError = (logger: Logger) => (err: Error, c: Context) => {
  const apiError = toApiError(err);
  if (apiError.code === 'INTERNAL') {
    logger.error({ err, requestId: c.get('requestId'), route: c.req.routePath }, 'unhandled error');
  } else if (apiError.code === 'DATABASE_UNAVAILABLE') {
    logger.warn({ requestId: c.get('requestId'), route: c.req.routePath, err }, 'database unavailable');
  }
  return errorResponse(c, apiError);
};
