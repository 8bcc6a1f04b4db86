import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';

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
      if (!(await step(send))) break;
      // A comment now and then keeps proxies from closing an idle stream.
      if (Date.now() - quietSince > 15_000) {
        await stream.write(': keep-alive\n\n');
        quietSince = Date.now();
      }
      await stream.sleep(intervalMs);
    }
  });
}
