/** Messages between the engine (main thread) and its inference workers. */

import type { XttsOptions } from '../xtts/xtts.ts';
import type { AudioChunk, EngineErrorCode, SynthesisParams, VoiceConditioning } from './types.ts';

export type WorkerInit = {
  /** Options every package is loaded with (device, precision, threads, buckets...). */
  xtts: XttsOptions;
  /** Packages kept open per worker; the least recently used beyond this is released. */
  maxPackages: number;
  /** Seconds between `inference: times` lines (engine/phase-times.ts); 0: none. */
  profileSeconds: number;
  /** Bytes of graphs a worker keeps open; least recently used packages are released beyond it. */
  packageBudgetBytes: number;
  /**
   * One Int32 per lane (a job the worker runs at once with others); the engine sets a lane to its
   * job's id to cancel it, read without waiting for the event loop.
   */
  cancel: SharedArrayBuffer;
};

export type JobRequest =
  | { kind: 'voice'; id: number; packageDir: string; clips: Uint8Array[] }
  | {
      kind: 'synthesize' | 'render';
      id: number;
      packageDir: string;
      text: string;
      language: string;
      voice: VoiceConditioning;
      params?: Partial<SynthesisParams> | undefined;
    }
  | { kind: 'load'; id: number; packageDir: string };

/** A job as the worker gets it: with the lane (index into the cancel slots) it runs in. */
export type WorkerJob = JobRequest & { lane: number };

/** Finish the current jobs, release every session, and exit. */
export type WorkerCommand = { kind: 'close' };

export type WorkerReply =
  | { kind: 'ready' }
  | { kind: 'loaded'; packageDir: string; loaded: boolean }
  | { kind: 'voice'; id: number; voice: VoiceConditioning }
  | { kind: 'chunk'; id: number; chunk: AudioChunk }
  | { kind: 'rendered'; id: number; samples: Float32Array; sampleRate: number; codes: number[][] }
  | { kind: 'done'; id: number }
  /**
   * A decode run that advanced `size` generations at once (one per run, when several share a
   * worker); `graph`: the batched decode graph it ran (its file's name), null for the batch-1 graph in turn;
   * `native`: run through the native addon (XttsOptions.nativeBatch).
   */
  | { kind: 'batch'; size: number; graph: string | null; native: boolean }
  | { kind: 'error'; id: number; code: EngineErrorCode; message: string; field: string | undefined };
