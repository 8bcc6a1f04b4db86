import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { testApp } from './helpers/app.ts';
import { toneEngine } from './helpers/tone-engine.ts';

/**
 * Every route with a JSON body, as the OpenAPI document lists them, gets malformed JSON, wrong
 * types, unknown fields, an oversized body and arbitrary JSON: each answer is a 4xx (or a 2xx
 * for input that happens to be valid) in the one error shape — never a 5xx.
 */
type Operation = { requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } };

describe('bad input to every JSON route', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-bad-'));
  let t: Awaited<ReturnType<typeof testApp>>;
  let routes: { method: string; path: string; properties: string[] }[] = [];
  before(async () => {
    t = await testApp({ engine: toneEngine(), dataDir, modelDir: join(dataDir, 'models'), maxJsonBytes: 16 * 1024 });
    const doc = (await t.request.get('/openapi.json')).body as { paths: Record<string, Record<string, Operation>> };
    routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.requestBody?.content?.['application/json'])
        .map(([method, op]) => ({
          method,
          // Path parameters get ids that exist nowhere.
          path: path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000').replace(/\/\d+$/, ''),
          properties: Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {}),
        })),
    );
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const send = (r: { method: string; path: string }, body: string) =>
    t.request[r.method as 'post'](r.path)
      .set(t.auth(t.tokens.admin))
      .set('Content-Type', 'application/json')
      .send(body);
  const errorShaped = (
    res: { status: number; body: Record<string, unknown>; headers: Record<string, string> },
    what: string,
  ) => {
    assert.ok(res.status >= 400 && res.status < 500, `${what}: status ${res.status}`);
    assert.equal(typeof res.body.code, 'string', `${what}: a code`);
    assert.equal(typeof res.body.message, 'string', `${what}: a message`);
    assert.equal(res.body.request_id, res.headers['x-request-id'], `${what}: the request id`);
  };

  it('finds the JSON routes', () => {
    const names = routes.map((r) => `${r.method} ${r.path}`);
    assert.ok(names.includes('post /v1/keys'));
    assert.ok(names.includes('post /v1/tts'));
    assert.ok(names.includes('post /v1/audio/speech'));
    assert.ok(names.length >= 7, names.join(', '));
  });

  it('malformed JSON is 400 MALFORMED_JSON everywhere', async () => {
    for (const r of routes) {
      const res = await send(r, '{"text": "unterminated');
      errorShaped(res, `${r.method} ${r.path}`);
      assert.equal(res.body.code, 'MALFORMED_JSON', `${r.method} ${r.path}`);
    }
  });

  it('wrong types are 400 naming a field', async () => {
    for (const r of routes) {
      if (r.properties.length === 0) continue;
      const wrong = Object.fromEntries(r.properties.map((p) => [p, { nested: [true] }]));
      const res = await send(r, JSON.stringify(wrong));
      errorShaped(res, `${r.method} ${r.path}`);
      assert.equal(res.status, 400, `${r.method} ${r.path}`);
      assert.match(String(res.body.field), /^body\./, `${r.method} ${r.path}`);
    }
  });

  it('oversized bodies are 413', async () => {
    for (const r of routes) {
      const res = await send(r, JSON.stringify({ text: 'x'.repeat(20 * 1024) }));
      errorShaped(res, `${r.method} ${r.path}`);
      assert.equal(res.status, 413, `${r.method} ${r.path}`);
    }
  });

  it('unknown fields never cause a 5xx, and strict routes name them', async () => {
    for (const r of routes) {
      const res = await send(r, JSON.stringify({ surely_not_a_field: 1 }));
      errorShaped(res, `${r.method} ${r.path}`);
    }
    const keys = await send(
      { method: 'post', path: '/v1/keys' },
      JSON.stringify({ name: 'a', scope: 'admin', extra: 1 }),
    );
    assert.equal(keys.body.field, 'body.extra');
  });

  it('arbitrary JSON never causes a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.jsonValue(), async (r, value) => {
        const res = await send(r, JSON.stringify(value));
        assert.ok(res.status < 500, `${r.method} ${r.path} answered ${res.status} to ${JSON.stringify(value)}`);
        if (res.status >= 400) errorShaped(res, `${r.method} ${r.path}`);
      }),
      { numRuns: 300, seed: 4242 },
    );
  });
});
