export { decodeAudio } from './audio/decode.ts';
export { AudioInputError } from './audio/errors.ts';
export type { PreparedReference } from './audio/prepare.ts';
export { probeAudio } from './audio/probe.ts';
export { resample } from './audio/resample.ts';
export { type AudioSandbox, createAudioSandbox, SandboxBusyError, SandboxCancelledError } from './audio/sandbox.ts';
export { encodeWav } from './audio/wav.ts';
export {
  AUDIO_FORMATS,
  type AudioFormat,
  CONTENT_TYPES,
  createEncoder,
  encodeAudio,
  type StreamEncoder,
} from './encode/encoders.ts';
export { collectSamples } from './engine/collect.ts';
export { createEngine, engineOptions } from './engine/engine.ts';
export {
  type AudioChunk,
  type Engine,
  EngineError,
  type EngineErrorCode,
  type SynthesisParams,
  type SynthesisRequest,
  type VoiceConditioning,
  voiceFromBytes,
  voiceToBytes,
} from './engine/types.ts';
export { SAMPLING_DEFAULTS } from './generation/config.ts';
export { Limiter } from './pod/limiter.ts';
export { createPodPool, type PodState } from './pod/pool.ts';
export { createPodApp } from './pod/server.ts';
export { readManifestJson } from './xtts/manifest.ts';
export { loadPackage } from './xtts/package.ts';
