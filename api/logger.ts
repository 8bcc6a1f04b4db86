/**
 * The one way the studio makes its logger: pino with secrets kept out. API keys (`xvs_…`), owners'
 * session ids (`xvss_…`), rater session tokens (`lrt_…`) and the key CLI's local secret must never reach a log line,
 * whatever carries them: a header, a field, an error message, or the parameters drizzle puts
 * into the message of a failed query.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

/** Token-shaped strings: API keys, owners' session ids and rater session tokens (base64url after their prefix). */
const SECRET = /\b(xvss?|lrt|local)_[A-Za-z0-9_-]{8,}/g;

/** `text` with every API key or rater token in it replaced by its prefix and an ellipsis. */
export function redactSecrets(text: string): string {
  return text.replace(SECRET, (_m, prefix: string) => `${prefix}_…`);
}

/**
 * Errors as type, message, stack, code and cause (pino's standard shape), with the query
 * parameters of a failed database query left out (they can hold codes a client sent) and any
 * token-shaped string removed from message and stack.
 */
function errSerializer(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? redactSecrets(err) : err;
  const clean = (v: string) => redactSecrets(v.replace(/\nparams: [\s\S]*$/, '\nparams: [left out]'));
  const e = err as Error & { code?: unknown; cause?: unknown };
  return {
    type: e.name,
    message: clean(e.message),
    ...(e.stack ? { stack: clean(e.stack) } : {}),
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.cause !== undefined && depth < 4 ? { cause: errSerializer(e.cause, depth + 1) } : {}),
  };
}

export const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'localSecret',
  '*.localSecret',
];

/**
 * Every string in a logged object, filtered (a few levels deep: log fields are shallow). Errors
 * are left to the err serializer, which pino applies after this.
 */
function cleanFields(obj: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] =
      typeof v === 'string'
        ? redactSecrets(v)
        : v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Error) && depth < 4
          ? cleanFields(v as Record<string, unknown>, depth + 1)
          : v;
  }
  return out;
}

export function createLogger(options: { level: string }, destination?: DestinationStream): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: (e: unknown) => errSerializer(e) },
    formatters: { log: (obj) => cleanFields(obj) },
    hooks: {
      // The message too: whatever string is logged goes through the same filter.
      logMethod(args, method) {
        const cleaned = args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a));
        return method.apply(this, cleaned as Parameters<typeof method>);
      },
    },
  };
  return destination ? pino(settings, destination) : pino(settings);
}
