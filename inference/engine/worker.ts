/**
 * An inference worker: owns loaded model packages and runs up to the engine's `maxStreams` jobs
 * at once on them (one copy of each package's sessions, shared). onnxruntime's run() holds this
 * thread, so jobs interleave between runs; with several streams, their GPT decode runs go through
 * the package's DecodeBatcher (xtts/decode-batcher.ts) and advance together. A job's failure is
 * sent back as an error message; the worker itself keeps going, so bad input never costs the
 * engine a worker.
 */
import { execFileSync } from 'node:child_process';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { nativeCopyPath, nativeMemory } from '../native/index.ts';
import { toEngineError, Xtts } from '../xtts/xtts.ts';
import { setMemoryTrace, takePhases } from './phase-times.ts';
import type { WorkerCommand, WorkerInit, WorkerJob, WorkerReply } from './protocol.ts';
import { EngineError } from './types.ts';

const init = workerData as WorkerInit;
const port = parentPort;
if (!port) throw new Error('worker.ts runs only as a worker thread');
const cancelSlots = new Int32Array(init.cancel);
const packages = new Map<string, Promise<Xtts>>();
/** Jobs using each package now: a package in use is never released under them. */
const inUse = new Map<string, number>();

function send(m: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(m, transfer);
}

// INFERENCE_PROFILE=SECONDS (WorkerInit.profileSeconds): every SECONDS, one `inference: times` line on stdout with where this
// worker's time went (engine/phase-times.ts) and how busy its thread was.
const profileSeconds = init.profileSeconds ?? 0;
if (profileSeconds > 0) {
  let last = performance.eventLoopUtilization();
  setInterval(() => {
    const elu = performance.eventLoopUtilization(last);
    last = performance.eventLoopUtilization();
    const phases = takePhases(profileSeconds * 1000);
    // Through the addon on CUDA: whether its host <-> device copies use the copy engines (nativeCopyPath).
    const copies = init.xtts.device === 'cuda' ? nativeCopyPath() : null;
    if (phases) {
      console.log(
        `inference: times (${profileSeconds} s): thread busy ${(100 * elu.utilization).toFixed(0)}%; ${phases}` +
          (copies ? `; host-device copies: ${copies}` : ''),
      );
      const arenas = init.xtts.device === 'cuda' ? arenaLine() : '';
      if (arenas) console.log(`inference: device memory by session (MiB held / in use / most in use): ${arenas}`);
    }
  }, profileSeconds * 1000).unref();
}

/**
 * What the addon's sessions in this worker hold in device memory (their arenas: nativeMemory), largest
 * first, and in all; '' where none holds any (not on the addon's path).
 */
function arenaLine(): string {
  const mib = (b: number | undefined) => ((b ?? 0) / 2 ** 20).toFixed(0);
  const cuda = nativeMemory().filter((s) => s.device === 'cuda' && (s.stats.TotalAllocated ?? 0) > 0);
  // The sessions on the shared arena (INFERENCE_SHARED_ARENA) all report that one arena: listed once.
  const shared = cuda.filter((s) => s.shared);
  const own = cuda.filter((s) => !s.shared);
  if (shared[0]) own.push({ ...shared[0], label: `shared arena (${shared.length} sessions)` });
  const held = own.sort((a, b) => (b.stats.TotalAllocated ?? 0) - (a.stats.TotalAllocated ?? 0));
  if (held.length === 0) return '';
  const sum = (k: string) => held.reduce((a, s) => a + (s.stats[k] ?? 0), 0);
  return `${held.map((s) => `${s.label} ${mib(s.stats.TotalAllocated)} / ${mib(s.stats.InUse)} / ${mib(s.stats.MaxInUse)}`).join(', ')}; all ${mib(sum('TotalAllocated'))} / ${mib(sum('InUse'))}`;
}

// With the profile on CUDA, the GPU's memory in use after each step of loading a package (a session
// opened, the decode state allocated, buckets warmed): where a worker's memory goes. nvidia-smi's
// device total (a container may not see its own process in the per-process list); a diagnostic, so
// the synchronous call at load time is acceptable.
if (profileSeconds > 0 && init.xtts.device === 'cuda') {
  setMemoryTrace((label) => {
    try {
      const used = execFileSync('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits'], {
        timeout: 5000,
        encoding: 'utf8',
      });
      const gpus = used.trim().split('\n');
      const mib = gpus[init.xtts.deviceId ?? 0] ?? gpus[0];
      console.log(`inference: GPU memory in use after ${label}: ${Number(mib)} MiB`);
    } catch (e) {
      console.log(`inference: GPU memory after ${label}: nvidia-smi failed (${(e as Error).message.split('\n')[0]})`);
      setMemoryTrace(null);
    }
  });
}

async function openBytes(): Promise<number> {
  const open = await Promise.all([...packages.values()].map((p) => p.then((x) => x.bytes).catch(() => 0)));
  return open.reduce((a, b) => a + b, 0);
}

/** Releases least recently used packages beyond the count and the memory budget, never one in use. */
async function evict(keep: string): Promise<void> {
  while (packages.size > 1 && (packages.size > init.maxPackages || (await openBytes()) > init.packageBudgetBytes)) {
    const idle = [...packages.keys()].find((d) => d !== keep && !(inUse.get(d) ?? 0));
    if (idle === undefined) return; // over budget until a job using one ends
    const old = packages.get(idle) as Promise<Xtts>;
    packages.delete(idle);
    send({ kind: 'loaded', packageDir: idle, loaded: false });
    await (await old).release();
  }
}

async function model(dir: string): Promise<Xtts> {
  let p = packages.get(dir);
  if (p) {
    packages.delete(dir); // re-insert: most recently used last
    packages.set(dir, p);
    return p;
  }
  p = Xtts.load(dir, init.xtts).then((x) => {
    const graph = x.pkg.sessions.batch ? basename(x.pkg.sessions.batch.path, '.onnx') : null;
    const native = x.nativeDecode;
    if (x.batcher) x.batcher.onRun = (size) => send({ kind: 'batch', size, graph, native });
    // Where a prompt setting was asked for, whether it took effect (it needs the fixed-shape step through
    // the addon and the package's graph for it).
    const asked = [
      init.xtts.prefixCache ? `INFERENCE_PREFIX_CACHE=${init.xtts.prefixCache.voices}` : '',
      init.xtts.prefillBatch ? `INFERENCE_PREFILL_BATCH=${init.xtts.prefillBatch.maxRows}` : '',
      init.xtts.prefillGraph === 'fused' ? 'INFERENCE_PREFILL_GRAPH=fused' : '',
    ].filter(Boolean);
    if (asked.length) console.log(`inference: ${basename(dir)}: prompts ${x.promptPath} (${asked.join(', ')})`);
    return x;
  });
  packages.set(dir, p);
  try {
    const x = await p;
    send({ kind: 'loaded', packageDir: dir, loaded: true });
    await evict(dir);
    return x;
  } catch (e) {
    packages.delete(dir); // a package fixed on disk can be tried again
    throw e;
  }
}

async function run(job: WorkerJob): Promise<void> {
  const cancelled = () => {
    if (Atomics.load(cancelSlots, job.lane) === job.id) throw new EngineError('CANCELLED', 'request was cancelled');
  };
  const dir = job.packageDir;
  inUse.set(dir, (inUse.get(dir) ?? 0) + 1);
  try {
    const x = await model(dir);
    switch (job.kind) {
      case 'load':
        break;
      case 'voice':
        send({ kind: 'voice', id: job.id, voice: await x.computeVoice(job.clips) });
        break;
      case 'render': {
        const r = await x.render(job, cancelled);
        send({ kind: 'rendered', id: job.id, samples: r.samples, sampleRate: r.sampleRate, codes: r.codes }, [
          r.samples.buffer as ArrayBuffer,
        ]);
        break;
      }
      case 'synthesize':
        for await (const chunk of x.stream(job, cancelled)) {
          send({ kind: 'chunk', id: job.id, chunk });
          cancelled();
        }
        break;
    }
  } finally {
    const n = (inUse.get(dir) ?? 1) - 1;
    if (n > 0) inUse.set(dir, n);
    else inUse.delete(dir);
  }
  send({ kind: 'done', id: job.id });
}

const running = new Set<Promise<void>>();

port.on('message', (message: WorkerJob | WorkerCommand) => {
  if (message.kind === 'close') {
    void Promise.allSettled([...running]).then(async () => {
      for (const p of packages.values()) await (await p.catch(() => undefined))?.release();
      packages.clear();
      port.close(); // nothing is left to keep the thread alive: it exits
    });
    return;
  }
  const job = message;
  const done: Promise<void> = run(job)
    .catch((e: unknown) => {
      const err = toEngineError(e);
      send({ kind: 'error', id: job.id, code: err.code, message: err.message, field: err.field });
    })
    .finally(() => running.delete(done));
  running.add(done);
});

// Last line of defence: a stray rejection must not end the thread with its loaded models.
process.on('unhandledRejection', (e) => {
  console.error('inference worker: unhandled rejection', e);
});

send({ kind: 'ready' });
