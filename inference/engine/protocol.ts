/** Messages between the engine (main thread) and its inference workers. */

import type { XttsOptions } from '../xtts/xtts.ts';
import type { AudioChunk, EngineErrorCode, SynthesisParams, VoiceConditioning } from './types.ts';

export type WorkerInit = {
  /** Options every package is loaded with (device, precision, threads, buckets...). */
  xtts: XttsOptions;
  /** Packages kept open per worker; the least recently used beyond this is released. */
  maxPackages: number;
  /** Bytes of graphs a worker keeps open; least recently used packages are released beyond it. */
  packageBudgetBytes: number;
  /** Int32 slot the engine sets to a job id to cancel it; read without waiting for the event loop. */
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

/** Finish the current job, release every session, and exit. */
export type WorkerCommand = { kind: 'close' };

export type WorkerReply =
  | { kind: 'ready' }
  | { kind: 'loaded'; packageDir: string; loaded: boolean }
  | { kind: 'voice'; id: number; voice: VoiceConditioning }
  | { kind: 'chunk'; id: number; chunk: AudioChunk }
  | { kind: 'rendered'; id: number; samples: Float32Array; sampleRate: number; codes: number[][] }
  | { kind: 'done'; id: number }
  | { kind: 'error'; id: number; code: EngineErrorCode; message: string; field: string | undefined };
