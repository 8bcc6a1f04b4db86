import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hono } from 'hono';
import { pollingEvents } from './sse.ts';

test('an event stream outlives a moment without the database, and still ends on other errors', async () => {
  const outage = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  let beat = 0;
  const app = new Hono().get('/events', (c) =>
    pollingEvents(c, 1, async (send) => {
      beat++;
      if (beat === 2 || beat === 3) throw outage;
      await send('progress', { beat });
      return beat < 5;
    }),
  );
  const text = await (await app.request('/events')).text();
  assert.deepEqual(
    [...text.matchAll(/data: (\{.*\})/g)].map((m) => JSON.parse(m[1] as string).beat),
    [1, 4, 5],
    'the beats without a database are skipped, the stream goes on',
  );

  let calls = 0;
  const broken = new Hono().get('/events', (c) =>
    pollingEvents(c, 1, async () => {
      calls++;
      throw new Error('a bug');
    }),
  );
  const original = console.error;
  console.error = () => {};
  try {
    await (await broken.request('/events')).text();
  } finally {
    console.error = original;
  }
  assert.equal(calls, 1, 'a bug ends the stream at once');
});
