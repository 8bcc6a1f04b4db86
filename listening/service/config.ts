import type { PromotionPolicy } from '../stats/promotion.ts';

export type TrialKind = 'ab_naturalness' | 'ab_similarity' | 'mos' | 'similarity';

/** What a test stores in `listening_tests.config` (snake_case: it is shown as it is in the API). */
export type TestConfig = {
  language: string;
  /** Held-out sentences; each is rendered by every condition with its own fixed seed. */
  sentences: { text: string; seed: number }[];
  /** Trials of each kind in one rater's session. */
  trials_per_rater: Record<TrialKind, number>;
  gold_per_rater: number;
  trap_per_rater: number;
  invite_code: string;
  auto_promote: boolean;
  promotion_policy: PromotionPolicy;
  /** Seeds the session designs and bootstrap, so every random choice can be reproduced. */
  seed: string;
};

export const configOf = (test: { config: Record<string, unknown> }) => test.config as unknown as TestConfig;

/** Spoken instructions for trap trials: index 0 asks for sample A, 1 for sample B. */
export const TRAP_TEXTS = [
  'This is an attention check. Please choose sample A.',
  'This is an attention check. Please choose sample B.',
] as const;
