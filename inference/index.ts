export { type AudioWarning, analyseReference, type ReferenceReport } from './audio/analyse.ts';
export { type DecodeOptions, decodeAudio, decodeSource, type Mono, VOICE_CONTAINERS } from './audio/decode.ts';
export type { AudioErrorCode } from './audio/errors.ts';
export { AudioInputError } from './audio/errors.ts';
export { conditioningMel } from './audio/mel.ts';
export type { AudioInput, PreparedRecording, PreparedReference } from './audio/prepare.ts';
export {
  type AudioInfo,
  type ByteSource,
  bufferSource,
  type Container,
  probeAudio,
  sniffContainer,
} from './audio/probe.ts';
export { GPT_SAMPLE_RATE, loadReference, SPEAKER_SAMPLE_RATE, toSpeakerRate } from './audio/reference.ts';
export { resample } from './audio/resample.ts';
export {
  type AudioSandbox,
  type AudioSandboxOptions,
  createAudioSandbox,
  SandboxBusyError,
  SandboxCancelledError,
} from './audio/sandbox.ts';
export { encodeFloatWav, encodeWav, toPcm16 } from './audio/wav.ts';
export {
  AUDIO_FORMATS,
  type AudioFormat,
  CONTENT_TYPES,
  createEncoder,
  type EncoderOptions,
  encodeAudio,
  type StreamEncoder,
} from './encode/encoders.ts';
export { collectSamples } from './engine/collect.ts';
export { createEngine, type EngineOptions, engineOptions, type LocalEngine, type Rendered } from './engine/engine.ts';
export {
  type AudioChunk,
  type Engine,
  EngineError,
  type EngineErrorCode,
  type EngineStats,
  engineErrorCodes,
  type SynthesisParams,
  type SynthesisRequest,
  type VoiceConditioning,
  voiceFromBytes,
  voiceToBytes,
} from './engine/types.ts';
export {
  type GenerationConfig,
  type GenerationConfigInput,
  GenerationConfigSchema,
  generationConfig,
  SAMPLING_DEFAULTS,
} from './generation/config.ts';
export {
  firstStop,
  maxNewTokens,
  repeatRun,
  type StoppingCriterion,
  type StopReason,
  stopToken,
  tooLongForText,
} from './generation/stopping.ts';
export { Limiter } from './pod/limiter.ts';
export { createPodPool, type PodState, type PoolOptions } from './pod/pool.ts';
export { createPodApp, type PodOptions } from './pod/server.ts';
export { preprocessText } from './text/cleaners.ts';
export { charLimit, LANGUAGES, type Language, UnsupportedLanguageError } from './text/languages.ts';
export { splitSentences } from './text/sentences.ts';
export { MAX_TEXT_TOKENS, TextTooLongError, VoiceTokenizer } from './text/tokenizer.ts';
export { hasManifest, type Manifest, readManifest, readManifestJson } from './xtts/manifest.ts';
export { loadPackage, type ModelPackage, type PackageOptions, type Precision } from './xtts/package.ts';
export { type SynthesisInput, Xtts, type XttsOptions } from './xtts/xtts.ts';
