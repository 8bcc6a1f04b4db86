/**
 * The engine through its worker threads on the tiny fixture package: bad input fails with a
 * clear EngineError and the same worker goes on serving; the queue is bounded; cancellation
 * frees the worker; streaming and non-streaming agree on the codes for a seed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeWav } from '../audio/wav.ts';
import { STREAM_FIRST_CHUNK_CODES } from '../xtts/xtts.ts';
import { createEngine, type LocalEngine } from './engine.ts';
import { EngineError, type VoiceConditioning } from './types.ts';

const fixture = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny');
const pkg = join(fixture, 'package');
const clip = readFileSync(join(fixture, 'ref.wav'));
const greedy = { topK: 1, temperature: 1, topP: 1, repetitionPenalty: 1 };

async function rejects(p: Promise<unknown>, code: string, field?: string): Promise<EngineError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof EngineError, `expected an EngineError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (field) assert.equal(e.field, field);
    assert.ok(e.message.length > 5, 'a message that says what is wrong');
    return e;
  }
  assert.fail(`expected ${code}`);
}

/** A stream's last chunk can reach the consumer just before its worker reports the job done. */
async function idle(engine: LocalEngine): Promise<void> {
  while (engine.stats().active > 0) await new Promise((ok) => setTimeout(ok, 5));
}

async function collect(it: AsyncIterable<{ samples: Float32Array; final: boolean }>) {
  const chunks: { samples: Float32Array; final: boolean }[] = [];
  for await (const c of it) chunks.push(c);
  return chunks;
}

describe('engine (worker threads, tiny fixture)', () => {
  let engine: LocalEngine;
  let voice: VoiceConditioning;
  before(async () => {
    engine = createEngine({ workers: 1, maxQueue: 1, maxAudioCodes: 40 });
    voice = await engine.computeVoice(pkg, [clip]);
  });
  after(() => engine.close());

  it('bad input fails with a clear error and never costs the worker', async () => {
    const req = { packageDir: pkg, language: 'en', voice };
    await rejects(engine.render({ ...req, text: '   ' }), 'TEXT_EMPTY', 'text');
    await rejects(engine.render({ ...req, text: 'a'.repeat(100_000) }), 'TEXT_TOO_LONG', 'text');
    await rejects(engine.render({ ...req, text: 'hello', language: 'tlh' }), 'LANGUAGE_UNSUPPORTED', 'language');
    await rejects(collect(engine.synthesize({ ...req, text: '' })), 'TEXT_EMPTY');
    const silent = encodeWav(new Float32Array(22050 * 2), 22050);
    await rejects(engine.computeVoice(pkg, [silent]), 'AUDIO_SILENT', 'clips.0');
    const short = encodeWav(
      Float32Array.from({ length: 2000 }, (_, i) => Math.sin(i / 5)),
      22050,
    );
    await rejects(engine.computeVoice(pkg, [clip, short]), 'AUDIO_TOO_SHORT', 'clips.1');
    const corrupt = Uint8Array.from(clip.subarray(0, 200));
    corrupt.set([0x66, 0x4c, 0x61, 0x43], 0); // "fLaC" magic over a WAV body
    await rejects(engine.computeVoice(pkg, [corrupt]), 'AUDIO_INVALID', 'clips.0');
    await rejects(engine.computeVoice(pkg, [new TextEncoder().encode('not audio at all, just text')]), 'AUDIO_INVALID');
    await rejects(engine.computeVoice(pkg, []), 'AUDIO_INVALID', 'clips');
    await rejects(engine.render({ ...req, text: 'hi', voice: { ...voice, packageKey: 'other' } }), 'VOICE_MISMATCH');
    await rejects(
      engine.render({ ...req, packageDir: join(fixture, 'no-such-package'), text: 'hi' }),
      'MODEL_NOT_FOUND',
    );
    // Same worker, still serving.
    const r = await engine.render({ ...req, text: 'Hello, world! This is a test.', params: greedy });
    assert.equal(r.codes[0]?.length, 40);
    assert.equal(engine.restarts, 0);
  });

  it('streams the same codes as a whole render for a seed, in chunks that lose nothing at the end', async () => {
    const req = { packageDir: pkg, language: 'en', voice, text: 'Hello, world! This is a test.', params: { seed: 7 } };
    const whole = await engine.render(req);
    const again = await engine.render(req);
    assert.deepEqual(again.codes, whole.codes, 'the same seed re-renders exactly');
    assert.deepEqual(again.samples, whole.samples);
    const other = await engine.render({ ...req, params: { seed: 8 } });
    assert.notDeepEqual(other.codes, whole.codes);

    const chunks = await collect(engine.synthesize(req));
    assert.ok(chunks.length >= 2);
    assert.ok(chunks.at(-1)?.final && chunks.slice(0, -1).every((c) => !c.final));
    // First chunk after STREAM_FIRST_CHUNK_CODES codes: their audio minus the 1024 samples held for the crossfade.
    const first = STREAM_FIRST_CHUNK_CODES;
    assert.equal(chunks[0]?.samples.length, 256 * Math.floor((4 * first * 24000) / 22050) - 1024);
    const total = chunks.reduce((n, c) => n + c.samples.length, 0);
    assert.ok(Math.abs(total - whole.samples.length) <= 256, `${total} streamed vs ${whole.samples.length}`);
  });

  it('refuses work beyond the bounded queue, and a cancelled stream frees its worker', async () => {
    const req = { packageDir: pkg, language: 'en', voice, text: 'Hello, world! This is a test.' };
    await idle(engine);
    const running = engine.render(req);
    const queued = engine.render(req);
    await rejects(engine.render(req), 'ENGINE_OVERLOADED');
    await Promise.all([running, queued]);

    const ac = new AbortController();
    let n = 0;
    const stream = engine.synthesize({ ...req, signal: ac.signal });
    await rejects(
      (async () => {
        for await (const _ of stream) if (++n === 1) ac.abort();
      })(),
      'CANCELLED',
    );
    assert.ok(n < 3, `stopped after ${n} chunks`);
    const r = await engine.render({ ...req, params: greedy });
    assert.equal(r.codes[0]?.length, 40);
    await idle(engine);
    assert.deepEqual(engine.stats(), { active: 0, queued: 0, packages: [pkg] });
  });
});

describe('engine with two workers: voices leave one free for synthesis', () => {
  let engine: LocalEngine;
  before(async () => {
    engine = createEngine({ workers: 2, maxAudioCodes: 20 });
    await engine.preload(pkg);
  });
  after(() => engine.close());

  it('runs one voice at a time while a worker is kept for synthesis, which starts at once', async () => {
    // Distinct clips (a byte of the last sample differs), so none is answered from the voice cache.
    const clips = [1, 2, 3].map((k) => {
      const c = new Uint8Array(clip);
      c[c.length - 1] = (c[c.length - 1] as number) ^ k;
      return c;
    });
    const voices = clips.map((c) => engine.computeVoice(pkg, [c]));
    assert.deepEqual(engine.stats(), { active: 1, queued: 2, packages: [pkg] }, 'one voice runs, two wait');
    const voice = await (voices[0] as Promise<VoiceConditioning>);
    const rendered = engine.render({ packageDir: pkg, language: 'en', voice, text: 'Hi.' });
    assert.equal(engine.stats().active, 2, 'the synthesis took the free worker, ahead of the waiting voices');
    await Promise.all([rendered, ...voices]);
    await idle(engine);
    assert.deepEqual(engine.stats(), { active: 0, queued: 0, packages: [pkg] });
  });
});
