/** Typed audio input errors with stable codes an API can map to a status. */

export type AudioErrorCode = 'AUDIO_NOT_AUDIO' | 'AUDIO_CORRUPT' | 'AUDIO_TOO_SHORT' | 'AUDIO_SILENT';

export class AudioInputError extends Error {
  readonly code: AudioErrorCode;
  constructor(code: AudioErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AudioInputError';
    this.code = code;
  }
}
