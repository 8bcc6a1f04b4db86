/**
 * The in-process engine: XTTS-v2 on onnxruntime-node in worker threads, so run() never blocks
 * the caller's event loop. Jobs wait in one bounded queue (full → ENGINE_OVERLOADED) and go to
 * the first free worker. A job's error comes back as an EngineError; a worker that dies anyway
 * (a native crash) fails only its current job and is replaced.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { XttsOptions } from '../xtts/xtts.ts';
import type { JobRequest, WorkerCommand, WorkerReply } from './protocol.ts';
import {
  type AudioChunk,
  type Engine,
  EngineError,
  type EngineStats,
  type SynthesisRequest,
  type VoiceConditioning,
} from './types.ts';

export type EngineOptions = Omit<XttsOptions, 'deviceId'> & {
  device?: 'cpu' | 'cuda';
  /** Worker threads, each with its own sessions (default 1). */
  workers?: number;
  /** CUDA devices the workers are spread over, round robin (default [0]). */
  deviceIds?: number[];
  /** Jobs allowed to wait for a worker (default 16). */
  maxQueue?: number;
  /** Packages each worker keeps open (default 2). */
  maxPackages?: number;
  /** Bytes of graphs each worker keeps open (default: no limit beyond maxPackages). */
  packageBudgetBytes?: number;
  /** Voices remembered by (package, clips) so a repeated reference is not encoded again (default 64). */
  voiceCacheSize?: number;
};

export type Rendered = { samples: Float32Array; sampleRate: number; codes: number[][] };

/** The engine plus the calls only the in-process one has. */
export interface LocalEngine extends Engine {
  /** The whole utterance at once (HiFi-GAN over each sentence's latents, as the reference's inference()). */
  render(request: SynthesisRequest): Promise<Rendered>;
  /** Opens a package in every worker ahead of the first request; rejects with MODEL_* errors. */
  preload(packageDir: string): Promise<void>;
  /** Workers replaced after dying (a job's error never counts: those keep their worker). */
  readonly restarts: number;
}

type Sink = {
  chunk?: (c: AudioChunk) => void;
  resolve: (value: unknown) => void;
  reject: (e: EngineError) => void;
};
type Job = { request: JobRequest; sink: Sink; signal?: AbortSignal | undefined; target?: number };
type Slot = { worker: Worker; cancel: Int32Array; job: Job | null; ready: boolean; packages: Set<string> };

/** Engine options from the INFERENCE_* settings (infra/config.ts), shared by the API and pods. */
export function engineOptions(config: { inference: InferenceConfig }): EngineOptions {
  const i = config.inference;
  return {
    device: i.device,
    ...(i.precision ? { precision: i.precision } : {}),
    workers: i.workers,
    maxQueue: i.queue,
    maxPackages: i.maxPackages,
    ...(i.packageBudgetBytes ? { packageBudgetBytes: i.packageBudgetBytes } : {}),
    ...(i.threads ? { intraOpThreads: i.threads } : {}),
  };
}

type InferenceConfig = {
  device: 'cpu' | 'cuda';
  precision?: 'fp32' | 'fp16' | 'int8' | undefined;
  workers: number;
  queue: number;
  maxPackages: number;
  packageBudgetBytes: number | undefined;
  threads: number | undefined;
};

export function createEngine(options: EngineOptions = {}): LocalEngine {
  const count = Math.max(1, options.workers ?? 1);
  const maxQueue = options.maxQueue ?? 16;
  const queue: Job[] = [];
  const slots: Slot[] = [];
  const voices = new Map<string, VoiceConditioning>();
  let nextId = 1;
  let closed = false;
  let restarts = 0;

  const spawn = (i: number): Slot => {
    const cancel = new SharedArrayBuffer(4);
    const {
      workers: _w,
      deviceIds,
      maxQueue: _q,
      maxPackages,
      packageBudgetBytes,
      voiceCacheSize: _v,
      ...xtts
    } = options;
    const deviceId = (deviceIds ?? [0])[i % (deviceIds?.length || 1)] ?? 0;
    // Each CPU worker gets its share of the cores; onnxruntime would otherwise give every one all of them.
    const intraOpThreads = xtts.intraOpThreads ?? Math.max(1, Math.floor(availableParallelism() / count));
    const worker = new Worker(new URL('./worker.ts', import.meta.url), {
      workerData: {
        xtts: { ...xtts, deviceId, intraOpThreads },
        maxPackages: maxPackages ?? 2,
        packageBudgetBytes: packageBudgetBytes ?? Number.POSITIVE_INFINITY,
        cancel,
      },
    });
    const slot: Slot = { worker, cancel: new Int32Array(cancel), job: null, ready: false, packages: new Set() };
    worker.on('message', (m: WorkerReply) => onReply(slot, m));
    worker.on('error', (e) => console.error(`inference worker ${i}:`, e));
    worker.on('exit', (code) => {
      const job = slot.job;
      slot.job = null;
      job?.sink.reject(new EngineError('ENGINE_FAILED', `inference worker stopped (exit ${code})`));
      if (!closed) {
        restarts++;
        slots[i] = spawn(i);
        pump();
      }
    });
    return slot;
  };

  const finish = (slot: Slot) => {
    slot.job = null;
    Atomics.store(slot.cancel, 0, 0);
    pump();
  };

  const onReply = (slot: Slot, m: WorkerReply) => {
    if (m.kind === 'ready') {
      slot.ready = true;
      return pump();
    }
    if (m.kind === 'loaded') {
      if (m.loaded) slot.packages.add(m.packageDir);
      else slot.packages.delete(m.packageDir);
      return;
    }
    const job = slot.job;
    if (!job || job.request.id !== m.id) return;
    if (m.kind === 'chunk') return job.sink.chunk?.(m.chunk);
    if (m.kind === 'error') {
      job.sink.reject(new EngineError(m.code, m.message, m.field));
      return finish(slot);
    }
    if (m.kind === 'voice') job.sink.resolve(m.voice);
    else if (m.kind === 'rendered') job.sink.resolve({ samples: m.samples, sampleRate: m.sampleRate, codes: m.codes });
    else job.sink.resolve(undefined);
    finish(slot);
  };

  /**
   * Voices being conditioned take at most all workers but one, so a synthesis never waits
   * behind a burst of voice uploads: with two or more workers one is always free of them.
   */
  const maxVoiceJobs = Math.max(1, count - 1);
  const pump = () => {
    for (const [i, slot] of slots.entries()) {
      if (!slot.ready || slot.job) continue;
      const voicesRunning = slots.filter((s) => s.job?.request.kind === 'voice').length;
      const at = queue.findIndex(
        (j) =>
          (j.target === undefined || j.target === i) && (j.request.kind !== 'voice' || voicesRunning < maxVoiceJobs),
      );
      if (at < 0) continue;
      const job = queue.splice(at, 1)[0] as Job;
      slot.job = job;
      slot.worker.postMessage(job.request);
    }
  };

  const submit = (request: JobRequest, sink: Sink, signal?: AbortSignal, target?: number): void => {
    const refusal = closed
      ? new EngineError('ENGINE_FAILED', 'engine is closed')
      : signal?.aborted
        ? new EngineError('CANCELLED', 'request was cancelled')
        : slots.every((s) => s.job) && queue.length >= maxQueue
          ? new EngineError('ENGINE_OVERLOADED', `${queue.length} requests already waiting`)
          : null;
    if (refusal) {
      sink.reject(refusal);
      return;
    }
    const job: Job = { request, sink, signal, ...(target !== undefined ? { target } : {}) };
    signal?.addEventListener(
      'abort',
      () => {
        const at = queue.indexOf(job);
        if (at >= 0) {
          queue.splice(at, 1);
          sink.reject(new EngineError('CANCELLED', 'request was cancelled'));
        }
        const slot = slots.find((s) => s.job === job);
        if (slot) {
          // The caller hears at once; the worker stops at its next check and stays busy until then.
          Atomics.store(slot.cancel, 0, request.id);
          sink.reject(new EngineError('CANCELLED', 'request was cancelled'));
        }
      },
      { once: true },
    );
    queue.push(job);
    pump();
  };

  const call = <T>(request: JobRequest, signal?: AbortSignal, target?: number): Promise<T> =>
    new Promise<T>((resolve, reject) =>
      submit(request, { resolve: resolve as (v: unknown) => void, reject }, signal, target),
    );

  for (let i = 0; i < count; i++) slots.push(spawn(i));

  async function* synthesize(r: SynthesisRequest): AsyncGenerator<AudioChunk, void, void> {
    const id = nextId++;
    const buffered: AudioChunk[] = [];
    let wake: (() => void) | null = null;
    let settled: { error?: EngineError } | null = null;
    const poke = () => {
      wake?.();
      wake = null;
    };
    const { signal, ...rest } = r;
    submit(
      { kind: 'synthesize', id, ...rest },
      {
        chunk: (c) => {
          buffered.push(c);
          poke();
        },
        resolve: () => {
          settled = {};
          poke();
        },
        reject: (error) => {
          settled = { error };
          poke();
        },
      },
      signal,
    );
    let finished = false;
    try {
      while (true) {
        if (signal?.aborted) throw new EngineError('CANCELLED', 'request was cancelled');
        const c = buffered.shift();
        if (c) {
          yield c;
          if (c.final) {
            finished = true;
            return;
          }
          continue;
        }
        const s = settled as { error?: EngineError } | null;
        if (s) {
          finished = true;
          if (s.error) throw s.error;
          return;
        }
        await new Promise<void>((ok) => {
          wake = ok;
        });
      }
    } finally {
      // The consumer stopped early: free the worker.
      if (!finished) {
        const slot = slots.find((x) => x.job?.request.id === id);
        if (slot) Atomics.store(slot.cancel, 0, id);
        const at = queue.findIndex((j) => j.request.id === id);
        if (at >= 0) queue.splice(at, 1);
      }
    }
  }

  return {
    async computeVoice(packageDir, clips) {
      const key = createHash('sha256');
      key.update(packageDir);
      for (const c of clips) key.update(createHash('sha256').update(c).digest());
      const k = key.digest('hex');
      const hit = voices.get(k);
      if (hit) return hit;
      const v = await call<VoiceConditioning>({ kind: 'voice', id: nextId++, packageDir, clips });
      voices.set(k, v);
      if (voices.size > (options.voiceCacheSize ?? 64)) voices.delete(voices.keys().next().value as string);
      return v;
    },
    synthesize,
    render(r) {
      const { signal, ...rest } = r;
      return call<Rendered>({ kind: 'render', id: nextId++, ...rest }, signal);
    },
    async preload(packageDir) {
      await Promise.all(slots.map((_, i) => call<void>({ kind: 'load', id: nextId++, packageDir }, undefined, i)));
    },
    get restarts() {
      return restarts;
    },
    stats(): EngineStats {
      const packages = new Set(slots.flatMap((s) => [...s.packages]));
      return { active: slots.filter((s) => s.job).length, queued: queue.length, packages: [...packages] };
    },
    /**
     * Stops every worker: running jobs are cancelled, then each worker releases its sessions
     * and exits by itself. Terminating a thread inside onnxruntime's run() aborts the whole
     * process, so termination is only the fallback for a worker that does not exit in time.
     */
    async close() {
      closed = true;
      for (const j of queue.splice(0)) j.sink.reject(new EngineError('CANCELLED', 'engine closed'));
      await Promise.all(
        slots.map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.job) Atomics.store(s.cancel, 0, s.job.request.id);
              const fallback = setTimeout(() => void s.worker.terminate().then(() => resolve()), 10_000);
              s.worker.once('exit', () => {
                clearTimeout(fallback);
                resolve();
              });
              s.worker.postMessage({ kind: 'close' } satisfies WorkerCommand);
            }),
        ),
      );
    },
  };
}
