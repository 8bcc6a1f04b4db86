/** The audio sandbox's worker thread: one job at a time, errors sent back with their codes. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { AudioInputError } from './errors.ts';
import { decodeWhole, prepareRecording, prepareReference } from './prepare.ts';
import type { SandboxJob, SandboxReply } from './sandbox.ts';

const port = parentPort;
if (!port) throw new Error('sandbox-worker.ts runs only as a worker thread');

// A clip's decoded audio lives outside the capped heap (ArrayBuffers), and V8 would otherwise keep
// several jobs' worth of it until it felt pressure on the heap itself. So the worker collects after
// a job once its ArrayBuffer memory has grown COLLECT_PAST_BYTES past what the last collection left.
// Not after every job: a full collection of this heap costs about 30 ms of CPU, more than checking
// most clips (the hostile-audio corpus, 524 jobs: 19 s of CPU with a collection after each, 4.9 s
// this way, with the same peak memory; 30 uploads of 50-300 s WAVs: peak 247 MB against 267 MB).
const COLLECT_PAST_BYTES = 8 * 1024 * 1024;
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
let leftByCollection = 0;

port.on('message', async (job: SandboxJob) => {
  const deadline = performance.now() + job.budgetMs;
  try {
    if (job.kind === 'reference') {
      const r = await prepareReference(job.input, deadline);
      port.postMessage({ id: job.id, ok: true, kind: 'reference', result: r } satisfies SandboxReply, [
        r.wav.buffer as ArrayBuffer,
      ]);
    } else if (job.kind === 'recording') {
      const r = await prepareRecording(job.input, job.sampleRate as number, deadline);
      // A kept upload's bytes may share their buffer; only a buffer of its own is transferred.
      const own = r.wav.byteOffset === 0 && r.wav.byteLength === r.wav.buffer.byteLength;
      port.postMessage(
        { id: job.id, ok: true, kind: 'recording', result: r } satisfies SandboxReply,
        own ? [r.wav.buffer as ArrayBuffer] : [],
      );
    } else {
      const r = await decodeWhole(job.input, deadline);
      port.postMessage({ id: job.id, ok: true, kind: 'decode', result: r } satisfies SandboxReply, [
        r.samples.buffer as ArrayBuffer,
      ]);
    }
  } catch (e) {
    const audio = e instanceof AudioInputError;
    port.postMessage({
      id: job.id,
      ok: false,
      code: audio ? e.code : 'AUDIO_CORRUPT',
      message: audio ? e.message : `could not read the audio: ${(e as Error)?.message ?? String(e)}`,
    } satisfies SandboxReply);
  }
  if (process.memoryUsage().arrayBuffers > leftByCollection + COLLECT_PAST_BYTES) {
    collect();
    leftByCollection = process.memoryUsage().arrayBuffers;
  }
});

port.postMessage({ ready: true });
