import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import { spawnServer } from '../../test/helpers/process.ts';
import { manifestOnlyPackage } from '../../test/helpers/speech.ts';
import { toneEngine } from '../../test/helpers/tone-engine.ts';
import { type AudioChunk, type Engine, EngineError, type VoiceConditioning } from '../engine/types.ts';
import { Limiter } from './limiter.ts';
import { createPodPool } from './pool.ts';
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
const request = (text = 'x'.repeat(40), signal?: AbortSignal) => ({
  packageDir: pkg,
  text,
  language: 'en',
  voice,
  ...(signal ? { signal } : {}),
});

async function inProcessPod(engine: Engine, concurrency = 4, queue = 4) {
  const server = createAdaptorServer({ fetch: createPodApp(engine, { concurrency, queue }).fetch });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
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

  it('times out a pod that stops sending', async () => {
    const pod = await inProcessPod(toneEngine({ chunkDelayMs: 400 }));
    const pool = createPodPool({ urls: [pod.url], perPod: 1, queue: 0, timeoutMs: 150 });
    try {
      await assert.rejects(
        drain(pool.synthesize(request())),
        (e) => e instanceof EngineError && e.code === 'ENGINE_FAILED',
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
