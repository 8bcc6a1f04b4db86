import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import {
  type AudioChunk,
  createEngine,
  createPodApp,
  createPodPool,
  type Engine,
  type SynthesisRequest,
} from '../inference/index.ts';
import { registerModelDir } from '../voices/index.ts';
import { testApp } from './helpers/app.ts';
import { createTinyVoice } from './helpers/e2e.ts';
import { binaryBody } from './helpers/speech.ts';
import { dataDirWithTinyModel } from './helpers/tiny.ts';

/**
 * Overload through inference pods, on the tiny model: requests beyond what the pods and the
 * pool's queue hold are answered 503 with Retry-After (never 502), and a stream whose device
 * stalls for far longer than the pool's time-out is not cut. The stall is a gate the test
 * holds shut after the first chunk of every synthesis, so it lasts exactly as long as the
 * test wants, whatever the machine's speed.
 */
type Gate = { held: Promise<void> | undefined };

function stallingAfterFirstChunk(engine: Engine, gate: Gate): Engine {
  return {
    computeVoice: (dir, clips) => engine.computeVoice(dir, clips),
    async *synthesize(req: SynthesisRequest): AsyncGenerator<AudioChunk> {
      for await (const chunk of engine.synthesize(req)) {
        yield chunk;
        if (chunk.index === 0) await gate.held;
      }
    },
    stats: () => engine.stats(),
    close: () => engine.close(),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('overload through an inference pod, tiny model', () => {
  const dirs = dataDirWithTinyModel('pod-overload');
  const engine = createEngine({ workers: 1 });
  const gate: Gate = { held: undefined };
  let podServer: ReturnType<typeof createAdaptorServer>;
  let pool: ReturnType<typeof createPodPool>;
  let t: Awaited<ReturnType<typeof testApp>>;
  let podUrl: string;

  before(async () => {
    // One pod running one synthesis at a time; the pool sends it one and queues one more.
    const podApp = createPodApp(stallingAfterFirstChunk(engine, gate), { concurrency: 1, queue: 0, heartbeatMs: 25 });
    podServer = createAdaptorServer({ fetch: podApp.fetch });
    await new Promise<void>((resolve) => podServer.listen(0, '127.0.0.1', resolve));
    podUrl = `http://127.0.0.1:${(podServer.address() as AddressInfo).port}`;
    // The time-out is short for a test, and still well above what a loaded machine's event loop
    // can stall for (the pod and the API share this process here).
    pool = createPodPool({ urls: [podUrl], perPod: 1, queue: 1, timeoutMs: 1500 });
    // No admission limit in the API: the pool's own bounds decide.
    t = await testApp({ engine: pool, dataDir: dirs.dataDir, modelDir: dirs.modelDir });
    await registerModelDir(t.db.db, dirs.modelDir);
    await createTinyVoice(t, 'tiny-voice');
  });
  after(async () => {
    await t.close();
    await pool.close();
    podServer.close();
    await engine.close();
    rmSync(dirs.dataDir, { recursive: true, force: true });
  });

  const speak = (seed: number) =>
    t.request
      .post('/v1/tts')
      .set(t.auth(t.tokens.synth))
      .send({ text: 'A slow device is not a failed one.', voice: 'tiny-voice', format: 'pcm', stream: true, seed })
      .buffer(true)
      .parse(binaryBody as never)
      .then((r) => r);

  it('answers 503 with Retry-After beyond the bounds, and finishes the admitted streams whole after a long stall', async () => {
    let open!: () => void;
    gate.held = new Promise<void>((resolve) => {
      open = resolve;
    });
    const running = speak(11);
    // The first request has its first chunk and stalls at the pod; the second waits in the pool's queue.
    for (let i = 0; i < 1000 && pool.stats().active < 1; i++) await sleep(10);
    const queued = speak(12);
    for (let i = 0; i < 1000 && pool.stats().queued < 1; i++) await sleep(10);
    assert.deepEqual({ active: pool.stats().active, queued: pool.stats().queued }, { active: 1, queued: 1 });

    for (const seed of [13, 14]) {
      const refused = await speak(seed);
      assert.equal(refused.status, 503, `not 502: ${refused.body}`);
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(JSON.parse(String(refused.body)).code, 'OVERLOADED');
    }

    await sleep(4500); // three times the pool's time-out with no audio from the pod
    open();
    const [first, second] = await Promise.all([running, queued]);
    gate.held = undefined;
    assert.equal(first.status, 200, String(first.body));
    assert.equal(second.status, 200);
    // The same requests without any stall: the stalled streams must be these exact bytes, not a cut part.
    const [again1, again2] = [await speak(11), await speak(12)];
    assert.ok(again1.body.length > 0);
    assert.deepEqual(first.body, again1.body);
    assert.deepEqual(second.body, again2.body);
    assert.equal(pool.pods()[0]?.healthy, true);
  });
});
