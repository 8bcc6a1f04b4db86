/**
 * When each HTTP request reached this process: the node server's `request` event, before Hono and every
 * middleware, stamped on the IncomingMessage. The synthesis routes report the wait from there to their
 * handler as the `queue` part of their Server-Timing header (requests that arrive together wait for the
 * main thread in turn before any of the server's own clocks start).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Context } from 'hono';

const ARRIVED = Symbol('arrivedAt');

type Stamped = IncomingMessage & { [ARRIVED]?: number };

/** Stamps each request `server` takes with the time it arrived (a listener ahead of Hono's). */
export function stampArrivals(server: Pick<Server, 'prependListener'>): void {
  server.prependListener('request', (req: IncomingMessage) => {
    (req as Stamped)[ARRIVED] = performance.now();
  });
}

/** When the request of `c` arrived (performance.now() ms), where the server stamped it (stampArrivals). */
export function arrivedAt(c: Context): number | undefined {
  return ((c.env as { incoming?: Stamped } | undefined)?.incoming as Stamped | undefined)?.[ARRIVED];
}
