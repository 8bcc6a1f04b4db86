import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testApp } from '../test/helpers/app.ts';
import { espeakWav, manifestOnlyPackage } from '../test/helpers/speech.ts';
import { toneEngine } from '../test/helpers/tone-engine.ts';

describe('voices', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-voices-'));
  const modelDir = join(dataDir, 'models');
  let t: Awaited<ReturnType<typeof testApp>>;
  const clip = espeakWav('The quick brown fox jumps over the lazy dog.');
  const stored = () => readdirSync(join(dataDir, 'voices'), { withFileTypes: true }).map((e) => e.name);

  before(async () => {
    t = await testApp({ engine: toneEngine(), dataDir, modelDir });
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const upload = (fields: Record<string, string>, files: [string, Uint8Array][], token = t.tokens.admin) => {
    let req = t.request.post('/v1/voices').set(t.auth(token));
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    for (const [name, bytes] of files) req = req.attach('clips', Buffer.from(bytes), name);
    return req;
  };

  it('answers 503 MODEL_NOT_READY while no model package is registered', async () => {
    const res = await upload({ name: 'ada', language: 'en' }, [['ada.wav', clip]]);
    assert.equal(res.status, 503);
    assert.equal(res.body.code, 'MODEL_NOT_READY');
  });

  it('registers a model package as a checkpoint, once', async () => {
    manifestOnlyPackage(modelDir, 'base');
    const first = await t.request
      .post('/v1/checkpoints')
      .set(t.auth(t.tokens.admin))
      .send({ name: 'base', package_path: 'base' });
    assert.equal(first.status, 201);
    assert.match(first.body.package_key, /^[0-9a-f]{64}$/);
    const again = await t.request
      .post('/v1/checkpoints')
      .set(t.auth(t.tokens.admin))
      .send({ name: 'base', package_path: 'base' });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
  });

  it('refuses package paths outside MODEL_DIR and folders that are not packages', async () => {
    const out = await t.request
      .post('/v1/checkpoints')
      .set(t.auth(t.tokens.admin))
      .send({ name: 'x', package_path: '../../etc' });
    assert.equal(out.status, 400);
    assert.equal(out.body.field, 'body.package_path');
    const missing = await t.request
      .post('/v1/checkpoints')
      .set(t.auth(t.tokens.admin))
      .send({ name: 'x', package_path: 'nope' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'MODEL_NOT_FOUND');
  });

  it('creates a voice from clips, with its conditioning cached', async () => {
    const res = await upload({ name: 'ada', language: 'en', description: 'narrator' }, [
      ['ada-1.wav', clip],
      ['ada-2.wav', espeakWav('A second sentence, for more of the voice.')],
    ]);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.name, 'ada');
    assert.equal(res.body.clips.length, 2);
    assert.equal(res.body.clips[0].sample_rate, 22050);
    assert.ok(res.body.clips[0].duration_s > 1);
    assert.deepEqual(stored(), [res.body.id]);
    const got = await t.request.get(`/v1/voices/${res.body.id}`).set(t.auth(t.tokens.synth));
    assert.equal(got.status, 200);
    assert.equal(got.body.clips.length, 2);
  });

  it('refuses bad uploads with the field named, storing nothing', async () => {
    const before = (await t.request.get('/v1/voices').set(t.auth(t.tokens.admin))).body.data.length;
    const cases: [Record<string, string>, [string, Uint8Array][], number, string][] = [
      [
        { name: 'x', language: 'en' },
        [['notes.txt', new TextEncoder().encode('not audio at all')]],
        422,
        'body.clips.0',
      ],
      [
        { name: 'x', language: 'en' },
        [
          ['ok.wav', clip],
          ['cut.wav', clip.subarray(0, 30)],
        ],
        422,
        'body.clips.1',
      ],
      [{ name: 'x', language: 'en' }, [], 400, 'body.clips'],
      [{ language: 'en' }, [['ok.wav', clip]], 400, 'body.name'],
      [{ name: 'x', language: 'tlh' }, [['ok.wav', clip]], 400, 'body.language'],
    ];
    for (const [fields, files, status, field] of cases) {
      const res = await upload(fields, files);
      assert.equal(res.status, status, `${field}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.field, field);
    }
    const afterCount = (await t.request.get('/v1/voices').set(t.auth(t.tokens.admin))).body.data.length;
    assert.equal(afterCount, before);
    assert.equal(stored().length, 1, 'no clip files left behind');
  });

  it('keeps voice management to admin keys', async () => {
    const res = await upload({ name: 'x', language: 'en' }, [['ok.wav', clip]], t.tokens.synth);
    assert.equal(res.status, 403);
  });

  it('renames, then deletes a voice with its files', async () => {
    const created = await upload({ name: 'temp', language: 'en' }, [['ok.wav', clip]]);
    const id = created.body.id;
    const renamed = await t.request.patch(`/v1/voices/${id}`).set(t.auth(t.tokens.admin)).send({ name: 'renamed' });
    assert.equal(renamed.body.name, 'renamed');
    const bad = await t.request.patch(`/v1/voices/${id}`).set(t.auth(t.tokens.admin)).send({ checkpoint_id: id });
    assert.equal(bad.status, 400, 'the checkpoint changes only by promotion');
    assert.equal((await t.request.delete(`/v1/voices/${id}`).set(t.auth(t.tokens.admin))).status, 204);
    assert.equal((await t.request.get(`/v1/voices/${id}`).set(t.auth(t.tokens.admin))).status, 404);
    assert.ok(!stored().includes(id));
  });
});

describe('a model placed in MODEL_DIR while the server runs', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-late-model-'));
  const modelDir = join(dataDir, 'models');
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp({ engine: toneEngine(), dataDir, modelDir });
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is found when the first voice needs it, without a restart or a registration call', async () => {
    manifestOnlyPackage(modelDir, 'xtts-v2');
    const res = await t.request
      .post('/v1/voices')
      .set(t.auth(t.tokens.admin))
      .field('name', 'late')
      .field('language', 'en')
      .attach('clips', Buffer.from(espeakWav('Just in time.')), 'late.wav');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const checkpoints = await t.request.get('/v1/checkpoints').set(t.auth(t.tokens.admin));
    assert.deepEqual(
      checkpoints.body.data.map((k: { name: string; kind: string }) => [k.name, k.kind]),
      [['xtts-v2', 'base']],
    );
  });
});
