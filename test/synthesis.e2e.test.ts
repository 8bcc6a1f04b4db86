import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import OpenAI from 'openai';
import { promoteCheckpoint } from '../db/index.ts';
import { createEngine, createPodPool, decodeAudio, type Engine } from '../inference/index.ts';
import { registerModelDir } from '../voices/index.ts';
import { testApp } from './helpers/app.ts';
import { createTinyVoice } from './helpers/e2e.ts';
import { spawnServer } from './helpers/process.ts';
import { binaryBody, parseWav } from './helpers/speech.ts';
import { dataDirWithTinyModel } from './helpers/tiny.ts';
import { tinyFineTunedPackages } from './helpers/tiny-checkpoints.ts';

/**
 * The synthesis API on the real engine and the tiny fixture package: model registration, a
 * voice from a real clip, every output format through the official OpenAI client, and inference
 * pods in processes of their own, one of them killed mid-stream.
 */
const _root = new URL('..', import.meta.url).pathname;

async function apiOn(engine: Engine) {
  const dirs = dataDirWithTinyModel();
  const t = await testApp({ engine, dataDir: dirs.dataDir, modelDir: dirs.modelDir });
  const registered = await registerModelDir(t.db.db, dirs.modelDir);
  assert.equal(registered.length, 1, 'the tiny package is found in MODEL_DIR and registered');
  await createTinyVoice(t, 'tiny-voice');
  const server = createAdaptorServer({ fetch: t.app.fetch });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return {
    t,
    dirs,
    baseURL,
    client: new OpenAI({ apiKey: t.tokens.synth, baseURL, maxRetries: 0 }),
    close: async () => {
      server.close();
      await t.close();
      rmSync(dirs.dataDir, { recursive: true, force: true });
    },
  };
}

describe('synthesis on the tiny model, in-process engine', () => {
  const engine = createEngine({ workers: 1 });
  let api: Awaited<ReturnType<typeof apiOn>>;
  before(async () => {
    api = await apiOn(engine);
  });
  after(async () => {
    await api.close();
    await engine.close();
  });

  it('renders a valid 24 kHz WAV, the same bytes for the same seed', async () => {
    const tts = (seed: number) =>
      api.t.request
        .post('/v1/tts')
        .set(api.t.auth(api.t.tokens.synth))
        .send({ text: 'Hello world, this is a test.', voice: 'tiny-voice', seed })
        .buffer(true)
        .parse(binaryBody as never);
    const a = await tts(11);
    assert.equal(a.status, 200, a.body.toString().slice(0, 300));
    const wav = parseWav(a.body);
    assert.equal(wav.sampleRate, 24000);
    assert.ok(wav.samples.length > 2400, `${wav.samples.length} samples`);
    assert.deepEqual((await tts(11)).body, a.body);
    const streamed = await api.t.request
      .post('/v1/tts')
      .set(api.t.auth(api.t.tokens.synth))
      .send({ text: 'Hello world, this is a test.', voice: 'tiny-voice', seed: 11, stream: true })
      .buffer(true)
      .parse(binaryBody as never);
    assert.deepEqual(streamed.body.subarray(44), a.body.subarray(44), 'streamed audio equals the whole render');
  });

  it('serves every response format to the official openai client', async () => {
    const lengths: Record<string, number> = {};
    for (const format of ['wav', 'pcm', 'mp3', 'opus'] as const) {
      const res = await api.client.audio.speech.create({
        model: 'xtts-v2',
        voice: 'tiny-voice',
        input: 'Testing one two.',
        response_format: format,
        seed: 5,
      } as never);
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (format === 'pcm') lengths[format] = bytes.length / 2 / 24000;
      else {
        const audio = await decodeAudio(bytes);
        lengths[format] = audio.samples.length / audio.sampleRate;
      }
    }
    const wav = lengths.wav ?? 0;
    assert.ok(wav > 0.1);
    for (const [format, seconds] of Object.entries(lengths)) {
      assert.ok(Math.abs(seconds - wav) < 0.1, `${format}: ${seconds} s against wav ${wav} s`);
    }
  });

  it('refuses bad input with clear errors and keeps serving', async () => {
    const bad = [
      { text: 'x'.repeat(20_001), voice: 'tiny-voice' },
      { text: 'hello', voice: 'tiny-voice', language: 'tlh' },
      { text: '   ', voice: 'tiny-voice' },
    ];
    for (const body of bad) {
      const res = await api.t.request.post('/v1/tts').set(api.t.auth(api.t.tokens.synth)).send(body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
    }
    const ok = await api.t.request
      .post('/v1/tts')
      .set(api.t.auth(api.t.tokens.synth))
      .send({ text: 'Still here.', voice: 'tiny-voice' });
    assert.equal(ok.status, 200);
  });
});

const startPod = () => spawnServer(['inference/pod/main.ts'], { PORT: '0', HOST: '127.0.0.1', INFERENCE_WORKERS: '1' });

describe('synthesis on the tiny model through two inference pods', () => {
  let pods: { url: string; child: ChildProcess }[];
  let pool: ReturnType<typeof createPodPool>;
  let api: Awaited<ReturnType<typeof apiOn>>;
  before(async () => {
    pods = await Promise.all([startPod(), startPod()]);
    pool = createPodPool({
      urls: pods.map((p) => p.url),
      perPod: 1,
      queue: 8,
      timeoutMs: 20_000,
      healthIntervalMs: 250,
    });
    api = await apiOn(pool);
  });
  after(async () => {
    await api.close();
    await pool.close();
    for (const p of pods) p.child.kill('SIGKILL');
  });

  it('gives the same audio as the in-process engine for the same seed', async () => {
    const local = createEngine({ workers: 1 });
    try {
      const body = {
        model: 'xtts-v2',
        voice: 'tiny-voice',
        input: 'Same seed, same audio.',
        response_format: 'pcm',
        seed: 3,
      };
      const viaPods = new Uint8Array(await (await api.client.audio.speech.create(body as never)).arrayBuffer());
      const localApi = await apiOn(local);
      try {
        const inProcess = new Uint8Array(
          await (await localApi.client.audio.speech.create(body as never)).arrayBuffer(),
        );
        assert.deepEqual(viaPods, inProcess);
      } finally {
        await localApi.close();
      }
    } finally {
      await local.close();
    }
  });

  it('picks up a newly promoted checkpoint without restarting the pods', async () => {
    const [ftDir] = await tinyFineTunedPackages(api.dirs.modelDir, api.dirs.packageDir, [
      { name: 'run-1-step-800', seed: 8, scale: 0.05 },
    ]);
    const registered = await api.t.request
      .post('/v1/checkpoints')
      .set(api.t.auth(api.t.tokens.admin))
      .send({ name: 'run-1', package_path: 'run-1-step-800', step: 800 });
    assert.equal(registered.status, 201);
    assert.equal(registered.body.kind, 'fine-tuned');
    const body = {
      model: 'xtts-v2',
      voice: 'tiny-voice',
      input: 'Which checkpoint is speaking?',
      response_format: 'pcm',
      seed: 2,
    };
    const before = await api.client.audio.speech.create(body as never).asResponse();
    const baseId = before.headers.get('x-checkpoint-id');
    const baseAudio = new Uint8Array(await before.arrayBuffer());
    const pids = pods.map((p) => p.child.pid);

    const [voice] = (await api.t.request.get('/v1/voices').set(api.t.auth(api.t.tokens.synth))).body.data;
    const promoted = await promoteCheckpoint(api.t.db.db, {
      voiceId: voice.id,
      expectedFrom: null,
      to: registered.body.id,
      testId: null,
      statistics: {},
      actor: 'test',
    });
    assert.equal(promoted.ok, true);

    const after = await api.client.audio.speech.create(body as never).asResponse();
    assert.equal(after.headers.get('x-checkpoint-id'), registered.body.id);
    assert.notEqual(after.headers.get('x-checkpoint-id'), baseId);
    assert.notDeepEqual(new Uint8Array(await after.arrayBuffer()), baseAudio, 'another checkpoint, other audio');
    assert.deepEqual(
      pods.map((p) => p.child.pid),
      pids,
      'the same pod processes',
    );
    const loaded = await Promise.all(
      pods.map(async (p) => ((await (await fetch(`${p.url}/healthz`)).json()) as { packages: string[] }).packages),
    );
    assert.ok(ftDir && loaded.flat().includes(ftDir), 'a pod loaded the promoted package on demand');
  });

  it('a pod killed mid-stream: that client gets a clean error, the next requests go to the other pod', async () => {
    // About two minutes of audio: the pod is still generating long after the first chunk arrives.
    const text = 'A long sentence that keeps the pod busy for a while. '.repeat(40);
    const res = await fetch(`${api.baseURL}/tts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.t.tokens.synth}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text, voice: 'tiny-voice', stream: true, format: 'pcm' }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    assert.equal((await reader.read()).done, false, 'audio is streaming');
    const busy = pool.pods().find((p) => p.inflight === 1);
    assert.ok(busy, 'one pod is streaming');
    pods.find((p) => p.url === busy.url)?.child.kill('SIGKILL');
    await assert.rejects(async () => {
      for (;;) if ((await reader.read()).done) break;
    }, 'the transfer breaks instead of ending as if complete');
    for (let i = 0; i < 3; i++) {
      const ok = await api.client.audio.speech.create({
        model: 'xtts-v2',
        voice: 'tiny-voice',
        input: 'Still speaking.',
        response_format: 'wav',
      });
      assert.equal(parseWav(new Uint8Array(await ok.arrayBuffer())).sampleRate, 24000);
    }
    assert.equal(pool.pods().find((p) => p.url === busy.url)?.healthy, false);
    const metrics = await (await fetch(`${api.baseURL.replace(/\/v1$/, '')}/metrics`)).text();
    assert.match(metrics, new RegExp(`inference_pod_healthy\\{pod="${busy.url}"\\} 0`));
    assert.match(metrics, /inference_pod_inflight\{pod="http:[^"]+"\} \d/);
    assert.match(metrics, /inference_queue_depth \d/);
  });
});
