import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import OpenAI from 'openai';
import pino from 'pino';
import { decodeAudio } from '../inference/index.ts';
import { limits } from '../infra/index.ts';
import { testApp } from '../test/helpers/app.ts';
import { binaryBody, espeakWav, manifestOnlyPackage, parseWav } from '../test/helpers/speech.ts';
import { toneEngine } from '../test/helpers/tone-engine.ts';

type T = Awaited<ReturnType<typeof testApp>>;

/** A voice made through the API from one espeak-ng clip of `words`; its id. */
async function makeVoice(t: T, name: string, words: string): Promise<string> {
  const res = await t.request
    .post('/v1/voices')
    .set(t.auth(t.tokens.admin))
    .field('name', name)
    .field('language', 'en')
    .attach('clips', Buffer.from(espeakWav(words)), `${name}.wav`);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id;
}

async function withVoice(t: T, modelDir: string): Promise<string> {
  manifestOnlyPackage(modelDir, 'base');
  await t.request.post('/v1/checkpoints').set(t.auth(t.tokens.admin)).send({ name: 'base', package_path: 'base' });
  return makeVoice(t, 'ada', 'Hello there, this is my voice.');
}

describe('synthesis: /v1/tts', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-tts-'));
  let t: T;
  let voiceId: string;
  before(async () => {
    t = await testApp({ engine: toneEngine({ chunkSamples: 2400 }), dataDir, modelDir: join(dataDir, 'models') });
    voiceId = await withVoice(t, join(dataDir, 'models'));
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const tts = (body: object, token = t.tokens.synth) =>
    t.request
      .post('/v1/tts')
      .set(t.auth(token))
      .send(body)
      .buffer(true)
      .parse(binaryBody as never);

  it('renders a whole WAV with exact sizes, reproducibly from its seed', async () => {
    const res = await tts({ text: 'Twenty characters!!', voice: 'ada', seed: 7 });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'audio/wav');
    assert.equal(res.headers['x-seed'], '7');
    const wav = parseWav(res.body);
    assert.equal(wav.sampleRate, 24000);
    assert.equal(wav.channels, 1);
    assert.equal(wav.bitsPerSample, 16);
    assert.equal(wav.dataBytes, res.body.length - 44);
    assert.equal(wav.samples.length, 2 * 2400, 'two chunks of the tone engine');
    const again = await tts({ text: 'Twenty characters!!', voice: voiceId, seed: 7 });
    assert.deepEqual(again.body, res.body, 'same seed, same bytes (voice by id or name)');
    const other = await tts({ text: 'Twenty characters!!', voice: 'ada', seed: 8 });
    assert.notDeepEqual(other.body, res.body);
  });

  it('keeps speaking with the base model when a fine-tuned checkpoint is registered later', async () => {
    const base = (await t.request.get('/v1/checkpoints').set(t.auth(t.tokens.admin))).body.data[0];
    assert.equal(base.kind, 'base');
    manifestOnlyPackage(join(dataDir, 'models'), 'run-1-step-500', ['en'], 'fine-tuned');
    const ft = await t.request
      .post('/v1/checkpoints')
      .set(t.auth(t.tokens.admin))
      .send({ name: 'run-1', package_path: 'run-1-step-500', step: 500 });
    assert.equal(ft.body.kind, 'fine-tuned');
    const res = await tts({ text: 'Which model speaks?', voice: 'ada', seed: 1 });
    assert.equal(res.headers['x-checkpoint-id'], base.id, 'only a promotion moves a voice off its base');
  });

  it('reports a random seed when none is given, which renders the same audio again', async () => {
    const res = await tts({ text: 'Some words to say.', voice: 'ada' });
    const seed = Number(res.headers['x-seed']);
    assert.ok(Number.isInteger(seed));
    const again = await tts({ text: 'Some words to say.', voice: 'ada', seed });
    assert.deepEqual(again.body, res.body);
  });

  it('streams the same audio chunk by chunk, and raw PCM', async () => {
    const whole = await tts({ text: 'A longer sentence to stream out.', voice: 'ada', seed: 3 });
    const streamed = await tts({ text: 'A longer sentence to stream out.', voice: 'ada', seed: 3, stream: true });
    assert.equal(streamed.status, 200);
    assert.equal(streamed.headers['transfer-encoding'], 'chunked');
    assert.deepEqual(streamed.body.subarray(44), whole.body.subarray(44), 'same samples');
    const pcm = await tts({
      text: 'A longer sentence to stream out.',
      voice: 'ada',
      seed: 3,
      format: 'pcm',
      stream: true,
    });
    assert.equal(pcm.headers['content-type'], 'audio/L16');
    assert.deepEqual(pcm.body, whole.body.subarray(44));
  });

  it('sends server-sent events with base64 chunks and timings', async () => {
    const res = await t.request
      .post('/v1/tts')
      .set(t.auth(t.tokens.synth))
      .send({ text: 'Events for a browser.', voice: 'ada', seed: 3, format: 'pcm', stream: true, stream_format: 'sse' })
      .buffer(true)
      .parse(binaryBody as never);
    assert.equal(res.headers['content-type'], 'text/event-stream');
    const events = res.body
      .toString()
      .split('\n\n')
      .filter(Boolean)
      .map((e: string) => JSON.parse(e.replace(/^data: /, '')));
    const deltas = events.filter((e: { type: string }) => e.type === 'speech.audio.delta');
    assert.ok(deltas.length >= 2);
    const done = events.at(-1);
    assert.equal(done.type, 'speech.audio.done');
    assert.ok(done.timings.audio_seconds > 0);
    const whole = await tts({ text: 'Events for a browser.', voice: 'ada', seed: 3, format: 'pcm' });
    assert.deepEqual(Buffer.concat(deltas.map((d: { audio: string }) => Buffer.from(d.audio, 'base64'))), whole.body);
  });

  it('answers bad requests with the field named', async () => {
    const cases: [object, number, string, string][] = [
      [{ text: 'hi', voice: 'nobody' }, 404, 'VOICE_NOT_FOUND', 'body.voice'],
      [{ text: '', voice: 'ada' }, 400, 'VALIDATION_FAILED', 'body.text'],
      [{ text: '   ', voice: 'ada' }, 400, 'TEXT_EMPTY', 'body.text'],
      [{ text: 'x'.repeat(limits.text.maxChars + 1), voice: 'ada' }, 400, 'TEXT_TOO_LONG', 'body.text'],
      [{ text: 'hi', voice: 'ada', language: 'xx' }, 400, 'LANGUAGE_UNSUPPORTED', 'body.language'],
      [{ text: 'hi', voice: 'ada', temperature: -1 }, 400, 'VALIDATION_FAILED', 'body.temperature'],
      [{ text: 'hi', voice: 'ada', format: 'aiff' }, 400, 'VALIDATION_FAILED', 'body.format'],
      [{ text: 'hi', voice: 'ada', volume: 11 }, 400, 'VALIDATION_FAILED', 'body.volume'],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await t.request.post('/v1/tts').set(t.auth(t.tokens.synth)).send(body);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(res.body.code, code, JSON.stringify(body));
      assert.equal(res.body.field, field, JSON.stringify(body));
    }
  });

  it('needs a key', async () => {
    assert.equal((await t.request.post('/v1/tts').send({ text: 'hi', voice: 'ada' })).status, 401);
  });

  it('refuses a key at once when it is revoked, a voice when it is deleted, though lookups are kept a minute', async () => {
    const made = await t.request.post('/v1/keys').set(t.auth(t.tokens.admin)).send({ name: 'app', scope: 'synth' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const before = await tts({ text: 'Before revoking.', voice: 'ada' }, made.body.token);
    assert.equal(before.status, 200, before.body.toString());
    assert.equal((await t.request.delete(`/v1/keys/${made.body.key.id}`).set(t.auth(t.tokens.admin))).status, 200);
    const refused = await tts({ text: 'After revoking.', voice: 'ada' }, made.body.token);
    assert.equal(refused.status, 401);
    assert.equal(JSON.parse(refused.body.toString()).code, 'INVALID_API_KEY');

    const brief = await makeVoice(t, 'brief', 'A voice that does not stay.');
    assert.equal((await tts({ text: 'Still here.', voice: 'brief' })).status, 200);
    assert.equal((await t.request.delete(`/v1/voices/${brief}`).set(t.auth(t.tokens.admin))).status, 204);
    const gone = await tts({ text: 'Gone.', voice: 'brief' });
    assert.equal(gone.status, 404);
    assert.equal(JSON.parse(gone.body.toString()).code, 'VOICE_NOT_FOUND');
  });

  it('counts requests, first-audio time and real-time factor in /metrics', async () => {
    const text = (await t.request.get('/metrics')).text;
    assert.match(text, /tts_requests_total\{route="\/v1\/tts",format="wav",outcome="ok"\} [1-9]/);
    assert.match(text, /tts_time_to_first_audio_seconds_count\{route="\/v1\/tts"\} [1-9]/);
    assert.match(text, /tts_real_time_factor_count\{route="\/v1\/tts"\} [1-9]/);
  });
});

describe('synthesis: OpenAI-compatible /v1/audio/speech', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-openai-'));
  let t: T;
  let baseURL: string;
  let server: ReturnType<typeof createAdaptorServer>;
  before(async () => {
    t = await testApp({ engine: toneEngine(), dataDir, modelDir: join(dataDir, 'models') });
    await withVoice(t, join(dataDir, 'models'));
    server = createAdaptorServer({ fetch: t.app.fetch });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(async () => {
    server.close();
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the official openai client, WAV and PCM', async () => {
    const client = new OpenAI({ apiKey: t.tokens.synth, baseURL });
    const wav = await client.audio.speech.create({
      model: 'tts-1',
      voice: 'ada',
      input: 'Hello from the client.',
      response_format: 'wav',
    });
    const bytes = new Uint8Array(await wav.arrayBuffer());
    assert.equal(wav.headers.get('content-type'), 'audio/wav');
    const parsed = parseWav(bytes);
    assert.equal(parsed.sampleRate, 24000);
    assert.ok(parsed.samples.length > 0);
    const pcm = await client.audio.speech.create({
      model: 'xtts-v2',
      voice: 'ada',
      input: 'Hello from the client.',
      response_format: 'pcm',
    });
    assert.equal((await pcm.arrayBuffer()).byteLength % 2, 0);
    // Each compressed format decodes back to speech-length audio.
    for (const format of ['mp3', 'opus'] as const) {
      const res = await client.audio.speech.create({
        model: 'tts-1',
        voice: 'ada',
        input: 'Hello from the client.',
        response_format: format,
      });
      const body = new Uint8Array(await res.arrayBuffer());
      assert.equal(res.headers.get('content-type'), format === 'mp3' ? 'audio/mpeg' : 'audio/ogg; codecs=opus');
      const decoded = await decodeAudio(body);
      const seconds = decoded.samples.length / decoded.sampleRate;
      assert.ok(Math.abs(seconds - parsed.samples.length / 24000) < 0.1, `${format}: ${seconds} s`);
    }
    const models = await client.models.list();
    assert.ok(models.data.some((m) => m.id === 'xtts-v2'));
  });

  it('maps errors to what the client raises', async () => {
    const client = new OpenAI({ apiKey: t.tokens.synth, baseURL, maxRetries: 0 });
    await assert.rejects(
      client.audio.speech.create({ model: 'tts-1', voice: 'nobody', input: 'hi', response_format: 'wav' }),
      (err: { status?: number }) => err.status === 404,
    );
    await assert.rejects(
      client.audio.speech.create({ model: 'tts-1', voice: 'ada', input: 'hi', response_format: 'aac' }),
      (err: { status?: number }) => err.status === 400,
    );
    const badKey = new OpenAI({ apiKey: 'xvs_wrong', baseURL, maxRetries: 0 });
    await assert.rejects(
      badKey.audio.speech.create({ model: 'tts-1', voice: 'ada', input: 'hi' }),
      (err: { status?: number }) => err.status === 401,
    );
  });
});

describe('synthesis: failures while streaming', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-fail-'));
  let t: T;
  let engine: ReturnType<typeof toneEngine>;
  let port: number;
  let server: ReturnType<typeof createAdaptorServer>;
  const logged: Record<string, unknown>[] = [];
  before(async () => {
    engine = toneEngine({ failAfterChunks: 2, chunkDelayMs: 20 });
    // The app's log, as JSON lines (pino) into an array.
    const logger = pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line)) });
    t = await testApp({ engine, dataDir, modelDir: join(dataDir, 'models'), logger });
    await withVoice(t, join(dataDir, 'models'));
    server = createAdaptorServer({ fetch: t.app.fetch });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.close();
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const post = (
    body: object,
    onResponse?: (res: import('node:http').IncomingMessage, req: import('node:http').ClientRequest) => void,
  ) =>
    new Promise<{ status: number; bytes: number; error?: string }>((resolve) => {
      const req = httpRequest(
        {
          port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/v1/tts',
          headers: { ...t.auth(t.tokens.synth), 'content-type': 'application/json' },
        },
        (res) => {
          let bytes = 0;
          res.on('data', (d: Buffer) => {
            bytes += d.length;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
          res.on('error', (e) => resolve({ status: res.statusCode ?? 0, bytes, error: e.message }));
          res.on('aborted', () => resolve({ status: res.statusCode ?? 0, bytes, error: 'aborted' }));
          onResponse?.(res, req);
        },
      );
      req.on('error', (e) => resolve({ status: 0, bytes: 0, error: e.message }));
      req.end(JSON.stringify(body));
    });

  it('ends the transfer with an error when the engine fails after audio was sent', async () => {
    const r = await post({ text: 'x'.repeat(100), voice: 'ada', stream: true, format: 'pcm' });
    assert.equal(r.status, 200);
    assert.ok(r.bytes > 0, 'some audio arrived first');
    assert.ok(r.error, 'the client sees a broken transfer, not a clean end');
    // The client saw 200 and a broken transfer: the server's log says what failed.
    const entry = logged.find((l) => l.msg === 'synthesis failed after its audio began');
    assert.ok(entry, `logged: ${JSON.stringify(logged.map((l) => l.msg))}`);
    assert.equal((entry.err as { code?: string }).code, 'ENGINE_FAILED');
    assert.match(String((entry.err as { message?: string }).message), /the engine failed mid-stream/);
    assert.equal(entry.level, 40);
  });

  it('answers JSON when the engine fails before any audio', async () => {
    const failing = toneEngine({ failAfterChunks: 0 });
    const t2 = await testApp({ engine: failing, dataDir, modelDir: join(dataDir, 'models') });
    try {
      await withVoice(t2, join(dataDir, 'models'));
      const res = await t2.request
        .post('/v1/tts')
        .set(t2.auth(t2.tokens.synth))
        .send({ text: 'hello', voice: 'ada', stream: true });
      assert.equal(res.status, 502);
      assert.equal(res.body.code, 'ENGINE_FAILED');
    } finally {
      await t2.close();
    }
  });
});

describe('synthesis: admission under overload', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-admit-'));
  let t: T;
  const engine = toneEngine({ chunkDelayMs: 100 });
  before(async () => {
    t = await testApp({
      engine,
      dataDir,
      modelDir: join(dataDir, 'models'),
      maxInFlight: 1,
    });
    await withVoice(t, join(dataDir, 'models'));
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const tts = (voice = 'ada') =>
    t.request
      .post('/v1/tts')
      .set(t.auth(t.tokens.synth))
      .send({ text: 'x'.repeat(30), voice, stream: true });

  it('answers 503 with Retry-After at once beyond capacity, and frees the slot when the audio ends', async () => {
    let firstDone = false;
    const first = tts().then((r) => {
      firstDone = true; // supertest sends on then()
      return r;
    });
    // The first holds the only slot once the engine speaks for it (however long a loaded machine takes to get there).
    while (engine.stats().active === 0) await new Promise((r) => setTimeout(r, 5));
    const refused = await tts();
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'OVERLOADED');
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(firstDone, false, 'refused while the first was still speaking, not after waiting for it');
    assert.equal((await first).status, 200);
    assert.equal((await tts()).status, 200, 'the slot came back');
  });

  it('frees the slot when the answer is an error', async () => {
    assert.equal((await tts('nobody')).status, 404);
    assert.equal((await t.request.post('/v1/tts').send({ text: 'hi', voice: 'ada' })).status, 401);
    assert.equal((await tts()).status, 200);
  });
});

describe('synthesis: Server-Timing', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-timing-'));
  let t: T;
  before(async () => {
    // The engine holds each request's first chunk for 40 ms: a first audio that takes at least that long.
    const gate = (i: number) => (i === 0 ? new Promise<void>((ok) => setTimeout(ok, 40)) : undefined);
    t = await testApp({ engine: toneEngine({ chunkSamples: 2400, gate }), dataDir, modelDir: join(dataDir, 'models') });
    await withVoice(t, join(dataDir, 'models'));
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const parse = (header: string | undefined) =>
    Object.fromEntries(
      (header ?? '').split(', ').map((e) => {
        const m = /^([a-z-]+);dur=(\d+\.\d)$/.exec(e);
        assert.ok(m, `Server-Timing entry "${e}" in "${header}"`);
        return [m[1] as string, Number(m[2])];
      }),
    );

  it('says where the time to the answer went, on both routes, streamed or not', async () => {
    for (const [path, body] of [
      ['/v1/tts', { text: 'Time this please.', voice: 'ada', stream: true }],
      ['/v1/tts', { text: 'Time this please.', voice: 'ada' }],
      ['/v1/audio/speech', { model: 'xtts-v2', input: 'Time this please.', voice: 'ada', response_format: 'pcm' }],
    ] as const) {
      const res = await t.request
        .post(path)
        .set(t.auth(t.tokens.synth))
        .send(body)
        .buffer(true)
        .parse(binaryBody as never);
      assert.equal(res.status, 200, path);
      const timing = parse(res.headers['server-timing']);
      assert.deepEqual(Object.keys(timing), ['queue', 'request', 'voice', 'first-audio'], path);
      assert.ok((timing['first-audio'] as number) >= 35, `${path}: first audio ${timing['first-audio']} ms`);
      assert.ok((timing.voice as number) >= 0 && (timing.request as number) >= 0 && (timing.queue as number) >= 0);
    }
  });

  it('is absent from a refused request', async () => {
    const res = await t.request.post('/v1/tts').set(t.auth(t.tokens.synth)).send({ text: 'x', voice: 'nobody' });
    assert.equal(res.status, 404);
    assert.equal(res.headers['server-timing'], undefined);
  });
});
