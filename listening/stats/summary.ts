/**
 * One call from raw answers to every statistic the listening test reports: quality control
 * first, then MOS and similarity intervals, Bradley–Terry strengths with bootstrap
 * intervals, and Holm-corrected pairwise tests, all over trusted raters' votes only.
 */
import type { Answer, ItemId } from '../types.ts';
import { type BootstrapOptions, type BradleyTerrySummary, bootstrapBradleyTerry } from './bootstrap.ts';
import { type HeadToHead, headToHead, pairwiseRatings, type RatingComparison } from './pairwise.ts';
import {
  assessRaters,
  DEFAULT_QUALITY_POLICY,
  type QualityPolicy,
  type RaterReport,
  type ValidVotes,
  validVotes,
} from './quality-control.ts';
import { type ClusteredMean, itemRating } from './raters.ts';

export interface ItemRatings {
  item: ItemId;
  /** Clustered by rater (raters.ts). */
  mos: ClusteredMean;
  similarity: ClusteredMean;
}

export interface ListeningStatistics {
  raters: RaterReport[];
  /** Trusted raters' A/B votes and ratings: what every statistic here is computed from. */
  valid: ValidVotes;
  validPreferenceVotes: number;
  validScoreVotes: number;
  excludedVotes: number;
  bradleyTerry: BradleyTerrySummary;
  headToHead: HeadToHead[];
  ratings: ItemRatings[];
  mosComparisons: RatingComparison[];
  similarityComparisons: RatingComparison[];
}

export interface StatisticsOptions {
  /** Items to report even before they have votes (their intervals are then wide). */
  items?: readonly ItemId[];
  quality?: QualityPolicy;
  bootstrap?: BootstrapOptions;
  /** Rater reports judged elsewhere (over all of a rater's answers); when absent, judged from these answers. */
  raters?: readonly RaterReport[];
}

export function computeStatistics(answers: readonly Answer[], options: StatisticsOptions = {}): ListeningStatistics {
  const policy = options.quality ?? DEFAULT_QUALITY_POLICY;
  const raters = options.raters ? [...options.raters] : assessRaters(answers, policy);
  const valid = validVotes(answers, raters, policy);
  const bradleyTerry = bootstrapBradleyTerry(valid.preferences, options.items ?? [], options.bootstrap);
  const items = [...new Set([...bradleyTerry.fit.items, ...valid.scores.map((s) => s.item)])];
  return {
    raters,
    valid,
    validPreferenceVotes: valid.preferences.length,
    validScoreVotes: valid.scores.length,
    excludedVotes: valid.excluded,
    bradleyTerry,
    headToHead: headToHead(valid.preferences),
    ratings: items.map((item) => ({
      item,
      mos: itemRating(valid.scores, item, 'mos'),
      similarity: itemRating(valid.scores, item, 'similarity'),
    })),
    mosComparisons: pairwiseRatings(valid.scores, 'mos'),
    similarityComparisons: pairwiseRatings(valid.scores, 'similarity'),
  };
}
