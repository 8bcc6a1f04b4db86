/**
 * Load run of /v1/tts on the tiny model: the server runs as `npm start` does, in a process of
 * its own, with a small engine queue (INFERENCE_QUEUE). Each phase drives it with autocannon at
 * a different number of connections and samples the server's resident memory meanwhile.
 * Under overload the server must answer 503 (with Retry-After) instead of letting requests time
 * out, and its memory must stay bounded by the queue, not grow with the connections.
 *
 *   npm run bench:tts            (10 s per phase)
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
// @ts-expect-error autocannon ships no types
import autocannon from 'autocannon';
import { childEnv } from '../../infra/index.ts';
import { spawnServer } from '../helpers/process.ts';
import { dataDirWithTinyModel, tinyReferenceClip } from '../helpers/tiny.ts';

const root = new URL('../..', import.meta.url).pathname;
const seconds = 10;
const QUEUE = 4;
const dirs = dataDirWithTinyModel();
const env = {
  DATA_DIR: dirs.dataDir,
  PORT: '0',
  LOG_LEVEL: 'warn',
  INFERENCE_QUEUE: String(QUEUE),
  INFERENCE_WORKERS: '1',
};

const { url, child: server } = await spawnServer(['api/server.ts'], env);
const rssMb = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
};

try {
  const created = await promisify(execFile)(process.execPath, ['api/cli/keys.ts', 'create', '--scope', 'admin'], {
    cwd: root,
    env: childEnv(env),
  });
  const token = /(xvs_\S+)/.exec(created.stdout)?.[1] ?? '';
  const auth = { authorization: `Bearer ${token}` };
  const form = new FormData();
  form.set('name', 'bench');
  form.set('language', 'en');
  form.set('clips', new Blob([tinyReferenceClip()], { type: 'audio/wav' }), 'ref.wav');
  const voice = await fetch(`${url}/v1/voices`, { method: 'POST', headers: auth, body: form });
  if (voice.status !== 201) throw new Error(`voice: ${voice.status} ${await voice.text()}`);

  const body = JSON.stringify({ text: 'Hello world, this is a test.', voice: 'bench', format: 'pcm', seed: 1 });
  console.log(`POST /v1/tts on the tiny model, 1 engine worker, engine queue ${QUEUE}, ${seconds} s per phase`);
  console.log('connections | 200 | 503 | other | timeouts | req/s | p50 ms (200) | p99 ms | RSS MB before → max');
  // 128 three times: memory that levels off is bounded; memory that climbs each time would not be.
  for (const connections of [1, 4, 32, 128, 128, 128]) {
    const before = rssMb();
    let max = before;
    const sampler = setInterval(() => {
      max = Math.max(max, rssMb());
    }, 100);
    const result = await autocannon({
      url: `${url}/v1/tts`,
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body,
      connections,
      duration: seconds,
      timeout: 10,
    });
    clearInterval(sampler);
    const s = result.statusCodeStats ?? {};
    const ok = s['200']?.count ?? 0;
    const busy = s['503']?.count ?? 0;
    const other = result.non2xx - busy;
    console.log(
      `${String(connections).padStart(11)} | ${ok} | ${busy} | ${other} | ${result.timeouts} | ${result.requests.average.toFixed(0)} | ${result.latency.p50} | ${result.latency.p99} | ${before.toFixed(0)} → ${max.toFixed(0)}`,
    );
  }
} finally {
  server.kill('SIGTERM');
  rmSync(dirs.dataDir, { recursive: true, force: true });
}
