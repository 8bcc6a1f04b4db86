/**
 * Failures the listening service reports to its callers. The codes are the API's stable
 * error codes (api/errors.ts maps them one to one), so HTTP handlers need no translation table.
 */
export type ListeningErrorCode =
  | 'TEST_NOT_FOUND'
  | 'TEST_NOT_OPEN'
  | 'TEST_CLOSED'
  | 'TEST_NOT_READY'
  | 'VOICE_NOT_FOUND'
  | 'CHECKPOINT_NOT_FOUND'
  | 'INVITATION_NOT_FOUND'
  | 'RATER_TOKEN_INVALID'
  | 'HEADPHONE_CHECK_REQUIRED'
  | 'TRIAL_NOT_FOUND'
  | 'VOTE_REJECTED'
  | 'SESSION_INCOMPLETE'
  | 'COMPLETION_CODE_UNKNOWN'
  | 'COMPLETION_CODE_USED'
  | 'PROMOTION_NOT_JUSTIFIED'
  | 'NOTHING_TO_ROLL_BACK'
  | 'CONFLICT'
  | 'RENDERER_NOT_CONFIGURED'
  | 'AUDIO_INVALID'
  | 'VALIDATION_FAILED';

export class ListeningError extends Error {
  override name = 'ListeningError';
  readonly code: ListeningErrorCode;
  readonly field: string | undefined;
  readonly details: unknown;

  constructor(code: ListeningErrorCode, message: string, extra: { field?: string; details?: unknown } = {}) {
    super(message);
    this.code = code;
    this.field = extra.field;
    this.details = extra.details;
  }
}
