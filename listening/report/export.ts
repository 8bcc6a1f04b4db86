/**
 * Results as the API shows them: snake_case JSON (non-finite numbers become null, since
 * JSON has no Infinity) and CSV tables for spreadsheets.
 */
import type { TestResults } from '../service/results.ts';
import type { MeanSummary } from '../stats/mean-interval.ts';

const snakeKey = (k: string) => k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);

/** Deep copy with snake_case keys; NaN and ±Infinity become null. */
export function toSnake(value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toSnake);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [snakeKey(k), toSnake(v)]));
  }
  return value;
}

const mean = (m: (MeanSummary & { raters?: number }) | undefined) =>
  m
    ? { n: m.n, raters: m.raters ?? null, mean: m.mean, ci_low: m.ci.low, ci_high: m.ci.high }
    : { n: 0, raters: 0, mean: null, ci_low: null, ci_high: null };

/** One row per compared condition, every statistic side by side. */
export function itemRows(r: TestResults) {
  return r.conditions
    .filter((c) => c.kind === 'checkpoint' || c.kind === 'base' || c.kind === 'real')
    .map((c) => {
      const bt = r.naturalness.bradleyTerry.estimates.find((e) => e.item === c.id);
      const like = r.likeness.bradleyTerry.estimates.find((e) => e.item === c.id);
      const ratings = r.naturalness.ratings.find((x) => x.item === c.id);
      const btJson = (e: typeof bt) =>
        e
          ? {
              log_strength: e.logStrength,
              ci_low: e.ci.low,
              ci_high: e.ci.high,
              probability_best: e.probabilityBest,
              votes: e.votes,
            }
          : null;
      return {
        condition_id: c.id,
        kind: c.kind,
        label: c.label,
        checkpoint_id: c.checkpointId,
        incumbent: c.id === r.incumbent,
        naturalness_bt: btJson(bt),
        likeness_bt: btJson(like),
        mos: mean(ratings?.mos),
        similarity: mean(ratings?.similarity),
      };
    });
}

export function resultsJson(r: TestResults) {
  const d = r.decision;
  return toSnake({
    testId: r.test.id,
    status: r.test.status,
    votes: r.votes,
    excludedVotes: r.naturalness.excludedVotes + r.flaggedVotes,
    raters: r.raters,
    validPreferenceVotes: r.naturalness.validPreferenceVotes,
    validScoreVotes: r.naturalness.validScoreVotes,
    incumbent: r.incumbent,
    items: itemRows(r),
    headToHead: r.naturalness.headToHead,
    likenessHeadToHead: r.likeness.headToHead,
    mosComparisons: r.naturalness.mosComparisons,
    similarityComparisons: r.naturalness.similarityComparisons,
    quality: r.naturalness.raters.map((q) => ({
      raterId: q.raterId,
      status: q.status,
      reasons: q.reasons,
      gold: q.gold,
      trap: q.trap,
      fast: q.fast,
      side: q.side,
    })),
    decision: d
      ? d.promote
        ? { promote: true, settled: true, winner: d.winner, audit: d.audit }
        : { promote: false, settled: d.settled, reason: d.reason, audit: d.audit }
      : null,
  }) as Record<string, unknown>;
}

const cell = (v: unknown) => {
  const s = v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};
const csv = (header: string[], rows: unknown[][]) =>
  `${[header, ...rows].map((row) => row.map(cell).join(',')).join('\r\n')}\r\n`;

/** The first line of `itemsCsv`. */
export const ITEMS_CSV_HEADER = [
  'condition_id',
  'kind',
  'label',
  'checkpoint_id',
  'incumbent',
  'bt_log_strength',
  'bt_ci_low',
  'bt_ci_high',
  'bt_probability_best',
  'bt_votes',
  'likeness_bt_log_strength',
  'likeness_bt_ci_low',
  'likeness_bt_ci_high',
  'mos_n',
  'mos_mean',
  'mos_ci_low',
  'mos_ci_high',
  'similarity_n',
  'similarity_mean',
  'similarity_ci_low',
  'similarity_ci_high',
].join(',');

export function itemsCsv(r: TestResults): string {
  return csv(
    ITEMS_CSV_HEADER.split(','),
    itemRows(r).map((i) => [
      i.condition_id,
      i.kind,
      i.label,
      i.checkpoint_id,
      i.incumbent,
      i.naturalness_bt?.log_strength,
      i.naturalness_bt?.ci_low,
      i.naturalness_bt?.ci_high,
      i.naturalness_bt?.probability_best,
      i.naturalness_bt?.votes,
      i.likeness_bt?.log_strength,
      i.likeness_bt?.ci_low,
      i.likeness_bt?.ci_high,
      i.mos.n,
      i.mos.mean,
      i.mos.ci_low,
      i.mos.ci_high,
      i.similarity.n,
      i.similarity.mean,
      i.similarity.ci_low,
      i.similarity.ci_high,
    ]),
  );
}

/** Every stored vote, flagged raters' included (marked), for analysis elsewhere. */
export function votesCsv(r: TestResults): string {
  return csv(
    [
      'vote_id',
      'rater_id',
      'rater_flagged',
      'trial_id',
      'kind',
      'role',
      'sentence_index',
      'condition_a',
      'condition_b',
      'answer',
      'expected',
      'elapsed_ms',
      'played_ms',
      'audio_ms',
      'created_at',
    ],
    r.records.map((v) => [
      v.voteId,
      v.raterId,
      v.raterFlagged,
      v.trialId,
      v.kind,
      v.role,
      v.sentenceIndex,
      v.conditionA,
      v.conditionB,
      v.answer,
      v.expected,
      v.elapsedMs,
      v.playedMs,
      v.audioMs,
      v.createdAt.toISOString(),
    ]),
  );
}
