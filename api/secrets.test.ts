/**
 * API keys and rater tokens never reach the logs, the metrics or an error message: the app runs
 * with the server's logger (api/logger.ts) writing to a captured stream through requests that
 * carry keys and tokens, succeed and fail (bad keys, forged tokens, unknown routes under a
 * token, a failing store, on Postgres a database that refuses connections), and every captured
 * line, the /metrics text and the error bodies are searched for every secret used.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createApiKey, databaseInterruptions } from '../db/index.ts';
import { loadConfig } from '../infra/index.ts';
import { type AudioStore, memoryAudioStore } from '../listening/index.ts';
import { openTestDb, type TestDb } from '../test/helpers/db.ts';
import { voteLoadApp } from '../test/helpers/vote-load.ts';
import { createLogger, redactSecrets } from './logger.ts';
import { createMetrics } from './metrics.ts';

describe('secrets stay out of logs, metrics and errors', () => {
  let db: TestDb;
  const lines: string[] = [];
  before(async () => {
    db = await openTestDb();
  });
  after(() => db.dispose());

  it('after keyed, crowd and failing requests, no key or token appears anywhere', async () => {
    const logger = createLogger(
      { level: 'trace' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(...String(chunk).split('\n').filter(Boolean));
          done();
        },
      }),
    );
    const metrics = createMetrics();
    const store = memoryAudioStore();
    let failReads = false;
    const secrets: string[] = [];
    const audio: AudioStore = {
      put: store.put,
      // A component that puts what it was given into its error message, as careless code does.
      get: async (key) => {
        if (failReads) throw new Error(`could not read ${key} for ${secrets.at(-1)}`);
        return store.get(key);
      },
    };
    const load = await voteLoadApp(db, { raters: 2, votesPerRater: 3, sentences: 4, logger, metrics, audio });
    const base = load.base;
    const synth = (await createApiKey(db.db, { name: 'synth', scope: 'synth' })).token;
    const bogusKey = `xvs_${'Q'.repeat(43)}`;
    const forgedToken = `lrt_${'Z'.repeat(43)}`;
    secrets.push(load.adminToken, synth, bogusKey, forgedToken, ...load.tokens);
    const bodies: string[] = [];
    let requests = 0;
    const call = async (path: string, init: RequestInit = {}) => {
      requests++;
      const res = await fetch(base + path, init);
      const text = await res.text();
      if (res.status >= 400) bodies.push(text);
      return { status: res.status, text };
    };
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const json = (body: unknown, headers: Record<string, string> = {}) => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

    // Keys: good, unknown, the wrong scope, and a new key whose token is in the response.
    assert.equal((await call('/v1/keys', { headers: bearer(load.adminToken) })).status, 200);
    assert.equal((await call('/v1/keys', { headers: bearer(bogusKey) })).status, 401);
    assert.equal((await call('/v1/keys', { headers: bearer(synth) })).status, 403);
    assert.equal((await call(`/v1/keys?token=${bogusKey}`, { headers: bearer(bogusKey) })).status, 401);
    const created = await call('/v1/keys', json({ name: 'made', scope: 'synth' }, bearer(load.adminToken)));
    assert.equal(created.status, 201);
    secrets.push(JSON.parse(created.text).token);

    // The crowd: a new session, pages, state, votes good and bad, audio, forged and unknown paths.
    const joined = await call(load.inviteUrl, json({ consent: true }));
    assert.equal(joined.status, 201);
    secrets.push(JSON.parse(joined.text).token);
    const token = load.tokens[0] as string;
    assert.equal((await call(`/listen/s/${token}`, { headers: { accept: 'text/html' } })).status, 200);
    const state = JSON.parse((await call(`/listen/s/${token}`, { headers: { accept: 'application/json' } })).text);
    const vote = `/listen/s/${token}/trials/${state.trial.trial_id}/vote`;
    assert.equal((await call(vote, json({ answer: 'maybe' }))).status, 400);
    assert.equal((await call(vote, json({ answer: 'a' }))).status, 201);
    assert.equal((await call(vote, json({ answer: 'b' }))).status, 409);
    assert.equal((await call(`/listen/s/${forgedToken}`, { headers: { accept: 'application/json' } })).status, 401);
    const unknown = await call(`/listen/s/${token}/no-such-thing`);
    assert.equal(unknown.status, 404);
    const next = JSON.parse((await call(`/listen/s/${token}`, { headers: { accept: 'application/json' } })).text);
    assert.equal((await call(next.trial.audio.a)).status, 200);
    failReads = true;
    assert.equal((await call(next.trial.audio.b)).status, 500, 'a failing store is a logged internal error');
    failReads = false;

    // On a Postgres server: the database refusing connections while a token is in the path.
    const serverUrl = loadConfig().databaseUrl;
    if (serverUrl && db.url) {
      const cuts = databaseInterruptions(serverUrl, db.url);
      try {
        await cuts.block();
        const away = await call(`/listen/s/${token}`, { headers: { accept: 'application/json' } });
        assert.equal(away.status, 503);
        const keyed = await call('/v1/keys', { headers: bearer(load.adminToken) });
        assert.equal(keyed.status, 503);
      } finally {
        await cuts.unblock();
        await cuts.close();
      }
    }
    const metricsText = (await call('/metrics')).text;
    await load.close();

    const logged = lines.filter((l) => JSON.parse(l).msg === 'request').length;
    assert.ok(logged >= requests, `every request was logged (${logged} of ${requests})`);
    assert.ok(
      lines.some((l) => /unhandled error/.test(l) && /could not read/.test(l)),
      'the internal error was logged with its message',
    );
    assert.ok(metricsText.includes('http_requests_total'), 'the metrics were read');
    for (const secret of secrets) {
      assert.ok(secret.length > 20);
      const shown = `${secret.slice(0, 8)}…`;
      for (const line of lines) assert.ok(!line.includes(secret), `${shown} in a log line: ${redactSecrets(line)}`);
      assert.ok(!metricsText.includes(secret), `${shown} in /metrics`);
      for (const body of bodies) assert.ok(!body.includes(secret), `${shown} in an error body: ${redactSecrets(body)}`);
      // Nor any long piece of it.
      const middle = secret.slice(4, 24);
      for (const line of lines) assert.ok(!line.includes(middle), `part of ${shown} in a log line`);
    }
  });

  it('redactSecrets leaves other text alone', () => {
    assert.equal(redactSecrets('GET /listen/s/lrt_abcDEF123-_xyz9/vote'), 'GET /listen/s/lrt_…/vote');
    assert.equal(redactSecrets('Bearer xvs_0123456789abcdef'), 'Bearer xvs_…');
    assert.equal(
      redactSecrets('a trial 6f1c1b53-1c5e-4c1e-9d55-1a2b3c4d5e6f'),
      'a trial 6f1c1b53-1c5e-4c1e-9d55-1a2b3c4d5e6f',
    );
  });
});
