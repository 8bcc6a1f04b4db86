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
