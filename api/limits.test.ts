import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineError } from '../inference/index.ts';
import { limits } from '../infra/index.ts';
import { testApp } from '../test/helpers/app.ts';
import { toneEngine } from '../test/helpers/tone-engine.ts';
import { toApiError } from './errors.ts';

/** One limit, one place: the schema, the page and the errors show the same text limit. */
describe('limits', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-limits-'));
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp({ engine: toneEngine(), dataDir, modelDir: join(dataDir, 'models') });
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses text over the limit with TEXT_TOO_LONG on both speech routes, naming the field', async () => {
    const long = 'a'.repeat(limits.text.maxChars + 1);
    const tts = await t.request.post('/v1/tts').set(t.auth(t.tokens.synth)).send({ text: long, voice: 'nobody' });
    assert.equal(tts.status, 400);
    assert.deepEqual([tts.body.code, tts.body.field], ['TEXT_TOO_LONG', 'body.text']);
    const speech = await t.request
      .post('/v1/audio/speech')
      .set(t.auth(t.tokens.synth))
      .send({ model: 'xtts-v2', input: long, voice: 'nobody' });
    assert.equal(speech.status, 400);
    assert.deepEqual([speech.body.code, speech.body.field], ['TEXT_TOO_LONG', 'body.input']);
    // At the limit the text passes validation (and fails later only because the voice is unknown).
    const at = await t.request
      .post('/v1/tts')
      .set(t.auth(t.tokens.synth))
      .send({ text: 'a'.repeat(limits.text.maxChars), voice: 'nobody' });
    assert.equal(at.body.code, 'VOICE_NOT_FOUND');
  });

  it('documents the same limit in the OpenAPI schema and on the page', async () => {
    const doc = (await t.request.get('/openapi.json')).body;
    assert.equal(doc.components.schemas.TtsRequest.properties.text.maxLength, limits.text.maxChars);
    assert.equal(doc.components.schemas.SpeechRequest.properties.input.maxLength, limits.text.maxChars);
    const page = await t.request.get('/');
    assert.match(page.text, new RegExp(`maxlength="${limits.text.maxChars}"`));
  });
});

describe('engine output refused', () => {
  it('is a 502 SYNTHESIS_INVALID, not a 200 with silence', () => {
    const err = toApiError(new EngineError('OUTPUT_INVALID', 'the model produced only silence'));
    assert.deepEqual([err.status, err.code], [502, 'SYNTHESIS_INVALID']);
  });
});
