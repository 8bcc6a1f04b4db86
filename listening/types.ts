/**
 * The plain records the statistics work on. Storage and HTTP layers map their rows onto
 * these; nothing here knows about a database.
 *
 * An "item" is anything a listener can hear in a trial: a checkpoint id, the base model,
 * or the real recording used as an anchor.
 */
export type ItemId = string;
export type Side = 'left' | 'right';

/** Every answer carries its timing, so quality control can tell listening from clicking. */
export interface TimedAnswer {
  raterId: string;
  /** Milliseconds from the trial being shown to the answer being submitted. */
  responseMs: number;
  /** Total length of the audio the trial asks the rater to hear, in milliseconds. */
  audioMs: number;
}

/** One A/B preference: which of two renderings of the same sentence sounded better. */
export interface PreferenceVote extends TimedAnswer {
  kind: 'ab';
  sentenceId: string;
  left: ItemId;
  right: ItemId;
  choice: Side | 'tie';
}

/**
 * One absolute rating: "mos" is naturalness on a 1–5 scale; "similarity" is how much the
 * rendering sounds like the real speaker's reference recording, on the scale the page uses.
 */
export interface ScoreVote extends TimedAnswer {
  kind: 'mos' | 'similarity';
  sentenceId: string;
  item: ItemId;
  score: number;
}

/**
 * A quality-control answer. "gold": a real recording against a deliberately degraded copy,
 * the real one sits on `expected`. "trap": the audio itself instructs which side to pick.
 */
export interface CheckAnswer extends TimedAnswer {
  kind: 'gold' | 'trap';
  expected: Side;
  choice: Side | 'tie';
}

export type Answer = PreferenceVote | ScoreVote | CheckAnswer;

/** A closed interval [low, high]. */
export interface Interval {
  low: number;
  high: number;
}
