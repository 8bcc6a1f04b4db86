import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { isDatabaseUnavailable } from '../db/index.ts';

export type SendEvent = (event: string, data: unknown) => Promise<void>;

/**
 * A server-sent event stream fed by polling the database: whichever process runs the worker
 * writes progress to the rows, so watching the rows works on every replica. `step` sends what
 * changed and returns false once the stream should end.
 */
export function pollingEvents(c: Context, intervalMs: number, step: (send: SendEvent) => Promise<boolean>) {
  return streamSSE(c, async (stream) => {
    let open = true;
    stream.onAbort(() => {
      open = false;
    });
    let quietSince = Date.now();
    const send: SendEvent = async (event, data) => {
      quietSince = Date.now();
      await stream.writeSSE({ event, data: JSON.stringify(data) });
    };
    while (open) {
      let more: boolean;
      try {
        more = await step(send);
      } catch (err) {
        // The database away for a moment: the watcher keeps its stream and sees the next beat.
        if (!isDatabaseUnavailable(err)) throw err;
        more = true;
      }
      if (!more) break;
      // A comment now and then keeps proxies from closing an idle stream.
      if (Date.now() - quietSince > 15_000) {
        await stream.write(': keep-alive\n\n');
        quietSince = Date.now();
      }
      await stream.sleep(intervalMs);
    }
  });
}
