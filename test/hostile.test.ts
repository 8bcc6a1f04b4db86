import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { childEnv, limits } from '../infra/index.ts';
import { freshDatabase } from './helpers/db.ts';
import { type HostileFile, hostileCorpus } from './helpers/hostile-audio.ts';
import { spawnServer } from './helpers/process.ts';
import { dataDirWithTinyModel, tinyPackageDir, tinyReferenceClip } from './helpers/tiny.ts';

/**
 * The reliability suite (`npm run test:hostile`): a generated corpus of hostile and odd audio
 * files against every route that takes audio, on a real server process (the tiny model, the
 * real engine), while a synthesis stream runs beside it. Every file is answered within 2 s with
 * a 4xx or a success; the server's peak memory stays within a stated bound above idle; the
 * stream never stalls for more than 1 s; and SIGTERM ends the process in bounded time.
 */
const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);
/**
 * The targets (2 s an answer, 1 s the longest wait of the stream) hold under `npm run
 * test:hostile`, which sets HOSTILE_STRICT=1. Inside the whole suite, on a shared machine that
 * runs other test servers at once, they are wide enough for a machine loaded many times over
 * (measured: load average 12 on 2 cores stretches the slowest answer to 13 s) and still catch
 * what the unchecked decoders did: a forged 4 GHz header never answered at all.
 */
const STRICT = process.env.HOSTILE_STRICT === '1';
const ANSWER_MS = STRICT ? 2000 : 30_000;
const STREAM_GAP_MS = STRICT ? 1000 : 10_000;
/** Peak resident memory of the server above its idle level while the corpus is sent. */
const MEMORY_BOUND_MB = 300;

const rssMb = (pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS') => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};

type Endpoint = {
  name: string;
  send(file: HostileFile): Promise<Response>;
};

describe('hostile audio against every route that takes audio', () => {
  const dirs = dataDirWithTinyModel('tiny');
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let drop: () => Promise<void> = async () => {};
  let auth: Record<string, string>;
  let voiceId: string;
  let testId: string;
  let corpus: HostileFile[];

  before(async () => {
    cpSync(tinyPackageDir, join(dirs.modelDir, 'tiny-b'), { recursive: true });
    const fresh = await freshDatabase();
    drop = fresh.drop;
    const env = {
      PORT: '0',
      LOG_LEVEL: 'warn',
      DATA_DIR: dirs.dataDir,
      JOB_WORKERS: '0',
      // Two engine workers: voices being conditioned do not queue the stream behind them.
      INFERENCE_WORKERS: '2',
      ...(fresh.url ? { DATABASE_URL: fresh.url } : {}),
    };
    [server, corpus] = await Promise.all([spawnServer(['api/server.ts'], env), hostileCorpus()]);
    const created = await run(process.execPath, ['api/cli/keys.ts', 'create', '--scope', 'admin', '--name', 'h'], {
      cwd: root,
      env: childEnv(env),
    });
    const token = /(xvs_\S+)/.exec(created.stdout)?.[1];
    assert.ok(token, created.stdout);
    auth = { authorization: `Bearer ${token}` };

    const form = new FormData();
    form.set('name', 'june');
    form.set('language', 'en');
    form.append('clips', new Blob([tinyReferenceClip()]), 'ref.wav');
    const voice = await fetch(`${server.url}/v1/voices`, { method: 'POST', headers: auth, body: form });
    assert.equal(voice.status, 201, await voice.clone().text());
    voiceId = ((await voice.json()) as { id: string }).id;
    const json = { ...auth, 'content-type': 'application/json' };
    const checkpoints = (await (await fetch(`${server.url}/v1/checkpoints`, { headers: auth })).json()) as {
      data: { id: string; name: string }[];
    };
    const base = checkpoints.data.find((k) => k.name === 'tiny');
    const other = await fetch(`${server.url}/v1/checkpoints`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'tiny-b', package_path: 'tiny-b' }),
    });
    const test = await fetch(`${server.url}/v1/listening/tests`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        voice_id: voiceId,
        name: 'hostile',
        checkpoint_ids: [((await other.json()) as { id: string }).id],
        base_checkpoint_id: base?.id,
        sentences: [{ text: 'Hello there.', seed: 1 }],
        trials_per_rater: { ab_naturalness: 2 },
        gold_per_rater: 0,
        trap_per_rater: 0,
      }),
    });
    assert.equal(test.status, 201, await test.clone().text());
    testId = ((await test.json()) as { id: string }).id;
  });
  after(async () => {
    server?.child.kill('SIGKILL');
    await drop();
    rmSync(dirs.dataDir, { recursive: true, force: true });
  });

  const multipart = (fields: Record<string, string>, field: string, file: HostileFile) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.set(k, v);
    form.append(field, new Blob([Buffer.from(file.bytes)]), `${file.name}.bin`);
    return form;
  };
  const endpoints = (): Endpoint[] => [
    {
      name: 'POST /v1/voices',
      send: (f) =>
        fetch(`${server.url}/v1/voices`, {
          method: 'POST',
          headers: auth,
          body: multipart({ name: f.name, language: 'en' }, 'clips', f),
        }),
    },
    {
      name: 'PUT /v1/listening/tests/{id}/recordings/0',
      send: (f) =>
        fetch(`${server.url}/v1/listening/tests/${testId}/recordings/0`, {
          method: 'PUT',
          headers: auth,
          body: multipart({}, 'audio', f),
        }),
    },
    {
      name: 'POST /v1/datasets (recordings)',
      send: (f) =>
        fetch(`${server.url}/v1/datasets`, {
          method: 'POST',
          headers: auth,
          body: multipart({ name: f.name, language: 'en' }, 'recordings', f),
        }),
    },
    {
      name: 'POST /v1/datasets (ljspeech archive)',
      send: (f) =>
        fetch(`${server.url}/v1/datasets`, {
          method: 'POST',
          headers: auth,
          body: multipart({ name: f.name, language: 'en' }, 'ljspeech', f),
        }),
    },
  ];

  /** Synthesis streams back to back; the longest wait for the next chunk (or a first chunk). */
  function synthesisStream() {
    let stop = false;
    let worst = 0;
    let chunks = 0;
    let failures = 0;
    const done = (async () => {
      let last = performance.now();
      while (!stop) {
        try {
          const res = await fetch(`${server.url}/v1/tts`, {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({
              text: 'Hello there, this is my voice.',
              voice: voiceId,
              stream: true,
              format: 'pcm',
            }),
          });
          if (res.status !== 200 || !res.body) {
            failures++;
            await res.body?.cancel();
            continue;
          }
          for await (const _ of res.body) {
            const now = performance.now();
            worst = Math.max(worst, now - last);
            last = now;
            chunks++;
          }
        } catch {
          failures++; // a broken transfer (the server going away in the SIGTERM test)
          if (server.child.exitCode !== null || server.child.signalCode !== null) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })();
    return {
      async end() {
        stop = true;
        await done;
        return { worst, chunks, failures };
      },
    };
  }

  it('answers every file within 2 s with a 4xx or a success, memory bounded, synthesis streaming beside it', async () => {
    assert.ok(corpus.length >= 200, `${corpus.length} files`);
    const pid = server.child.pid as number;
    // Warm: a synthesis and a checked upload have run once, so idle includes the model and a decoder.
    const warm = [synthesisStream(), synthesisStream()]; // both engine workers load the model
    await new Promise((r) => setTimeout(r, 1000));
    await (await endpoints()[0]?.send(corpus[0] as HostileFile))?.text();
    await Promise.all(warm.map((w) => w.end()));
    const idle = rssMb(pid);
    let peak = idle;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(pid));
    }, 20);

    // Event-loop stalls, the server's (its /metrics max since the last scrape) and this process's:
    // a gap in the stream that both saw at once is the machine, not the server.
    const serverStall = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return 1000 * Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
    };
    await serverStall();
    const ownLoop = monitorEventLoopDelay({ resolution: 10 });
    ownLoop.enable();
    const stream = synthesisStream();
    const results: { endpoint: string; file: string; status: number; ms: number; code?: string }[] = [];
    const t0 = performance.now();
    const jobs = endpoints().flatMap((e) => corpus.map((f) => ({ e, f })));
    // Two at a time: the corpus is the load, beside the stream.
    const worker = async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) {
        const start = performance.now();
        const res = await job.e.send(job.f).catch((e: Error) => e);
        if (res instanceof Error) {
          results.push({
            endpoint: job.e.name,
            file: job.f.name,
            status: 599,
            ms: performance.now() - start,
            code: `${res.message}: ${(res.cause as Error)?.message}`,
          });
          continue;
        }
        const body = (await res.json().catch(() => ({}))) as { code?: string };
        results.push({
          endpoint: job.e.name,
          file: job.f.name,
          status: res.status,
          ms: performance.now() - start,
          ...(body.code ? { code: body.code } : {}),
        });
      }
    };
    await Promise.all([worker(), worker()]);
    const seconds = (performance.now() - t0) / 1000;
    const synthesis = await stream.end();
    clearInterval(sampler);
    peak = Math.max(peak, rssMb(pid));
    ownLoop.disable();
    const stalls = { server: await serverStall(), client: ownLoop.max / 1e6 };

    const slowest = results.reduce((a, b) => (b.ms > a.ms ? b : a));
    const fiveHundreds = results.filter((r) => r.status >= 500);
    const codes = new Map<string, number>();
    for (const r of results)
      codes.set(`${r.status} ${r.code ?? ''}`.trim(), (codes.get(`${r.status} ${r.code ?? ''}`.trim()) ?? 0) + 1);
    console.log(
      `hostile corpus: ${corpus.length} files × ${endpoints().length} routes = ${results.length} requests in ${seconds.toFixed(1)} s; ` +
        `slowest ${slowest.ms.toFixed(0)} ms (${slowest.endpoint}, ${slowest.file}); ` +
        `server memory idle ${idle.toFixed(0)} MB, peak ${peak.toFixed(0)} MB (+${(peak - idle).toFixed(0)} MB, bound +${MEMORY_BOUND_MB} MB); ` +
        `synthesis beside it: ${synthesis.chunks} chunks, longest wait ${synthesis.worst.toFixed(0)} ms, ${synthesis.failures} failed ` +
        `(bounds: ${ANSWER_MS} ms an answer, ${STREAM_GAP_MS} ms a wait${STRICT ? '' : '; npm run test:hostile holds them to 2000 and 1000'})`,
    );
    for (const e of endpoints()) {
      const mine = results.filter((r) => r.endpoint === e.name);
      const total = mine.reduce((n, r) => n + r.ms, 0);
      const worst = mine.reduce((a, b) => (b.ms > a.ms ? b : a));
      console.log(
        `  ${e.name}: ${(total / 1000).toFixed(1)} s in all, slowest ${worst.ms.toFixed(0)} ms (${worst.file})`,
      );
    }
    console.log(
      `longest event-loop stall: server ${stalls.server.toFixed(0)} ms, this test process ${stalls.client.toFixed(0)} ms; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${availableParallelism()} cores`,
    );
    console.log(`answers: ${[...codes].map(([k, n]) => `${k}: ${n}`).join(', ')}`);
    // Each file's slowest answer over the routes, slowest first.
    const perFile = new Map<string, (typeof results)[number]>();
    for (const r of results) if (r.ms > (perFile.get(r.file)?.ms ?? -1)) perFile.set(r.file, r);
    const byFile = [...perFile.values()].sort((a, b) => b.ms - a.ms);
    console.log(
      `slowest answer per file (the ${Math.min(15, byFile.length)} slowest of ${byFile.length}): ` +
        byFile
          .slice(0, 15)
          .map((r) => `${r.file} ${r.ms.toFixed(0)} ms (${r.endpoint}, ${r.status})`)
          .join('; '),
    );

    assert.deepEqual(fiveHundreds, [], `no 5xx; the server said:\n${server.output().slice(-3000)}`);
    for (const r of results) assert.ok(r.status < 500, `${r.endpoint} ${r.file}: ${r.status}`);
    const slow = results.filter((r) => r.ms > ANSWER_MS);
    assert.deepEqual(slow, [], `answers slower than ${ANSWER_MS} ms`);
    // What a voice must make of each file.
    for (const r of results.filter((x) => x.endpoint === 'POST /v1/voices')) {
      const expected = corpus.find((f) => f.name === r.file)?.voice;
      if (expected === 'ok') assert.equal(r.status, 201, `${r.file}: ${r.status} ${r.code}`);
      if (expected === 'refused') assert.ok(r.status >= 400 && r.status < 500, `${r.file}: ${r.status}`);
    }
    assert.ok(peak - idle < MEMORY_BOUND_MB, `peak ${peak.toFixed(0)} MB over idle ${idle.toFixed(0)} MB`);
    assert.equal(synthesis.failures, 0, 'every synthesis beside the corpus succeeded');
    assert.ok(synthesis.chunks > 0);
    assert.ok(synthesis.worst < STREAM_GAP_MS, `the stream waited ${synthesis.worst.toFixed(0)} ms for a chunk`);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it('stops within its grace period on SIGTERM, with a stream and a stalled upload in flight', async () => {
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        const boundary = '--x\r\nContent-Disposition: form-data; name="clips"; filename="a.wav"\r\n\r\n';
        controller.enqueue(new TextEncoder().encode(boundary));
        // …and nothing more: the body never ends.
      },
    });
    const upload = fetch(`${server.url}/v1/voices`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'multipart/form-data; boundary=x' },
      body: stalled,
      duplex: 'half',
    } as RequestInit).catch((e: Error) => e);
    const stream = synthesisStream();
    await new Promise((r) => setTimeout(r, 500));
    const exited = new Promise<string>((resolve) =>
      server.child.once('exit', (code, signal) => resolve(signal ? `on ${signal}` : `with code ${code}`)),
    );
    const t0 = performance.now();
    server.child.kill('SIGTERM');
    const code = await exited;
    const ms = performance.now() - t0;
    await stream.end();
    await upload;
    console.log(`SIGTERM with a stream and a stalled upload in flight: exited ${code} after ${ms.toFixed(0)} ms`);
    assert.ok(ms < limits.shutdown.graceMs + 2000, `exited after ${ms.toFixed(0)} ms`);
    assert.equal(code, 'with code 0', server.output().slice(-2000));
  });
});
