/** Typed audio input errors with stable codes an API can map to a status. */

export type AudioErrorCode =
  /** Not a container we read (text, an image, random bytes). */
  | 'AUDIO_NOT_AUDIO'
  /** A container we recognise but do not take here (M4A as a voice clip). */
  | 'AUDIO_UNSUPPORTED'
  /** A header field outside the sane ranges (sample rate, channels, bit depth, sizes). */
  | 'AUDIO_HEADER_INVALID'
  /** The data does not decode. */
  | 'AUDIO_CORRUPT'
  /** NaN or infinite samples (float WAV). */
  | 'AUDIO_NOT_FINITE'
  /** Decoding took longer than its budget. */
  | 'AUDIO_TOO_COMPLEX'
  /** Longer than a recording kept whole may be. */
  | 'AUDIO_TOO_LONG'
  | 'AUDIO_TOO_SHORT'
  | 'AUDIO_SILENT'
  /** Sound, but nothing that looks like speech (noise, a tone). */
  | 'AUDIO_NO_SPEECH';

export class AudioInputError extends Error {
  readonly code: AudioErrorCode;
  constructor(code: AudioErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AudioInputError';
    this.code = code;
  }
}
