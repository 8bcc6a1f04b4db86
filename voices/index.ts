export { VoiceError, type VoiceErrorCode } from './errors.ts';
export { packagePathIn, reconcileCheckpointKinds, registerModelDir, registerPackage } from './packages.ts';
export { stimulusRenderer } from './render.ts';
export { type PreparedSpeech, prepareSpeech, type SpeechDeps, type SpeechInput } from './speech.ts';
export {
  audioErrorCode,
  audioInputError,
  createVoice,
  removeVoiceFiles,
  type Upload,
  type VoiceDeps,
  voicesDir,
} from './voices.ts';
