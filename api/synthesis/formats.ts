// Output formats come from the engine's encoders (inference/encode); the API only picks one.
export {
  AUDIO_FORMATS as audioFormats,
  type AudioFormat,
  CONTENT_TYPES as contentTypes,
  createEncoder,
  encodeAudio,
  type StreamEncoder,
} from '../../inference/index.ts';
