/**
 * `npm run bench:uploads [-- --uploads 20 --mb 400]`: that many voice-clip uploads of that size
 * at once, against a server process with the tiny model. Each body is generated while it is
 * sent (a WAV of espeak-ng speech repeated), so the client holds none of it. Prints the server's
 * resident memory at idle and at its peak, and each upload's answer; exits 1 when an upload
 * gets no answer or the peak exceeds idle by 300 MB or more.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs, promisify } from 'node:util';
import { childEnv } from '../../infra/index.ts';
import { spawnServer } from '../helpers/process.ts';
import { espeakWav } from '../helpers/speech.ts';
import { dataDirWithTinyModel, tinyReferenceClip } from '../helpers/tiny.ts';

const { values } = parseArgs({
  options: { uploads: { type: 'string', default: '20' }, mb: { type: 'string', default: '400' } },
});
const uploads = Number(values.uploads);
const bytesEach = Number(values.mb) * 1024 * 1024;
const BOUND_MB = 300;
const root = new URL('../..', import.meta.url).pathname;

const rssMb = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};

/** A multipart body: name, language, and one WAV clip of `size` bytes of PCM, made as it is read. */
function uploadBody(boundary: string, size: number): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  const speech = espeakWav('This is my voice, recorded for a long time, sentence after sentence.');
  const pcm = speech.subarray(44);
  const block = new Uint8Array(1024 * 1024);
  for (let at = 0; at < block.length; at += pcm.length) block.set(pcm.subarray(0, block.length - at), at);
  const header = new Uint8Array(44);
  header.set(speech.subarray(0, 44));
  const v = new DataView(header.buffer);
  v.setUint32(4, 36 + size, true);
  v.setUint32(40, size, true);
  const head = enc.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nlong-${boundary}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="language"\r\n\r\nen\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="clips"; filename="long.wav"\r\n` +
      'Content-Type: audio/wav\r\n\r\n',
  );
  const tail = enc.encode(`\r\n--${boundary}--\r\n`);
  let sent = 0;
  let stage = 0;
  return new ReadableStream({
    pull(controller) {
      if (stage === 0) {
        controller.enqueue(head);
        controller.enqueue(header);
        stage = 1;
      } else if (sent < size) {
        const n = Math.min(block.length, size - sent);
        controller.enqueue(n === block.length ? block : block.subarray(0, n));
        sent += n;
      } else {
        controller.enqueue(tail);
        controller.close();
      }
    },
  });
}

const { dataDir } = dataDirWithTinyModel('tiny');
const env = { PORT: '0', LOG_LEVEL: 'warn', DATA_DIR: dataDir, JOB_WORKERS: '0' };
const server = await spawnServer(['api/server.ts'], env);
try {
  const created = await promisify(execFile)(
    process.execPath,
    ['api/cli/keys.ts', 'create', '--scope', 'admin', '--name', 'bench'],
    { cwd: root, env: childEnv(env) },
  );
  const token = /(xvs_\S+)/.exec(created.stdout)?.[1];
  const auth = { authorization: `Bearer ${token}` };
  // Warm: one small voice, so idle includes the model, the engine and the audio sandbox.
  const form = new FormData();
  form.set('name', 'warm');
  form.set('language', 'en');
  form.append('clips', new Blob([Buffer.from(tinyReferenceClip())]), 'ref.wav');
  const warm = await fetch(`${server.url}/v1/voices`, { method: 'POST', headers: auth, body: form });
  if (warm.status !== 201) throw new Error(`warm-up voice: ${warm.status} ${await warm.text()}`);
  await new Promise((r) => setTimeout(r, 500));
  const pid = server.child.pid as number;
  const idle = rssMb(pid);
  let peak = idle;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 25);
  const t0 = performance.now();
  console.log(`${uploads} uploads of ${values.mb} MB each at once; server idle at ${idle.toFixed(0)} MB`);
  const answers = await Promise.all(
    Array.from({ length: uploads }, async (_, i) => {
      const boundary = `bench${i}x${Date.now()}`;
      const start = performance.now();
      try {
        const res = await fetch(`${server.url}/v1/voices`, {
          method: 'POST',
          headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` },
          body: uploadBody(boundary, bytesEach),
          duplex: 'half',
        } as RequestInit);
        const body = (await res.json()) as { code?: string; warnings?: { code: string }[] };
        const what = res.status === 201 ? (body.warnings ?? []).map((w) => w.code).join(',') : body.code;
        return { i, status: res.status, what, s: (performance.now() - start) / 1000 };
      } catch (err) {
        return { i, status: 0, what: (err as Error).message, s: (performance.now() - start) / 1000 };
      }
    }),
  );
  clearInterval(sampler);
  peak = Math.max(peak, rssMb(pid));
  const seconds = (performance.now() - t0) / 1000;
  for (const a of answers) console.log(`  upload ${a.i}: ${a.status} ${a.what ?? ''} after ${a.s.toFixed(1)} s`);
  const gb = (uploads * bytesEach) / 1024 ** 3;
  console.log(
    `${gb.toFixed(1)} GB in ${seconds.toFixed(1)} s; server memory idle ${idle.toFixed(0)} MB, peak ${peak.toFixed(0)} MB: +${(peak - idle).toFixed(0)} MB (bound +${BOUND_MB} MB)`,
  );
  const unanswered = answers.filter((a) => a.status === 0);
  if (unanswered.length || peak - idle >= BOUND_MB) {
    console.log(unanswered.length ? `${unanswered.length} uploads got no answer` : 'memory over the bound');
    process.exitCode = 1;
  }
} finally {
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
