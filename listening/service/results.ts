/**
 * From stored votes to the statistics: votes become the plain answers the statistics core
 * works on; raters flagged in the database (failed headphone check, failed checks while
 * voting) are left out, their votes counted as excluded but never deleted.
 */
import {
  type Condition,
  countRaters,
  type Db,
  getVoice,
  type ListeningTest,
  listConditions,
  listVoteRecords,
  type VoteRecord,
} from '../../db/index.ts';
import { decidePromotion, type PromotionDecision } from '../stats/promotion.ts';
import { computeStatistics, type ListeningStatistics } from '../stats/summary.ts';
import type { Answer, Side } from '../types.ts';
import { configOf } from './config.ts';

const side = (answer: string): Side | 'tie' => (answer === 'a' ? 'left' : answer === 'b' ? 'right' : 'tie');

/** Maps votes onto answers; `family` picks naturalness (A/B, MOS, similarity) or A/B likeness. */
export function toAnswers(records: readonly VoteRecord[], family: 'naturalness' | 'likeness'): Answer[] {
  const out: Answer[] = [];
  for (const r of records) {
    const timing = { raterId: r.raterId, responseMs: r.elapsedMs ?? 0, audioMs: r.audioMs };
    if (r.role === 'gold' || r.role === 'trap') {
      out.push({ ...timing, kind: r.role, expected: side(r.expected ?? 'a') as Side, choice: side(r.answer) });
    } else if (r.kind === (family === 'naturalness' ? 'ab_naturalness' : 'ab_similarity') && r.conditionB) {
      out.push({
        ...timing,
        kind: 'ab',
        sentenceId: String(r.sentenceIndex),
        left: r.conditionA,
        right: r.conditionB,
        choice: side(r.answer),
      });
    } else if (family === 'naturalness' && (r.kind === 'mos' || r.kind === 'similarity')) {
      out.push({
        ...timing,
        kind: r.kind,
        sentenceId: String(r.sentenceIndex),
        item: r.conditionA,
        score: Number(r.answer),
      });
    }
  }
  return out;
}

export type TestResults = {
  test: ListeningTest;
  conditions: Condition[];
  raters: { total: number; completed: number; flagged: number };
  votes: number;
  /** Votes of raters flagged in the database (kept, not counted). */
  flaggedVotes: number;
  naturalness: ListeningStatistics;
  likeness: ListeningStatistics;
  incumbent: string | null;
  decision: PromotionDecision | null;
  records: VoteRecord[];
};

/** The condition the voice speaks with now, else the base model: what a candidate must beat. */
export function incumbentOf(conditions: Condition[], voiceCheckpointId: string | null): string | null {
  const current = conditions.find(
    (c) => (c.kind === 'checkpoint' || c.kind === 'base') && c.checkpointId === voiceCheckpointId,
  );
  return (current ?? conditions.find((c) => c.kind === 'base'))?.id ?? null;
}

export async function computeResults(
  db: Db,
  test: ListeningTest,
  options: { replicates?: number } = {},
): Promise<TestResults> {
  const conditions = await listConditions(db, test.id);
  const records = await listVoteRecords(db, { testId: test.id });
  const counted = records.filter((r) => !r.raterFlagged);
  const comparable = conditions.filter((c) => c.kind === 'checkpoint' || c.kind === 'base' || c.kind === 'real');
  const config = configOf(test);
  const bootstrap = {
    seed: `${config.seed}/bootstrap`,
    replicates: options.replicates ?? 1000,
    unit: 'rater' as const,
  };
  const naturalness = computeStatistics(toAnswers(counted, 'naturalness'), {
    items: comparable.map((c) => c.id),
    bootstrap,
  });
  const likeness = computeStatistics(toAnswers(counted, 'likeness'), {
    items: comparable.filter((c) => c.kind !== 'real').map((c) => c.id),
    bootstrap,
  });
  const voice = await getVoice(db, test.voiceId);
  const incumbent = incumbentOf(conditions, voice?.checkpointId ?? null);
  const decision = incumbent
    ? decidePromotion(
        {
          bradleyTerry: naturalness.bradleyTerry,
          headToHead: naturalness.headToHead,
          totalVotes: naturalness.validPreferenceVotes,
          incumbent,
          candidates: conditions.filter((c) => c.kind === 'checkpoint').map((c) => c.id),
        },
        config.promotion_policy,
      )
    : null;
  return {
    test,
    conditions,
    raters: await countRaters(db, test.id),
    votes: records.length,
    flaggedVotes: records.length - counted.length,
    naturalness,
    likeness,
    incumbent,
    decision,
    records,
  };
}
