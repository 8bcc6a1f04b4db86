import { createMiddleware } from 'hono/factory';
import type { Logger } from 'pino';
import type { HttpMetrics } from '../metrics.ts';

/** Logs each request once it is answered and records it in the HTTP metrics. */
export function observe(options: { logger: Logger; metrics: HttpMetrics }) {
  return createMiddleware(async function observe(c, next) {
    const start = performance.now();
    await next();
    const seconds = (performance.now() - start) / 1000;
    // The matched route pattern, not the raw path, keeps label cardinality bounded.
    const route = c.req.routePath || 'unmatched';
    const labels = { method: c.req.method, route, status: String(c.res.status) };
    options.metrics.requests.inc(labels);
    options.metrics.duration.observe(labels, seconds);
    const level = c.res.status >= 500 ? 'error' : 'info';
    options.logger[level](
      {
        requestId: c.get('requestId'),
        method: c.req.method,
        // The route pattern, not the path: crowd paths carry rater tokens, which must not reach logs.
        route,
        status: c.res.status,
        ms: seconds * 1000,
      },
      'request',
    );
  });
}
