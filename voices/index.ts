export { VoiceError } from './errors.ts';
export { packagePathIn, reconcileCheckpointKinds, registerModelDir, registerPackage } from './packages.ts';
export { stimulusRenderer } from './render.ts';
export { type PreparedSpeech, prepareSpeech } from './speech.ts';
export { audioErrorCode, audioInputError, createVoice, removeVoiceFiles, voicesDir } from './voices.ts';
