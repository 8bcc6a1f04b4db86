/**
 * Where uploaded audio is decoded and checked: worker threads apart from the HTTP event loop
 * and the inference workers, each with a capped heap, each job with a time budget that grows
 * with the file's size. A job that overruns its budget, exhausts its worker's heap, crashes a
 * decoder or is cancelled (its client went away, the server is stopping) costs only that
 * worker, which is terminated and replaced; the server and its other requests go on.
 * Jobs beyond the workers wait in a bounded line; past it, SandboxBusyError (503).
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { limits } from '../../infra/index.ts';
import { type AudioErrorCode, AudioInputError } from './errors.ts';
import type { AudioInput, PreparedRecording, PreparedReference } from './prepare.ts';

export type SandboxJob = {
  id: number;
  kind: 'reference' | 'decode' | 'recording';
  input: AudioInput;
  budgetMs: number;
  /** A recording's rate to store it at. */
  sampleRate?: number;
};
export type SandboxReply =
  | { id: number; ok: true; kind: 'reference'; result: PreparedReference }
  | { id: number; ok: true; kind: 'decode'; result: { samples: Float32Array; sampleRate: number } }
  | { id: number; ok: true; kind: 'recording'; result: PreparedRecording }
  | { id: number; ok: false; code: AudioErrorCode; message: string };

export class SandboxBusyError extends Error {
  override name = 'SandboxBusyError';
}
export class SandboxCancelledError extends Error {
  override name = 'SandboxCancelledError';
}

export type AudioSandboxOptions = {
  workers?: number;
  queue?: number;
  heapMb?: number;
  /** Budget of a job: base + per MB of input. */
  baseMs?: number;
  msPerMb?: number;
  /** Start the workers now rather than at the first job (a server: its first upload waits less). */
  warm?: boolean;
};

export interface AudioSandbox {
  /** A voice reference: decoded, checked, cut to its best speech (prepare.ts). */
  prepareReference(input: AudioInput, signal?: AbortSignal): Promise<PreparedReference>;
  /** A recording kept whole, decoded to mono. */
  decode(input: AudioInput, signal?: AbortSignal): Promise<{ samples: Float32Array; sampleRate: number }>;
  /** A recording kept whole, as a mono PCM16 WAV at `sampleRate` (resampled and encoded in the sandbox). */
  recording(input: AudioInput, sampleRate: number, signal?: AbortSignal): Promise<PreparedRecording>;
  /** Jobs running and waiting, workers started (running or idle), and workers replaced. */
  stats(): { running: number; queued: number; workers: number; restarts: number };
  /** Cancels everything and stops the workers. */
  close(): Promise<void>;
}

type Pending = {
  job: SandboxJob;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  signal?: AbortSignal | undefined;
  onAbort?: () => void;
  timer?: NodeJS.Timeout;
};
type Slot = { worker: Worker; ready: Promise<void>; job: Pending | null };

export function createAudioSandbox(options: AudioSandboxOptions = {}): AudioSandbox {
  const A = limits.audio;
  const count = Math.max(1, options.workers ?? A.decodeWorkers);
  const maxQueue = options.queue ?? A.decodeQueue;
  const heapMb = options.heapMb ?? A.decodeHeapMb;
  const baseMs = options.baseMs ?? A.decodeBaseMs;
  const msPerMb = options.msPerMb ?? A.decodeMsPerMb;
  const slots: (Slot | null)[] = Array.from({ length: count }, () => null);
  const queue: Pending[] = [];
  let nextId = 1;
  let restarts = 0;
  let closed = false;

  const spawn = (): Slot => {
    const worker = new Worker(new URL('./sandbox-worker.ts', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    const slot: Slot = {
      worker,
      job: null,
      ready: new Promise<void>((resolve) => {
        worker.once('message', () => resolve());
      }),
    };
    worker.on('message', (m: SandboxReply | { ready: true }) => {
      if (!('id' in m)) return;
      const p = slot.job;
      if (!p || p.job.id !== m.id) return;
      settle(slot, p);
      if (m.ok) p.resolve(m.result);
      else p.reject(new AudioInputError(m.code, m.message));
      pump();
    });
    worker.on('error', (e: Error) => {
      // Heap exhausted (ERR_WORKER_OUT_OF_MEMORY), a decoder's crash: only this job fails.
      const p = slot.job;
      if (p) {
        settle(slot, p);
        const memory = (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
        p.reject(
          new AudioInputError(
            'AUDIO_TOO_COMPLEX',
            memory ? 'decoding the audio ran out of its memory budget' : `the audio decoder failed: ${e.message}`,
          ),
        );
      }
    });
    worker.on('exit', () => {
      const i = slots.indexOf(slot);
      if (i >= 0) slots[i] = null;
      const p = slot.job;
      if (p) {
        settle(slot, p);
        p.reject(new AudioInputError('AUDIO_TOO_COMPLEX', 'the audio decoder stopped'));
      }
      if (!closed) {
        restarts++;
        // A warm sandbox replaces the worker now, so the next upload does not wait for its start.
        if (options.warm) for (let k = 0; k < slots.length; k++) slots[k] ??= spawn();
        pump();
      }
    });
    // An idle worker must not keep a process alive (the listeners above would).
    worker.unref();
    return slot;
  };

  const settle = (slot: Slot, p: Pending) => {
    slot.job = null;
    slot.worker.unref();
    if (p.timer) clearTimeout(p.timer);
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
  };

  /** Ends a worker mid-job: the only way to stop a decoder stuck inside one call. */
  const kill = (slot: Slot, error: Error) => {
    const p = slot.job;
    if (p) {
      settle(slot, p);
      p.reject(error);
    }
    const i = slots.indexOf(slot);
    if (i >= 0) slots[i] = null;
    void slot.worker.terminate();
  };

  const pump = () => {
    if (closed) return;
    for (let i = 0; i < slots.length && queue.length; i++) {
      let slot = slots[i];
      if (slot?.job) continue;
      if (!slot) {
        slot = spawn();
        slots[i] = slot;
      }
      const p = queue.shift() as Pending;
      const s = slot;
      s.job = p;
      s.worker.ref(); // a job in hand keeps the process alive until it is answered
      // The worker checks its deadline itself; this is the backstop for a decoder that never returns.
      p.timer = setTimeout(
        () => kill(s, new AudioInputError('AUDIO_TOO_COMPLEX', 'decoding took longer than its time budget')),
        p.job.budgetMs + 1000,
      );
      p.timer.unref();
      void s.ready.then(() => {
        if (s.job === p) s.worker.postMessage(p.job);
      });
    }
  };

  const budgetOf = (input: AudioInput) => {
    let bytes: number;
    try {
      bytes = 'bytes' in input ? input.bytes.byteLength : statSync(input.path).size;
    } catch {
      bytes = 0;
    }
    return Math.round(baseMs + (bytes / 1e6) * msPerMb);
  };

  if (options.warm) for (let i = 0; i < slots.length; i++) slots[i] = spawn();

  const submit = <T>(
    kind: SandboxJob['kind'],
    input: AudioInput,
    signal?: AbortSignal,
    sampleRate?: number,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (closed) return reject(new SandboxCancelledError('the audio sandbox is closed'));
      if (signal?.aborted) return reject(new SandboxCancelledError('the request was cancelled'));
      const busy = slots.filter((s) => s?.job).length;
      if (busy >= count && queue.length >= maxQueue) {
        return reject(new SandboxBusyError(`${queue.length} audio files are already waiting to be checked`));
      }
      const p: Pending = {
        job: { id: nextId++, kind, input, budgetMs: budgetOf(input), ...(sampleRate ? { sampleRate } : {}) },
        resolve: resolve as (v: unknown) => void,
        reject,
        signal,
      };
      if (signal) {
        p.onAbort = () => {
          const at = queue.indexOf(p);
          if (at >= 0) {
            queue.splice(at, 1);
            reject(new SandboxCancelledError('the request was cancelled'));
            return;
          }
          const slot = slots.find((s) => s?.job === p);
          if (slot) kill(slot, new SandboxCancelledError('the request was cancelled'));
        };
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      queue.push(p);
      pump();
    });

  return {
    prepareReference: (input, signal) => submit<PreparedReference>('reference', input, signal),
    decode: (input, signal) => submit('decode', input, signal),
    recording: (input, sampleRate, signal) => submit<PreparedRecording>('recording', input, signal, sampleRate),
    stats: () => ({
      running: slots.filter((s) => s?.job).length,
      queued: queue.length,
      workers: slots.filter((s) => s).length,
      restarts,
    }),
    async close() {
      closed = true;
      for (const p of queue.splice(0)) p.reject(new SandboxCancelledError('the server is stopping'));
      await Promise.all(
        slots.map((s) => {
          if (!s) return undefined;
          if (s.job) {
            const p = s.job;
            settle(s, p);
            p.reject(new SandboxCancelledError('the server is stopping'));
          }
          return s.worker.terminate();
        }),
      );
    },
  };
}
