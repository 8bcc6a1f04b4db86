/**
 * The in-process engine: XTTS-v2 on onnxruntime-node in worker threads, so run() never blocks
 * the caller's event loop. Jobs wait in one bounded queue (full → ENGINE_OVERLOADED) and go to
 * the worker with the most free lanes: each worker runs up to `maxStreams` jobs at once on one
 * copy of its packages, their GPT decode runs batched together (xtts/decode-batcher.ts). A job's
 * error comes back as an EngineError; a worker that dies anyway (a native crash) fails only the
 * jobs it was running and is replaced.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { NativeUnavailableError, nativeAvailable } from '../native/index.ts';

import type { XttsOptions } from '../xtts/xtts.ts';
import type { JobRequest, WorkerCommand, WorkerJob, WorkerReply } from './protocol.ts';
import {
  type AudioChunk,
  type Engine,
  EngineError,
  type EngineStats,
  type SynthesisRequest,
  type VoiceConditioning,
} from './types.ts';

/** Whether the batched decode graph runs through the native addon: 'on' (or refuse to start), 'auto' (when it loads), 'off'. */
export type NativeMode = 'auto' | 'on' | 'off';

export type EngineOptions = Omit<XttsOptions, 'deviceId' | 'decodeBatch' | 'nativeBatch'> & {
  device?: 'cpu' | 'cuda';
  /** Worker threads, each with its own sessions (default 1). */
  workers?: number;
  /**
   * Jobs each worker runs at once, sharing its loaded packages (default 1: one at a time). Above
   * 1, concurrent generations on a package advance through shared decode runs (continuous batching):
   * the batch-1 graph once per generation, or with `batchedDecode` the package's batched decode
   * graph (gpt_batch_<precision>) once for all of them.
   */
  maxStreams?: number;
  /** Generations per decode run at most (default maxStreams); more wait for the next run. */
  batchMax?: number;
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
  /**
   * The batched decode graph (`batchedDecode` with maxStreams above 1) through the native addon
   * (inference/native/: the batch's KV cache and state stay in device memory between runs) instead of
   * onnxruntime-node; the same codes (default 'off'). See nativeDecodePath.
   */
  native?: NativeMode;
  /** Seconds between each worker's `inference: times` line on stdout (engine/phase-times.ts); 0 or unset: none. */
  profileSeconds?: number;
  /** Where the engine says which decode path it took (default console.log). */
  log?: (line: string) => void;
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
  /**
   * Batched decode runs so far (with maxStreams above 1): how many, the generations they carried
   * (sequences / runs is the mean batch) and the largest.
   */
  readonly decodeBatches: DecodeBatches;
}

type Sink = {
  chunk?: (c: AudioChunk) => void;
  resolve: (value: unknown) => void;
  reject: (e: EngineError) => void;
};
type Job = { request: JobRequest; sink: Sink; signal?: AbortSignal | undefined; target?: number };
/** A worker and its lanes: `jobs[lane]` is the job running there (null: free); `cancel[lane]` cancels it. */
type Slot = { worker: Worker; cancel: Int32Array; jobs: (Job | null)[]; ready: boolean; packages: Set<string> };

/** Decode runs the workers made with several generations sharing a package (see LocalEngine.decodeBatches). */
export type DecodeBatches = {
  runs: number;
  sequences: number;
  largest: number;
  /** Runs by the number of generations they carried. */
  sizes: Record<number, number>;
  /** Runs made by the batched decode graph (the rest ran the batch-1 graph once per generation). */
  graphRuns: number;
  /** The batched decode graph of the last such run (e.g. `gpt_batch_fp32`), null before one. */
  graph: string | null;
  /** Runs of the batched decode graph made through the native addon (EngineOptions.native). */
  nativeRuns: number;
};

/**
 * Which path the batched decode takes, from EngineOptions.native and whether the addon loads here
 * (`available`: nativeAvailable, or a stand-in): `native` true for the addon, and a line for the log.
 * 'on' where the addon does not load throws NativeUnavailableError (ERR_NATIVE_UNAVAILABLE) with its
 * reason (not built, or the load error), so a server asked for it does not start without it.
 */
export function nativeDecodePath(
  mode: NativeMode,
  batched: boolean,
  available: () => ReturnType<typeof nativeAvailable>,
): { native: boolean; line: string | null } {
  if (mode === 'off') return { native: false, line: null };
  const addon = available();
  if (mode === 'on' && !addon.ok)
    throw new NativeUnavailableError(
      `INFERENCE_NATIVE=on, but the native addon (inference/native/) is unavailable: ${addon.reason}`,
    );
  if (!batched)
    return {
      native: false,
      line: `inference: INFERENCE_NATIVE=${mode} has no effect: no batched decode graph (INFERENCE_BATCH_GRAPH=true, and INFERENCE_STREAMS above 1 or the addon loaded)`,
    };
  return addon.ok
    ? {
        native: true,
        line: `inference: batched decode through the native addon, state in device memory (INFERENCE_NATIVE=${mode}; onnxruntime ${addon.ortVersion})`,
      }
    : {
        native: false,
        line: `inference: batched decode through onnxruntime-node (INFERENCE_NATIVE=${mode}; native addon unavailable: ${addon.reason})`,
      };
}

/**
 * Codes in a stream's first chunk on CUDA when INFERENCE_STREAM_FIRST_CODES is unset (xtts.ts's
 * STREAM_FIRST_CHUNK_CODES, 16, elsewhere): there the prompt's pass and each code take a few ms, and the
 * first chunk's codes are most of the time to first audio. On an H200 (full size, one stream, HiFi-GAN
 * in TF32) 8 codes gave the first audio in 79 / 92 ms (p50 / p95) against 98 / 113 with 16; 64 streams
 * 165 s of audio per second against 168 (README, benchmark).
 */
export const GPU_STREAM_FIRST_CHUNK_CODES = 8;

/**
 * How long a decode window waits for prompt passes in flight on CUDA unless INFERENCE_PREFILL_FIRST_MS says
 * (XttsOptions.prefillFirstMs). On an H200 at 64 streams (full size, fp32, HiFi-GAN bucket of 8; README,
 * 2026-12-01) the burst's first audio p95 was 583 and 571 ms with 200 against 604 and 641 without, 651
 * with 50; no stream ran out of audio in the runs with 200. Even where prompts kept coming so that every
 * window waited its whole 200 ms, a window of 8 steps (370 ms of audio) would still end before its streams'
 * listeners had played it (a window takes 40–90 ms at 64 streams). A CPU runs the prompts and the step on
 * the same cores either way: 0.
 */
export const GPU_PREFILL_FIRST_MS = 200;

/** Engine options from the INFERENCE_* settings (infra/config.ts), shared by the API and pods. */
export function engineOptions(config: { inference: InferenceConfig }): EngineOptions {
  const i = config.inference;
  // Unset: on CUDA a burst's prompt passes get the device before the decode of the first to join.
  const prefillFirstMs = i.prefillFirstMs ?? (i.device === 'cuda' ? GPU_PREFILL_FIRST_MS : 0);
  return {
    device: i.device,
    ...(i.precision ? { precision: i.precision } : {}),
    ...(i.vocoderPrecision ? { vocoderPrecision: i.vocoderPrecision } : {}),
    ...(i.vocoderTf32 ? { vocoderTf32: true } : {}),
    ...(i.vocoderSms ? { vocoderSms: i.vocoderSms } : {}),
    ...(i.staticStep ? { staticStep: i.staticStep } : {}),
    ...(i.sharedArena ? { sharedArena: true } : {}),
    ...(i.stepCudaGraph ? { stepCudaGraph: true } : {}),
    ...(i.stepStreamPriority === 'high' ? { stepStreamPriority: 'high' as const } : {}),
    ...(i.prefillBatch && i.prefillBatch > 1 ? { prefillBatch: { maxRows: i.prefillBatch } } : {}),
    ...(i.prefixCache ? { prefixCache: { voices: i.prefixCache } } : {}),
    ...(i.prefillGraph === 'fused' ? { prefillGraph: 'fused' as const } : {}),
    ...(i.cudaOptions ? { cudaOptions: i.cudaOptions } : {}),
    workers: i.workers,
    ...(i.streams ? { maxStreams: i.streams } : {}),
    ...(i.batchMax ? { batchMax: i.batchMax } : {}),
    ...(i.batchGraph ? { batchedDecode: true } : {}),
    ...(i.native ? { native: i.native } : {}),
    ...(i.profileSeconds ? { profileSeconds: i.profileSeconds } : {}),
    ...(i.maxTextTokens ? { maxTextTokens: i.maxTextTokens } : {}),
    ...(i.maxAudioCodes ? { maxAudioCodes: i.maxAudioCodes } : {}),
    // Unset: fewer codes on a GPU, where they are quick and the first chunk's decode is most of the wait.
    ...(i.streamFirstCodes
      ? { streamChunkCodes: i.streamFirstCodes }
      : i.device === 'cuda'
        ? { streamChunkCodes: GPU_STREAM_FIRST_CHUNK_CODES }
        : {}),
    ...(i.streamDecodeAhead !== undefined ? { streamDecodeAhead: i.streamDecodeAhead } : {}),
    ...(i.streamChunks ? { streamBucketChunks: i.streamChunks === 'fill' } : {}),
    // Buckets pad HiFi-GAN's windows, which only CUDA's per-shape planning needs (a CPU stays exact).
    ...(i.vocoderBuckets && i.device === 'cuda' ? { hifiganBuckets: i.vocoderBuckets } : {}),
    ...(prefillFirstMs > 0 ? { prefillFirstMs } : {}),
    maxQueue: i.queue,
    maxPackages: i.maxPackages,
    ...(i.packageBudgetBytes ? { packageBudgetBytes: i.packageBudgetBytes } : {}),
    ...(i.threads ? { intraOpThreads: i.threads } : {}),
  };
}

type InferenceConfig = {
  device: 'cpu' | 'cuda';
  precision?: 'fp32' | 'fp16' | 'int8' | 'int4' | undefined;
  vocoderPrecision?: 'fp32' | 'int8' | undefined;
  vocoderTf32?: boolean | undefined;
  vocoderSms?: number | undefined;
  staticStep?: 'dmmha' | 'inplace' | 'xattn' | 'xattn16' | undefined;
  /** The package's graphs but the step from one shared CUDA arena (INFERENCE_SHARED_ARENA). */
  sharedArena?: boolean | undefined;
  stepCudaGraph?: boolean | undefined;
  stepStreamPriority?: 'high' | 'normal' | undefined;
  prefillBatch?: number | undefined;
  /** Voices whose conditioning positions are kept (INFERENCE_PREFIX_CACHE). */
  prefixCache?: number | undefined;
  /** The graph of a prompt's pass (INFERENCE_PREFILL_GRAPH). */
  prefillGraph?: 'trace' | 'fused' | undefined;
  cudaOptions?: Record<string, string> | undefined;
  workers: number;
  /** Jobs per worker at once (INFERENCE_STREAMS). */
  streams?: number | undefined;
  /** Generations per decode run at most (INFERENCE_BATCH_MAX). */
  batchMax?: number | undefined;
  /** The batched decode graph where the package has one (INFERENCE_BATCH_GRAPH). */
  batchGraph?: boolean | undefined;
  /** The batched decode graph through the native addon (INFERENCE_NATIVE). */
  native?: NativeMode | undefined;
  /** Seconds between the workers' `inference: times` lines (INFERENCE_PROFILE). */
  profileSeconds?: number | undefined;
  /** Text tokens per sentence at most (INFERENCE_MAX_TEXT_TOKENS). */
  maxTextTokens?: number | undefined;
  /** Codes per sentence at most (INFERENCE_MAX_AUDIO_CODES). */
  maxAudioCodes?: number | undefined;
  /** Codes in a stream's first chunk (INFERENCE_STREAM_FIRST_CODES). */
  streamFirstCodes?: number | undefined;
  /** Decode runs a stream reads ahead of its audio (INFERENCE_STREAM_DECODE_AHEAD). */
  streamDecodeAhead?: number | undefined;
  /** How later streamed chunks are sized where HiFi-GAN has buckets (INFERENCE_STREAM_CHUNKS). */
  streamChunks?: 'fill' | 'grow' | undefined;
  /** HiFi-GAN's input lengths on CUDA (INFERENCE_VOCODER_BUCKETS). */
  vocoderBuckets?: number[] | undefined;
  /** How long a decode window waits for prompt passes in flight (INFERENCE_PREFILL_FIRST_MS). */
  prefillFirstMs?: number | undefined;
  queue: number;
  maxPackages: number;
  packageBudgetBytes: number | undefined;
  threads: number | undefined;
};

export function createEngine(options: EngineOptions = {}): LocalEngine {
  const count = Math.max(1, options.workers ?? 1);
  const lanes = Math.max(1, Math.floor(options.maxStreams ?? 1));
  const maxQueue = options.maxQueue ?? 16;
  const batches: DecodeBatches = {
    runs: 0,
    sequences: 0,
    largest: 0,
    sizes: {},
    graphRuns: 0,
    graph: null,
    nativeRuns: 0,
  };
  // With one stream per worker the batch-1 graph serves it, except through the native addon: its
  // fixed-shape step (one slot, replayed as a CUDA graph) decodes one stream faster than that graph
  // where the package has one, and every graph then runs off the worker's thread.
  const native = options.native ?? 'off';
  const batched = (options.batchedDecode ?? false) && (lanes > 1 || (native !== 'off' && nativeAvailable().ok));
  // Decided here, before any worker starts: 'on' without the addon fails the engine's creation.
  const path = nativeDecodePath(native, batched, nativeAvailable);
  if (path.line) (options.log ?? console.log)(path.line);
  const queue: Job[] = [];
  const slots: Slot[] = [];
  const voices = new Map<string, VoiceConditioning>();
  let nextId = 1;
  let closed = false;
  let restarts = 0;

  const spawn = (i: number): Slot => {
    const cancel = new SharedArrayBuffer(4 * lanes);
    const {
      workers: _w,
      maxStreams: _s,
      batchMax,
      deviceIds,
      maxQueue: _q,
      maxPackages,
      packageBudgetBytes,
      voiceCacheSize: _v,
      native: _n,
      log: _l,
      profileSeconds,
      ...xtts
    } = options;
    const deviceId = (deviceIds ?? [0])[i % (deviceIds?.length || 1)] ?? 0;
    // Each CPU worker gets its share of the cores; onnxruntime would otherwise give every one all of them.
    // On CUDA a session's CPU threads only run shape arithmetic: one each, or the dozen sessions of a
    // package running at once (through the addon) keep a pool of spinning threads per session.
    const intraOpThreads =
      xtts.intraOpThreads ?? (xtts.device === 'cuda' ? 1 : Math.max(1, Math.floor(availableParallelism() / count)));
    const worker = new Worker(new URL('./worker.ts', import.meta.url), {
      workerData: {
        xtts: {
          ...xtts,
          deviceId,
          intraOpThreads,
          // The batched decode graph only where generations share a worker.
          batchedDecode: batched,
          nativeBatch: path.native,
          // The fixed-shape step (where the package has one) holds a slot for each stream.
          staticDecode: { ...xtts.staticDecode, slots: lanes },
          ...(lanes > 1 || batched ? { decodeBatch: { maxBatch: Math.max(1, batchMax ?? lanes) } } : {}),
          // Several streams' HiFi-GAN windows in one run, where the package has hifigan_batch (and buckets are on: CUDA).
          // At most 8 a run: on an H200 (full size, bucket 128) 16 rows took 2.7 times as long as 8, not 2.
          // Shorter windows go more a run (ROW_LATENTS), but never more than the streams can have waiting.
          ...(lanes > 1 ? { vocoderBatch: { maxRows: Math.min(8, lanes), maxWindows: lanes } } : {}),
        },
        maxPackages: maxPackages ?? 2,
        profileSeconds: profileSeconds ?? 0,
        packageBudgetBytes: packageBudgetBytes ?? Number.POSITIVE_INFINITY,
        cancel,
      },
    });
    const slot: Slot = {
      worker,
      cancel: new Int32Array(cancel),
      jobs: new Array<Job | null>(lanes).fill(null),
      ready: false,
      packages: new Set(),
    };
    worker.on('message', (m: WorkerReply) => onReply(slot, m));
    worker.on('error', (e) => console.error(`inference worker ${i}:`, e));
    worker.on('exit', (code) => {
      const lost = slot.jobs.filter((j): j is Job => j !== null);
      slot.jobs.fill(null);
      for (const job of lost)
        job.sink.reject(new EngineError('ENGINE_FAILED', `inference worker stopped (exit ${code})`));
      if (!closed) {
        restarts++;
        slots[i] = spawn(i);
        pump();
      }
    });
    return slot;
  };

  const finish = (slot: Slot, lane: number) => {
    slot.jobs[lane] = null;
    Atomics.store(slot.cancel, lane, 0);
    pump();
  };
  const running = (s: Slot) => s.jobs.filter((j) => j !== null).length;
  const laneOf = (id: number): { slot: Slot; lane: number } | null => {
    for (const slot of slots) {
      const lane = slot.jobs.findIndex((j) => j?.request.id === id);
      if (lane >= 0) return { slot, lane };
    }
    return null;
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
    if (m.kind === 'batch') {
      batches.runs++;
      batches.sequences += m.size;
      batches.largest = Math.max(batches.largest, m.size);
      batches.sizes[m.size] = (batches.sizes[m.size] ?? 0) + 1;
      if (m.graph) {
        batches.graphRuns++;
        batches.graph = m.graph;
        if (m.native) batches.nativeRuns++;
      }
      return;
    }
    const lane = slot.jobs.findIndex((j) => j?.request.id === m.id);
    const job = slot.jobs[lane];
    if (!job) return;
    if (m.kind === 'chunk') return job.sink.chunk?.(m.chunk);
    if (m.kind === 'error') {
      job.sink.reject(new EngineError(m.code, m.message, m.field));
      return finish(slot, lane);
    }
    if (m.kind === 'voice') job.sink.resolve(m.voice);
    else if (m.kind === 'rendered') job.sink.resolve({ samples: m.samples, sampleRate: m.sampleRate, codes: m.codes });
    else job.sink.resolve(undefined);
    finish(slot, lane);
  };

  /**
   * Voices being conditioned take at most all lanes but one, so a synthesis never waits behind
   * a burst of voice uploads: with two or more lanes one is always free of them.
   */
  const maxVoiceJobs = Math.max(1, count * lanes - 1);
  const pump = () => {
    while (queue.length > 0) {
      const voicesRunning = slots.reduce((n, s) => n + s.jobs.filter((j) => j?.request.kind === 'voice').length, 0);
      // The least busy ready worker with a free lane that a waiting job may take, first in the queue first.
      let placed = false;
      for (const [at, job] of queue.entries()) {
        if (job.request.kind === 'voice' && voicesRunning >= maxVoiceJobs) continue;
        let best = -1;
        for (const [i, s] of slots.entries()) {
          if (!s.ready || (job.target !== undefined && job.target !== i)) continue;
          const n = running(s);
          if (n < lanes && (best < 0 || n < running(slots[best] as Slot))) best = i;
        }
        if (best < 0) continue;
        const slot = slots[best] as Slot;
        const lane = slot.jobs.indexOf(null);
        queue.splice(at, 1);
        slot.jobs[lane] = job;
        Atomics.store(slot.cancel, lane, 0);
        slot.worker.postMessage({ ...job.request, lane } satisfies WorkerJob);
        placed = true;
        break;
      }
      if (!placed) return;
    }
  };

  const submit = (request: JobRequest, sink: Sink, signal?: AbortSignal, target?: number): void => {
    const refusal = closed
      ? new EngineError('ENGINE_FAILED', 'engine is closed')
      : signal?.aborted
        ? new EngineError('CANCELLED', 'request was cancelled')
        : slots.every((s) => running(s) >= lanes) && queue.length >= maxQueue
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
        const waiting = queue.indexOf(job);
        if (waiting >= 0) {
          queue.splice(waiting, 1);
          sink.reject(new EngineError('CANCELLED', 'request was cancelled'));
        }
        const at = laneOf(request.id);
        if (at) {
          // The caller hears at once; the job stops at its next check and holds its lane until then.
          Atomics.store(at.slot.cancel, at.lane, request.id);
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
        const held = laneOf(id);
        if (held) Atomics.store(held.slot.cancel, held.lane, id);
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
    get decodeBatches() {
      return { ...batches, sizes: { ...batches.sizes } };
    },
    stats(): EngineStats {
      const packages = new Set(slots.flatMap((s) => [...s.packages]));
      return { active: slots.reduce((n, s) => n + running(s), 0), queued: queue.length, packages: [...packages] };
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
              for (const [lane, j] of s.jobs.entries()) if (j) Atomics.store(s.cancel, lane, j.request.id);
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
