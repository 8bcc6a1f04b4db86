import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testApp } from '../test/helpers/app.ts';

describe('API keys and scopes', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp();
  });
  after(() => t.close());

  it('keeps admin routes closed without a key (401, WWW-Authenticate)', async () => {
    const res = await t.request.get('/v1/keys');
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'UNAUTHORIZED');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });

  it('answers 401 to an unknown key and to a malformed header', async () => {
    for (const header of ['Bearer xvs_notarealkey', 'Bearer', 'Basic dXNlcjpwYXNz', `Bearer ${t.tokens.admin}x`]) {
      const res = await t.request.get('/v1/keys').set('Authorization', header);
      assert.equal(res.status, 401, header);
      assert.equal(res.body.code, 'INVALID_API_KEY');
    }
  });

  it('answers 403 to a synth key on an admin route', async () => {
    const res = await t.request.get('/v1/keys').set(t.auth(t.tokens.synth));
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'FORBIDDEN');
  });

  it('creates, lists and revokes keys; a revoked key gets 401', async () => {
    const created = await t.request.post('/v1/keys').set(t.auth(t.tokens.admin)).send({ name: 'ci', scope: 'admin' });
    assert.equal(created.status, 201);
    const { key, token } = created.body;
    assert.match(token, /^xvs_[A-Za-z0-9_-]{43}$/);
    assert.equal(key.scope, 'admin');
    assert.equal(key.tokenHash, undefined, 'the hash never leaves the server');

    assert.equal((await t.request.get('/v1/keys').set(t.auth(token))).status, 200, 'the new key works');
    const listed = await t.request.get('/v1/keys').set(t.auth(t.tokens.admin));
    assert.ok(listed.body.data.some((k: { id: string }) => k.id === key.id));
    assert.ok(!JSON.stringify(listed.body).includes(token), 'tokens are never listed');

    const revoked = await t.request.delete(`/v1/keys/${key.id}`).set(t.auth(t.tokens.admin));
    assert.equal(revoked.status, 200);
    assert.ok(revoked.body.revoked_at);

    const after = await t.request.get('/v1/keys').set(t.auth(token));
    assert.equal(after.status, 401);
    assert.equal(after.body.code, 'INVALID_API_KEY');
  });

  it('answers 404 when revoking a key that does not exist', async () => {
    const res = await t.request.delete('/v1/keys/00000000-0000-4000-8000-000000000000').set(t.auth(t.tokens.admin));
    assert.equal(res.status, 404);
    assert.equal(res.body.code, 'NOT_FOUND');
    assert.equal(res.body.field, 'path.id');
  });
});
