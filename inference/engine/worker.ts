/**
 * An inference worker: owns loaded model packages and runs one job at a time (onnxruntime's
 * run() holds this thread). A job's failure is sent back as an error message; the worker itself
 * keeps going, so bad input never costs the engine a worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toEngineError, Xtts } from '../xtts/xtts.ts';
import type { JobRequest, WorkerCommand, WorkerInit, WorkerReply } from './protocol.ts';
import { EngineError } from './types.ts';

const init = workerData as WorkerInit;
const port = parentPort;
if (!port) throw new Error('worker.ts runs only as a worker thread');
const cancelSlot = new Int32Array(init.cancel);
const packages = new Map<string, Promise<Xtts>>();

function send(m: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(m, transfer);
}

async function openBytes(): Promise<number> {
  const open = await Promise.all([...packages.values()].map((p) => p.then((x) => x.bytes).catch(() => 0)));
  return open.reduce((a, b) => a + b, 0);
}

async function model(dir: string): Promise<Xtts> {
  let p = packages.get(dir);
  if (p) {
    packages.delete(dir); // re-insert: most recently used last
    packages.set(dir, p);
    return p;
  }
  p = Xtts.load(dir, init.xtts);
  packages.set(dir, p);
  try {
    const x = await p;
    send({ kind: 'loaded', packageDir: dir, loaded: true });
    // Least recently used first, never the one just asked for: by count, then by memory.
    while (packages.size > 1 && (packages.size > init.maxPackages || (await openBytes()) > init.packageBudgetBytes)) {
      const [oldDir, old] = packages.entries().next().value as [string, Promise<Xtts>];
      packages.delete(oldDir);
      send({ kind: 'loaded', packageDir: oldDir, loaded: false });
      await (await old).release();
    }
    return x;
  } catch (e) {
    packages.delete(dir); // a package fixed on disk can be tried again
    throw e;
  }
}

async function run(job: JobRequest): Promise<void> {
  const cancelled = () => {
    if (Atomics.load(cancelSlot, 0) === job.id) throw new EngineError('CANCELLED', 'request was cancelled');
  };
  const x = await model(job.packageDir);
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
  send({ kind: 'done', id: job.id });
}

let current: Promise<void> = Promise.resolve();

port.on('message', (message: JobRequest | WorkerCommand) => {
  if (message.kind === 'close') {
    void current.finally(async () => {
      for (const p of packages.values()) await (await p.catch(() => undefined))?.release();
      packages.clear();
      port.close(); // nothing is left to keep the thread alive: it exits
    });
    return;
  }
  const job = message;
  current = run(job).catch((e: unknown) => {
    const err = toEngineError(e);
    send({ kind: 'error', id: job.id, code: err.code, message: err.message, field: err.field });
  });
});

// Last line of defence: a stray rejection must not end the thread with its loaded models.
process.on('unhandledRejection', (e) => {
  console.error('inference worker: unhandled rejection', e);
});

send({ kind: 'ready' });
