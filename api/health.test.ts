import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import supertest from 'supertest';
import { testApp } from '../test/helpers/app.ts';
import { openTestDb } from '../test/helpers/db.ts';
import { createApp } from './index.ts';
import { resolveRefs } from './routes/docs.ts';

describe('health, readiness, metrics, docs', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp();
  });
  after(() => t.close());

  it('/healthz and /readyz answer without a key', async () => {
    assert.deepEqual((await t.request.get('/healthz')).body, { ok: true });
    const ready = await t.request.get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.database, 'up');
    assert.equal(ready.body.migrations.applied, ready.body.migrations.expected);
  });

  it('/readyz is 503 while migrations are missing', async () => {
    const db = await openTestDb({ migrated: false });
    try {
      const server = createAdaptorServer({ fetch: createApp({ db: db.db }).fetch });
      const res = await supertest(server).get('/readyz');
      server.close();
      assert.equal(res.status, 503);
      assert.equal(res.body.ok, false);
      assert.equal(res.body.migrations.applied, 0);
    } finally {
      await db.dispose();
    }
  });

  it('every response carries a request id', async () => {
    const res = await t.request.get('/healthz');
    assert.match(res.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
  });

  it('/metrics counts requests by route pattern', async () => {
    await t.request.get('/v1/keys').set(t.auth(t.tokens.admin));
    const res = await t.request.get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.text, /http_requests_total\{method="GET",route="\/v1\/keys",status="200"\} \d+/);
    assert.match(res.text, /process_cpu_user_seconds_total/);
  });

  it('/openapi.json describes the routes and /docs renders them', async () => {
    const doc = (await t.request.get('/openapi.json')).body;
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/v1/keys'].post.requestBody);
    assert.ok(doc.components.securitySchemes.bearer);
    const page = await t.request.get('/docs');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'] ?? '', /text\/html/);
    assert.match(page.text, /\/v1\/keys/);
    // Schemas are shown resolved: the fields themselves, not pointers into components.
    assert.ok(Object.keys(doc.components.schemas ?? {}).length > 0, 'the document does use components');
    assert.doesNotMatch(page.text, /#\/components\/schemas\//);
    const keyBody = doc.paths['/v1/keys'].post.requestBody.content['application/json'].schema;
    const fields = Object.keys((resolveRefs(keyBody, doc.components.schemas) as { properties: object }).properties);
    for (const f of fields) assert.match(page.text, new RegExp(`&quot;${f}&quot;|"${f}"`), `field ${f} on /docs`);
  });

  it('resolves schema references for /docs, leaving a self-reference as a pointer', () => {
    const components = {
      Name: { type: 'string' },
      Tree: {
        type: 'object',
        properties: {
          name: { $ref: '#/components/schemas/Name' },
          kids: { type: 'array', items: { $ref: '#/components/schemas/Tree' } },
        },
      },
    };
    assert.deepEqual(resolveRefs({ $ref: '#/components/schemas/Tree' }, components), {
      type: 'object',
      properties: { name: { type: 'string' }, kids: { type: 'array', items: { $ref: '#/components/schemas/Tree' } } },
    });
  });
});
