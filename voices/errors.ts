/**
 * Failures the voices module reports to its callers. The codes are the API's stable error
 * codes (api/errors.ts maps them one to one), so HTTP handlers need no translation table.
 */
export type VoiceErrorCode =
  | 'VALIDATION_FAILED'
  | 'VOICE_NOT_FOUND'
  | 'CHECKPOINT_NOT_FOUND'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_CORRUPT'
  | 'MODEL_FORMAT_UNSUPPORTED'
  | 'MODEL_NOT_READY'
  | 'LANGUAGE_UNSUPPORTED'
  | 'AUDIO_INVALID'
  | 'AUDIO_UNSUPPORTED'
  | 'AUDIO_HEADER_INVALID'
  | 'AUDIO_NOT_FINITE'
  | 'AUDIO_TOO_COMPLEX'
  | 'AUDIO_TOO_LONG'
  | 'AUDIO_TOO_SHORT'
  | 'AUDIO_SILENT'
  | 'AUDIO_NO_SPEECH'
  | 'OVERLOADED'
  | 'NOT_READY';

export class VoiceError extends Error {
  override name = 'VoiceError';
  readonly code: VoiceErrorCode;
  /** The request field at fault, as a dotted path (`body.language`, `body.clips.0`). */
  readonly field: string | undefined;
  /** For OVERLOADED: how long a caller should wait before trying again. */
  readonly retryAfterS: number | undefined;

  constructor(code: VoiceErrorCode, message: string, extra: { field?: string; retryAfterS?: number } = {}) {
    super(message);
    this.code = code;
    this.field = extra.field;
    this.retryAfterS = extra.retryAfterS;
  }
}
