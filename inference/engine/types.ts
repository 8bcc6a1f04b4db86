/**
 * The engine's contract: what the API, the inference pods and the listening-test renderer
 * call. The in-process engine (worker threads over onnxruntime-node) and the pod pool (HTTP to
 * inference pods) both implement it, so callers never know which one they have.
 */

/** A voice computed once from its reference clips, for one model package, and cached. */
export type VoiceConditioning = {
  /** The model package it was computed with (its manifest's sha256). */
  packageKey: string;
  /** GPT conditioning latents, float32, shape `gptCondShape` ([1, 32, width]). */
  gptCondLatent: Float32Array;
  gptCondShape: number[];
  /** Speaker embedding for HiFi-GAN, float32, shape `speakerShape` ([1, 512, 1]). */
  speakerEmbedding: Float32Array;
  speakerShape: number[];
};

/** Sampling and rendering settings; unset fields take the model package's defaults. */
export type SynthesisParams = {
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  lengthPenalty: number;
  /** Playback speed, 0.25–4 (HiFi-GAN's input is stretched by 1/speed). */
  speed: number;
  /** Seed of the sampler's RNG: the same (package, text, voice, params, seed) gives the same audio. */
  seed: number;
  /** Stop end-of-utterance babble; off when exact parity with the reference is wanted. */
  babbleGuard: boolean;
};

export type SynthesisRequest = {
  /** Folder of the model package (a fine-tuned package names its base for the shared graphs). */
  packageDir: string;
  text: string;
  /** One of the package's languages, e.g. `en`, `zh-cn`. */
  language: string;
  voice: VoiceConditioning;
  params?: Partial<SynthesisParams>;
  /** Aborting stops generation and frees its worker. */
  signal?: AbortSignal;
};

export type AudioChunk = {
  /** Mono float32 samples in [-1, 1] at `sampleRate`. Chunks join without gaps or overlaps. */
  samples: Float32Array;
  sampleRate: number;
  /** 0, 1, 2, ... in order. */
  index: number;
  /** Whether this is the last chunk of the request. */
  final: boolean;
};

export type EngineStats = {
  /** Requests generating now. */
  active: number;
  /** Requests waiting for a worker. */
  queued: number;
  /** Model packages loaded, by folder. */
  packages: string[];
};

export interface Engine {
  /** Computes a voice from encoded reference clips (wav, flac, mp3, ogg bytes). */
  computeVoice(packageDir: string, clips: Uint8Array[]): Promise<VoiceConditioning>;
  /** Streams the audio for `text` chunk by chunk as it is made. */
  synthesize(request: SynthesisRequest): AsyncIterable<AudioChunk>;
  stats(): EngineStats;
  close(): Promise<void>;
}

/** Stable codes of engine failures; the API maps each to an HTTP status (api/errors.ts). */
export const engineErrorCodes = [
  'TEXT_EMPTY',
  'TEXT_TOO_LONG',
  'LANGUAGE_UNSUPPORTED',
  'PARAMS_INVALID',
  'AUDIO_INVALID',
  'AUDIO_TOO_SHORT',
  'AUDIO_SILENT',
  'MODEL_NOT_FOUND',
  'MODEL_CORRUPT',
  'MODEL_FORMAT_UNSUPPORTED',
  'VOICE_MISMATCH',
  'ENGINE_OVERLOADED',
  'ENGINE_FAILED',
  /** The model's output was non-finite or silent: refused rather than served. */
  'OUTPUT_INVALID',
  'CANCELLED',
] as const;
export type EngineErrorCode = (typeof engineErrorCodes)[number];

export class EngineError extends Error {
  override name = 'EngineError';
  readonly code: EngineErrorCode;
  /** The input at fault (`text`, `language`, `clips.0`, ...), when there is one. */
  readonly field: string | undefined;
  constructor(code: EngineErrorCode, message: string, field?: string) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

/** Serialises a voice for storage or the wire: float32 little-endian bytes plus shapes. */
export function voiceToBytes(v: VoiceConditioning): { gptCondLatent: Uint8Array; speakerEmbedding: Uint8Array } {
  const bytes = (a: Float32Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  return { gptCondLatent: bytes(v.gptCondLatent), speakerEmbedding: bytes(v.speakerEmbedding) };
}

export function voiceFromBytes(
  packageKey: string,
  gptCondLatent: Uint8Array,
  gptCondShape: number[],
  speakerEmbedding: Uint8Array,
  speakerShape: number[],
): VoiceConditioning {
  const floats = (b: Uint8Array, shape: number[], what: string) => {
    const n = shape.reduce((a, d) => a * d, 1);
    if (b.byteLength !== n * 4)
      throw new EngineError('VOICE_MISMATCH', `${what}: ${b.byteLength} bytes for shape [${shape}]`);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  return {
    packageKey,
    gptCondLatent: floats(gptCondLatent, gptCondShape, 'gptCondLatent'),
    gptCondShape,
    speakerEmbedding: floats(speakerEmbedding, speakerShape, 'speakerEmbedding'),
    speakerShape,
  };
}
