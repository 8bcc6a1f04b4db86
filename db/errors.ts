/**
 * Whether an error means "the database cannot be reached right now" (a server restarting, a
 * dropped connection, a refused connect), as opposed to a query that is wrong. Callers answer
 * the first kind with a retryable 503 and retry idempotent work; the second is a bug.
 *
 * drizzle wraps driver errors (DrizzleQueryError with `cause`), so the whole cause chain is read.
 */
const UNAVAILABLE_CODES = new Set([
  // postgres.js connection states
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  // sockets
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  // SQLSTATE class 08 (connection exception) and 57P (operator intervention: shutdown, restart)
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08007',
  '57P01',
  '57P02',
  '57P03',
  // too_many_connections: the server is there but takes no one else now
  '53300',
]);

export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    // A database whose connections are switched off (ALTER DATABASE … ALLOW_CONNECTIONS false).
    if (code === '55000' && typeof message === 'string' && message.includes('not currently accepting connections')) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Runs a database write again, with growing waits, while the database is unavailable: for
 * writes a long-running job must not lose to a passing outage (a training run's metrics, a
 * checkpoint's registration). Other errors, an abort, or an outage longer than `maxMs` throw.
 */
export async function retryWhileUnavailable<T>(
  write: () => Promise<T>,
  opts: { maxMs?: number; signal?: AbortSignal } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.maxMs ?? 60_000);
  for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
    try {
      return await write();
    } catch (err) {
      if (!isDatabaseUnavailable(err) || opts.signal?.aborted || Date.now() + wait > deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** For `.catch` on a write that may be skipped (progress shown on a page): rethrows anything but an outage. */
export function skipWhileUnavailable(err: unknown): undefined {
  if (!isDatabaseUnavailable(err)) throw err;
  return undefined;
}
