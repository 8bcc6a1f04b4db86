import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import { spawnServer } from '../../test/helpers/process.ts';
import { manifestOnlyPackage } from '../../test/helpers/speech.ts';
import { tinyReferenceClip } from '../../test/helpers/tiny.ts';
import { toneEngine } from '../../test/helpers/tone-engine.ts';
import { type AudioChunk, type Engine, EngineError, type VoiceConditioning } from '../engine/types.ts';
import { Limiter } from './limiter.ts';
import { createPodPool } from './pool.ts';
import { encodeFrame, heartbeatFrame, voiceToJson } from './protocol.ts';
import { createPodApp } from './server.ts';

const _root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'xtts-pool-'));
const pkg = manifestOnlyPackage(dir, 'base');
const voice: VoiceConditioning = {
  packageKey: 'k',
  gptCondLatent: new Float32Array(8),
  gptCondShape: [1, 1, 8],
  speakerEmbedding: new Float32Array(4),
  speakerShape: [1, 4, 1],
};
const voiceJson = voiceToJson(voice);
const request = (text = 'x'.repeat(40), signal?: AbortSignal) => ({
  packageDir: pkg,
  text,
  language: 'en',
  voice,
  ...(signal ? { signal } : {}),
});

async function inProcessPod(engine: Engine, concurrency = 4, queue = 4, heartbeatMs = 1000) {
  const server = createAdaptorServer({ fetch: createPodApp(engine, { concurrency, queue, heartbeatMs }).fetch });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

/** A raw HTTP server standing in for a pod that misbehaves: `handler` decides what it sends. */
async function fakePod(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A gate the test opens: requests held at it stay held, whatever the clock says, until `open()`. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function healthz(url: string): Promise<{ active: number; queued: number }> {
  return (await (await fetch(`${url}/healthz`)).json()) as { active: number; queued: number };
}

async function until(what: string, check: () => Promise<boolean>) {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await sleep(10);
  }
  assert.fail(`never: ${what}`);
}

const processPod = (delayMs: number) => spawnServer(['test/helpers/pod-process.ts', String(delayMs)]);

async function drain(chunks: AsyncIterable<AudioChunk>): Promise<number> {
  let samples = 0;
  for await (const c of chunks) samples += c.samples.length;
  return samples;
}

after(() => rmSync(dir, { recursive: true, force: true }));

describe('Limiter', () => {
  it('admits `concurrency`, queues `queue`, refuses the rest, and hands slots on in order', async () => {
    const l = new Limiter(2, 1);
    const a = await l.acquire();
    const b = await l.acquire();
    const queued = l.acquire();
    assert.ok(queued);
    assert.equal(l.acquire(), undefined, 'beyond the queue: refused at once');
    a?.();
    const c = await queued;
    assert.equal(l.inUse, 2);
    b?.();
    c?.();
    c?.(); // releasing twice is harmless
    assert.equal(l.inUse, 0);
  });
});

describe('pod pool', () => {
  it('streams through a pod and reproduces the in-process audio', async () => {
    const pod = await inProcessPod(toneEngine());
    const pool = createPodPool({ urls: [pod.url], perPod: 2, queue: 2, timeoutMs: 5000 });
    try {
      const direct = await drain(toneEngine().synthesize(request()));
      assert.equal(await drain(pool.synthesize(request())), direct);
    } finally {
      await pool.close();
      pod.close();
    }
  });

  it('spreads requests over pods by load and keeps each under its limit', async () => {
    const engines = [toneEngine({ chunkDelayMs: 30 }), toneEngine({ chunkDelayMs: 30 })];
    const pods = await Promise.all(engines.map((e) => inProcessPod(e)));
    const pool = createPodPool({ urls: pods.map((p) => p.url), perPod: 2, queue: 10, timeoutMs: 5000 });
    let peak = 0;
    const watch = setInterval(() => {
      for (const p of pool.pods()) peak = Math.max(peak, p.inflight);
    }, 5);
    try {
      await Promise.all(Array.from({ length: 8 }, () => drain(pool.synthesize(request()))));
      assert.ok(peak <= 2, `at most 2 in flight per pod (saw ${peak})`);
      assert.ok(engines.every((e) => e.active === 0));
    } finally {
      clearInterval(watch);
      await pool.close();
      for (const p of pods) p.close();
    }
  });

  it('answers ENGINE_OVERLOADED at once when pods and queue are full', async () => {
    const pod = await inProcessPod(toneEngine({ chunkDelayMs: 50 }));
    const pool = createPodPool({ urls: [pod.url], perPod: 1, queue: 1, timeoutMs: 5000 });
    try {
      let finished = 0;
      const running = [drain(pool.synthesize(request())), drain(pool.synthesize(request()))].map((p) =>
        p.then(() => finished++),
      );
      await new Promise((r) => setTimeout(r, 10));
      await assert.rejects(
        drain(pool.synthesize(request())),
        (e) => e instanceof EngineError && e.code === 'ENGINE_OVERLOADED',
      );
      assert.equal(finished, 0, 'refused while both were still running, not after waiting');
      await Promise.all(running);
    } finally {
      await pool.close();
      pod.close();
    }
  });

  it('passes engine errors through with their code, without retrying', async () => {
    const pod = await inProcessPod(toneEngine());
    const pool = createPodPool({ urls: [pod.url], perPod: 1, queue: 0, timeoutMs: 5000 });
    try {
      await assert.rejects(
        drain(pool.synthesize(request('   '))),
        (e) => e instanceof EngineError && e.code === 'TEXT_EMPTY' && e.field === 'text',
      );
      assert.equal(pool.pods()[0]?.healthy, true);
    } finally {
      await pool.close();
      pod.close();
    }
  });

  it('skips a pod that cannot be reached and marks it down', async () => {
    const live = await inProcessPod(toneEngine());
    const dead = await inProcessPod(toneEngine());
    dead.close();
    const pool = createPodPool({ urls: [dead.url, live.url], perPod: 1, queue: 0, timeoutMs: 5000 });
    try {
      for (let i = 0; i < 3; i++) assert.ok((await drain(pool.synthesize(request()))) > 0);
      assert.equal(pool.pods().find((p) => p.url === dead.url)?.healthy, false);
    } finally {
      await pool.close();
      live.close();
    }
  });

  it('keeps a stream open while the device is slower than the time-out, and a request queued at the pod too', async () => {
    // The device "stalls" at chunk 1 of every request until the test opens the gate: far longer
    // than the pool's time-out. The pod admits one request at a time, so the second one waits
    // in the pod's own queue all that while. Neither may be cut: the pod's heartbeats show it is alive.
    const slow = gate();
    const pod = await inProcessPod(toneEngine({ gate: (i) => (i === 1 ? slow.opened : undefined) }), 1, 1, 20);
    const pool = createPodPool({ urls: [pod.url], perPod: 2, queue: 0, timeoutMs: 1000 });
    try {
      const expected = await drain(toneEngine().synthesize(request()));
      const first = pool.synthesize(request())[Symbol.asyncIterator]();
      const head = await first.next();
      assert.equal(head.done, false);
      let samples = head.value?.samples.length ?? 0;
      const rest = (async () => {
        for (let r = await first.next(); !r.done; r = await first.next()) samples += r.value.samples.length;
        return samples;
      })();
      const second = drain(pool.synthesize(request()));
      await until('the second request waits in the pod', async () => (await healthz(pod.url)).queued === 1);
      await sleep(3000); // three time-outs with no audio
      const still = await healthz(pod.url);
      assert.deepEqual([still.active, still.queued], [1, 1], 'both still there, neither cut');
      slow.open();
      assert.equal(await rest, expected, 'the stalled stream finished whole');
      assert.equal(await second, expected, 'the queued request ran after it, whole');
      assert.equal(pool.pods()[0]?.healthy, true);
    } finally {
      await pool.close();
      pod.close();
    }
  });

  it('ends a stream with ENGINE_FAILED when its pod goes silent, heartbeats included (a hung pod)', async () => {
    const pod = await fakePod((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-xtts-frames' });
      res.write(heartbeatFrame());
      res.write(encodeFrame({ samples: new Float32Array(480), sampleRate: 24000, index: 0, final: false }));
      // ...and then nothing, with the connection left open.
    });
    const pool = createPodPool({ urls: [pod.url], perPod: 1, queue: 0, timeoutMs: 200 });
    try {
      const stream = pool.synthesize(request())[Symbol.asyncIterator]();
      assert.equal((await stream.next()).done, false);
      await assert.rejects(
        stream.next(),
        (e) => e instanceof EngineError && e.code === 'ENGINE_FAILED' && /not even a heartbeat/.test(e.message),
      );
    } finally {
      await pool.close();
      pod.close();
    }
  });

  it('skips a pod that does not answer at all, and refuses as overload (503) when no pod answers', async () => {
    const silent = await fakePod(() => {}); // accepts the connection, never answers
    const live = await inProcessPod(toneEngine());
    const both = createPodPool({ urls: [silent.url, live.url], perPod: 1, queue: 2, timeoutMs: 1000 });
    const alone = createPodPool({ urls: [silent.url], perPod: 1, queue: 0, timeoutMs: 200 });
    try {
      for (let i = 0; i < 2; i++) assert.ok((await drain(both.synthesize(request()))) > 0, 'served by the live pod');
      await assert.rejects(
        drain(alone.synthesize(request())),
        (e) => e instanceof EngineError && e.code === 'ENGINE_OVERLOADED' && /answered within 200 ms/.test(e.message),
      );
    } finally {
      await both.close();
      await alone.close();
      silent.close();
      live.close();
    }
  });

  it('a pod saturated by other clients answers 503 with Retry-After at once; the pool refuses as overload', async () => {
    const held = gate();
    const pod = await inProcessPod(toneEngine({ gate: () => held.opened }), 1, 1, 20);
    // Another API replica's pool fills the pod (one running, one queued) ...
    const other = createPodPool({ urls: [pod.url], perPod: 2, queue: 0, timeoutMs: 2000 });
    // ... so this one's request, within its own bounds, finds the pod full.
    const pool = createPodPool({ urls: [pod.url], perPod: 2, queue: 0, timeoutMs: 2000 });
    try {
      const running = [drain(other.synthesize(request())), drain(other.synthesize(request()))];
      await until('the pod is full', async () => {
        const h = await healthz(pod.url);
        return h.active === 1 && h.queued === 1;
      });
      const raw = await fetch(`${pod.url}/v1/synthesize`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ package_dir: pkg, text: 'x', language: 'en', voice: { ...voiceJson } }),
      });
      assert.equal(raw.status, 503);
      assert.equal(raw.headers.get('retry-after'), '1');
      assert.equal(((await raw.json()) as { code: string }).code, 'ENGINE_OVERLOADED');
      await assert.rejects(
        drain(pool.synthesize(request())),
        (e) => e instanceof EngineError && e.code === 'ENGINE_OVERLOADED',
      );
      await assert.rejects(
        pool.computeVoice(pkg, [new Uint8Array(8)]),
        (e) => e instanceof EngineError && e.code === 'ENGINE_OVERLOADED',
      );
      assert.equal(pool.pods()[0]?.healthy, true, 'a full pod is not a failed one');
      held.open();
      for (const n of await Promise.all(running)) assert.ok(n > 0);
    } finally {
      await other.close();
      await pool.close();
      pod.close();
    }
  });

  it('passes an engine failure after admission through with its code, and keeps the pod healthy', async () => {
    const pod = await inProcessPod(toneEngine({ failAfterChunks: 1 }));
    const pool = createPodPool({ urls: [pod.url], perPod: 1, queue: 0, timeoutMs: 5000 });
    try {
      const stream = pool.synthesize(request())[Symbol.asyncIterator]();
      assert.equal((await stream.next()).done, false);
      await assert.rejects(
        stream.next(),
        (e) =>
          e instanceof EngineError && e.code === 'ENGINE_FAILED' && /mid-stream: the engine failed/.test(e.message),
      );
      assert.equal(pool.pods()[0]?.healthy, true);
    } finally {
      await pool.close();
      pod.close();
    }
  });

  it('computes a voice queued at a pod behind a stalled stream, longer than the time-out', async () => {
    const slow = gate();
    const pod = await inProcessPod(toneEngine({ gate: (i) => (i === 1 ? slow.opened : undefined) }), 1, 1, 20);
    const pool = createPodPool({ urls: [pod.url], perPod: 2, queue: 0, timeoutMs: 1000 });
    try {
      const stream = drain(pool.synthesize(request()));
      await until('the stream runs', async () => (await healthz(pod.url)).active === 1);
      const voiced = pool.computeVoice(pkg, [tinyReferenceClip()]);
      await until('the voice waits in the pod', async () => (await healthz(pod.url)).queued === 1);
      await sleep(3000); // three time-outs
      slow.open();
      const v = await voiced;
      assert.deepEqual(v.gptCondShape, [1, 32, 8]);
      assert.ok((await stream) > 0);
      await assert.rejects(
        pool.computeVoice(join(dir, 'no-such-package'), [tinyReferenceClip()]),
        (e) => e instanceof EngineError && e.code === 'MODEL_NOT_FOUND',
      );
    } finally {
      await pool.close();
      pod.close();
    }
  });

  it('with two pod processes, one killed mid-stream: a clean error, then the other pod serves, nothing hangs', async () => {
    const a = await processPod(40);
    const b = await processPod(40);
    const pool = createPodPool({ urls: [a.url, b.url], perPod: 1, queue: 4, timeoutMs: 3000, healthIntervalMs: 200 });
    try {
      const stream = pool.synthesize(request('y'.repeat(200)))[Symbol.asyncIterator]();
      const first = await stream.next();
      assert.equal(first.done, false);
      const victim = pool.pods().find((p) => p.inflight === 1);
      assert.ok(victim);
      (victim.url === a.url ? a : b).child.kill('SIGKILL');
      await assert.rejects(
        (async () => {
          for (;;) if ((await stream.next()).done) break;
        })(),
        (e) => e instanceof EngineError && e.code === 'ENGINE_FAILED' && /mid-stream|stopped/.test(e.message),
      );
      for (let i = 0; i < 3; i++) assert.ok((await drain(pool.synthesize(request()))) > 0, 'served by the survivor');
      assert.equal(pool.pods().find((p) => p.url === victim.url)?.healthy, false);
    } finally {
      await pool.close();
      a.child.kill();
      b.child.kill();
    }
  });
});
