import { DEFAULT_PROMOTION_POLICY, type PromotionPolicy } from '../stats/promotion.ts';

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
  promotion_policy: Partial<PromotionPolicy>;
  /** Seeds the session designs and bootstrap, so every random choice can be reproduced. */
  seed: string;
};

export const configOf = (test: { config: Record<string, unknown> }) => test.config as unknown as TestConfig;

/**
 * A rater's session by default (about 8 minutes): 20 naturalness A/B trials where the decision
 * is made, 10 similarity A/B trials against the real recording for the similarity gate, a few
 * MOS and similarity ratings to report beside them, and the checks below.
 */
export const DEFAULT_TRIALS_PER_RATER: Readonly<Record<TrialKind, number>> = Object.freeze({
  ab_naturalness: 20,
  ab_similarity: 10,
  mos: 4,
  similarity: 4,
});

/**
 * Six gold trials (one slip allowed) and two traps (none allowed): a rater clicking at random
 * passes both with probability 7/64 × 1/4 ≈ 2.7 %, so at least 95 % are flagged (measured by
 * `npm run sim:listening`); with four gold trials about 8 % passed.
 */
export const DEFAULT_GOLD_PER_RATER = 6;
export const DEFAULT_TRAP_PER_RATER = 2;

/** The stored policy over the defaults; keys a test stored under an older rule are ignored. */
export function policyOf(config: TestConfig): PromotionPolicy {
  const stored = (config.promotion_policy ?? {}) as Partial<Record<keyof PromotionPolicy, unknown>>;
  const policy: PromotionPolicy = { ...DEFAULT_PROMOTION_POLICY };
  for (const key of Object.keys(policy) as (keyof PromotionPolicy)[]) {
    const v = stored[key];
    if (typeof v === 'number' && Number.isFinite(v)) policy[key] = v;
  }
  return policy;
}

/** Spoken instructions for trap trials: index 0 asks for sample A, 1 for sample B. */
export const TRAP_TEXTS = [
  'This is an attention check. Please choose sample A.',
  'This is an attention check. Please choose sample B.',
] as const;
