/**
 * One call from raw answers to every statistic the listening test reports: quality control
 * first, then MOS and similarity intervals, Bradley–Terry strengths with bootstrap
 * intervals, and Holm-corrected pairwise tests, all over trusted raters' votes only.
 */
import type { Answer, ItemId, ScoreVote } from '../types.ts';
import { type BootstrapOptions, type BradleyTerrySummary, bootstrapBradleyTerry } from './bootstrap.ts';
import { type MeanSummary, meanInterval } from './mean-interval.ts';
import { type HeadToHead, headToHead, pairwiseRatings, type RatingComparison } from './pairwise.ts';
import {
  assessRaters,
  DEFAULT_QUALITY_POLICY,
  type QualityPolicy,
  type RaterReport,
  validVotes,
} from './quality-control.ts';

export interface ItemRatings {
  item: ItemId;
  mos: MeanSummary;
  similarity: MeanSummary;
}

export interface ListeningStatistics {
  raters: RaterReport[];
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
}

function scoresOf(votes: readonly ScoreVote[], item: ItemId, kind: ScoreVote['kind']): number[] {
  return votes.filter((v) => v.item === item && v.kind === kind).map((v) => v.score);
}

export function computeStatistics(answers: readonly Answer[], options: StatisticsOptions = {}): ListeningStatistics {
  const policy = options.quality ?? DEFAULT_QUALITY_POLICY;
  const raters = assessRaters(answers, policy);
  const valid = validVotes(answers, raters, policy);
  const bradleyTerry = bootstrapBradleyTerry(valid.preferences, options.items ?? [], options.bootstrap);
  const items = [...new Set([...bradleyTerry.fit.items, ...valid.scores.map((s) => s.item)])];
  return {
    raters,
    validPreferenceVotes: valid.preferences.length,
    validScoreVotes: valid.scores.length,
    excludedVotes: valid.excluded,
    bradleyTerry,
    headToHead: headToHead(valid.preferences),
    ratings: items.map((item) => ({
      item,
      mos: meanInterval(scoresOf(valid.scores, item, 'mos')),
      similarity: meanInterval(scoresOf(valid.scores, item, 'similarity')),
    })),
    mosComparisons: pairwiseRatings(valid.scores, 'mos'),
    similarityComparisons: pairwiseRatings(valid.scores, 'similarity'),
  };
}
