import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import fc from 'fast-check';
import { testApp } from '../test/helpers/app.ts';
import { VoiceError } from '../voices/index.ts';
import { toApiError } from './errors.ts';

/** Every error: JSON with a stable code, a message and the request id that the header carries. */
function assertErrorShape(res: { status: number; body: Record<string, unknown>; headers: Record<string, string> }) {
  assert.match(res.headers['content-type'] ?? '', /application\/json/);
  assert.equal(typeof res.body.code, 'string');
  assert.equal(typeof res.body.message, 'string');
  assert.ok(res.body.request_id, 'request_id present');
  assert.equal(res.body.request_id, res.headers['x-request-id']);
}

describe('bad input gets a clear 4xx, never a 500', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp({ maxJsonBytes: 4096 });
  });
  after(() => t.close());
  const post = (body: string | object, type = 'application/json') =>
    t.request.post('/v1/keys').set(t.auth(t.tokens.admin)).set('Content-Type', type).send(body);

  it('malformed JSON is 400 MALFORMED_JSON', async () => {
    const res = await post('{"name": "a", ');
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'MALFORMED_JSON');
    assertErrorShape(res);
  });

  it('a wrong type is 400 VALIDATION_FAILED naming the field', async () => {
    const res = await post({ name: 'a', scope: 42 });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'VALIDATION_FAILED');
    assert.equal(res.body.field, 'body.scope');
    assert.match(res.body.message, /^body\.scope: /);
    assertErrorShape(res);
  });

  it('a missing field is named', async () => {
    const res = await post({ scope: 'admin' });
    assert.equal(res.status, 400);
    assert.equal(res.body.field, 'body.name');
  });

  it('an unknown field is 400 naming it', async () => {
    const res = await post({ name: 'a', scope: 'admin', isRoot: true });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'VALIDATION_FAILED');
    assert.equal(res.body.field, 'body.isRoot');
    assert.match(res.body.message, /unknown field/);
  });

  it('an oversized body is 413 PAYLOAD_TOO_LARGE, also without a Content-Length', async () => {
    const res = await post({ name: 'x'.repeat(10_000), scope: 'admin' });
    assert.equal(res.status, 413);
    assert.equal(res.body.code, 'PAYLOAD_TOO_LARGE');
    assertErrorShape(res);
    const chunked = await fetchChunked(t, 'x'.repeat(10_000));
    assert.equal(chunked, 413);
  });

  it('another media type is 415', async () => {
    const res = await post('name=a&scope=admin', 'application/x-www-form-urlencoded');
    assert.equal(res.status, 415);
    assert.equal(res.body.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.equal(res.body.field, 'header.content-type');
    assert.match(res.body.message, /application\/json/, 'names the media type it expects');
  });

  it('a path parameter of the wrong form is 400 naming it', async () => {
    const res = await t.request.delete('/v1/keys/not-a-uuid').set(t.auth(t.tokens.admin));
    assert.equal(res.status, 400);
    assert.equal(res.body.field, 'path.id');
  });

  it('an unknown route is a JSON 404', async () => {
    const res = await t.request.get('/v1/nothing-here');
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'NOT_FOUND');
    assertErrorShape(res);
  });

  it('keeps a client-sent request id', async () => {
    const res = await t.request.get('/v1/nothing-here').set('X-Request-Id', 'trace-abc-123');
    assert.equal(res.body.request_id, 'trace-abc-123');
  });

  it('arbitrary JSON bodies never cause a 5xx and never create a key they should not', async () => {
    const before = (await t.request.get('/v1/keys').set(t.auth(t.tokens.admin))).body.data.length;
    let created = 0;
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const res = await post(JSON.stringify(value));
        assert.ok(res.status < 500, `status ${res.status} for ${JSON.stringify(value)}`);
        if (res.status === 201) created++;
        else assertErrorShape(res);
      }),
      { numRuns: 150, seed: 20261125 },
    );
    const afterCount = (await t.request.get('/v1/keys').set(t.auth(t.tokens.admin))).body.data.length;
    assert.equal(afterCount, before + created);
  });
});

/** A body sent with chunked transfer encoding (no Content-Length), so the limit must hold while reading. */
async function fetchChunked(t: Awaited<ReturnType<typeof testApp>>, name: string): Promise<number> {
  const server = createAdaptorServer({ fetch: t.app.fetch });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/v1/keys',
          headers: { ...t.auth(t.tokens.admin), 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      const body = JSON.stringify({ name, scope: 'admin' });
      for (let i = 0; i < body.length; i += 1000) req.write(body.slice(i, i + 1000));
      req.end();
    });
  } finally {
    server.close();
  }
}

describe('voice errors answer with their own code, field and wait', () => {
  it('keeps code, status and field, and turns the wait into Retry-After', () => {
    const refused = toApiError(new VoiceError('AUDIO_INVALID', 'body.clips.0: not audio', { field: 'body.clips.0' }));
    assert.deepEqual(
      [refused.status, refused.code, refused.field, refused.headers],
      [422, 'AUDIO_INVALID', 'body.clips.0', {}],
    );
    const busy = toApiError(new VoiceError('OVERLOADED', 'the audio sandbox is busy', { retryAfterS: 5 }));
    assert.deepEqual(
      [busy.status, busy.code, busy.field, busy.headers],
      [503, 'OVERLOADED', undefined, { 'Retry-After': '5' }],
    );
  });
});
