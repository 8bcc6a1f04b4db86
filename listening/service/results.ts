/**
 * From stored votes to the statistics: votes become the plain answers the statistics core
 * works on; raters flagged in the database (failed headphone check, failed checks while
 * voting) are left out, their votes counted as excluded but never deleted.
 */
import {
  type Condition,
  type Db,
  getVoice,
  type ListeningTest,
  listConditions,
  listRaters,
  listStimuli,
  listVoteRecords,
  type Rater,
  type VoteRecord,
} from '../../db/index.ts';
import { decidePromotion, type PromotionDecision } from '../stats/promotion.ts';
import { computeStatistics, type ListeningStatistics } from '../stats/summary.ts';
import type { Answer, Side } from '../types.ts';
import { configOf, policyOf, type TestConfig } from './config.ts';

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
  /** Raters flagged in the database (headphone check, checks failed while voting), with the stored reason. */
  flaggedRaters: { raterId: string; reason: string }[];
};

/** The condition the voice speaks with now, else the base model: what a candidate must beat. */
export function incumbentOf(conditions: Condition[], voiceCheckpointId: string | null): string | null {
  const current = conditions.find(
    (c) => (c.kind === 'checkpoint' || c.kind === 'base') && c.checkpointId === voiceCheckpointId,
  );
  return (current ?? conditions.find((c) => c.kind === 'base'))?.id ?? null;
}

export type Evaluation = Pick<TestResults, 'naturalness' | 'likeness' | 'decision'>;

/**
 * From stored votes to statistics and the promotion decision, with no database: the service
 * and the simulated crowd (sim/crowd.ts) both call this, so the simulator tests exactly what
 * production decides.
 *
 * Rater quality is judged once per rater over all their answers (checks, A/B, ratings) and
 * applies to both families; the decision sees only raters who are trusted and have completed
 * their session, in the order they completed.
 */
export function evaluateVotes(
  records: readonly VoteRecord[],
  context: {
    conditions: readonly Pick<Condition, 'id' | 'kind'>[];
    config: TestConfig;
    incumbent: string | null;
    /** Whether the test can measure similarity (it has real recordings to play as the reference). */
    similarityMeasured: boolean;
    /** Bootstrap replicates for the report's Bradley–Terry intervals (0: point fits only). */
    replicates: number;
  },
): Evaluation {
  const counted = records.filter((r) => !r.raterFlagged);
  const comparable = context.conditions.filter(
    (c) => c.kind === 'checkpoint' || c.kind === 'base' || c.kind === 'real',
  );
  const bootstrap = {
    seed: `${context.config.seed}/bootstrap`,
    replicates: context.replicates,
    unit: 'rater' as const,
  };
  const naturalness = computeStatistics(toAnswers(counted, 'naturalness'), {
    items: comparable.map((c) => c.id),
    bootstrap,
  });
  // Similarity A/B is judged per rater against the incumbent (the decision's own share and
  // interval); its Bradley–Terry fit is a point estimate only, which halves the report's cost.
  const likeness = computeStatistics(toAnswers(counted, 'likeness'), {
    items: comparable.filter((c) => c.kind !== 'real').map((c) => c.id),
    bootstrap: { ...bootstrap, replicates: 0 },
    raters: naturalness.raters,
  });
  const incumbent = context.incumbent;
  if (!incumbent) return { naturalness, likeness, decision: null };

  const trusted = new Set(naturalness.raters.filter((q) => q.status === 'trusted').map((q) => q.raterId));
  const completedAt = new Map<string, number>();
  for (const r of counted) if (r.raterCompletedAt) completedAt.set(r.raterId, r.raterCompletedAt.getTime());
  const order = [...completedAt.entries()]
    .filter(([id]) => trusted.has(id))
    .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
    .map(([id]) => id);
  const done = new Set(order);
  const perRater = context.config.trials_per_rater;
  const use = perRater.ab_similarity > 0 ? 'ab' : perRater.similarity > 0 ? 'ratings' : null;
  const decision = decidePromotion(
    {
      naturalness: naturalness.valid.preferences.filter((v) => done.has(v.raterId)),
      similarity:
        use && context.similarityMeasured
          ? {
              use,
              ab: likeness.valid.preferences.filter((v) => done.has(v.raterId)),
              ratings: naturalness.valid.scores.filter((v) => done.has(v.raterId)),
            }
          : null,
      raterOrder: order,
      bradleyTerry: naturalness.bradleyTerry.fit,
      incumbent,
      candidates: context.conditions.filter((c) => c.kind === 'checkpoint' && c.id !== incumbent).map((c) => c.id),
    },
    policyOf(context.config),
  );
  return { naturalness, likeness, decision };
}

/**
 * Votes are append-only, so a test's records are kept in memory between requests and only the
 * votes stored since are read again: the last minute before the newest vote seen is re-read
 * and merged by id, which covers a vote whose transaction started (and so got its timestamp)
 * before a vote that committed first. Rater state (flagged, completed) is always read afresh
 * and applied to the cached rows. The evaluation itself is reused while nothing it depends on
 * changed. Per database handle, so tests on separate databases never share an entry.
 */
type CachedTest = {
  records: VoteRecord[];
  byId: Set<string>;
  newest: number;
  /** By bootstrap replicates (joining raters ask for none, the report for 1,000): key and evaluation. */
  evaluations: Map<number, { key: string; evaluation: Evaluation }>;
};
const cache = new WeakMap<Db, Map<string, CachedTest>>();
const OVERLAP_MS = 60_000;
const MAX_CACHED_TESTS = 16;

async function recordsOf(db: Db, testId: string, raters: Rater[]): Promise<CachedTest> {
  let tests = cache.get(db);
  if (!tests) {
    tests = new Map();
    cache.set(db, tests);
  }
  let entry = tests.get(testId);
  const since = entry ? new Date(entry.newest - OVERLAP_MS) : undefined;
  const fresh = await listVoteRecords(db, { testId, ...(since ? { since } : {}) });
  if (!entry) {
    entry = { records: [], byId: new Set(), newest: 0, evaluations: new Map() };
    tests.delete(testId);
    tests.set(testId, entry);
    if (tests.size > MAX_CACHED_TESTS) tests.delete(tests.keys().next().value as string);
  }
  let added = 0;
  for (const r of fresh) {
    if (entry.byId.has(r.voteId)) continue;
    entry.byId.add(r.voteId);
    entry.records.push(r);
    entry.newest = Math.max(entry.newest, r.createdAt.getTime());
    added++;
  }
  // Stored order: by time, then id, as the query returns them.
  if (added > 0) {
    entry.records.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.voteId < b.voteId ? -1 : 1));
  }
  const state = new Map(raters.map((r) => [r.id, r]));
  for (const r of entry.records) {
    const rater = state.get(r.raterId);
    r.raterFlagged = rater?.flaggedAt != null;
    r.raterCompletedAt = rater?.completedAt ?? null;
  }
  return entry;
}

export async function computeResults(
  db: Db,
  test: ListeningTest,
  options: { replicates?: number } = {},
): Promise<TestResults> {
  const [conditions, stimuli, voice, raterRows] = await Promise.all([
    listConditions(db, test.id),
    listStimuli(db, test.id),
    getVoice(db, test.voiceId),
    listRaters(db, test.id),
  ]);
  const cached = await recordsOf(db, test.id, raterRows);
  const records = cached.records;
  const incumbent = incumbentOf(conditions, voice?.checkpointId ?? null);
  const real = new Set(conditions.filter((c) => c.kind === 'real').map((c) => c.id));
  const similarityMeasured = stimuli.some((s) => real.has(s.conditionId));
  const replicates = options.replicates ?? 1000;
  const key = JSON.stringify([
    records.length,
    raterRows.map((r) => [r.id, r.flaggedAt?.getTime() ?? 0, r.completedAt?.getTime() ?? 0]),
    conditions.map((c) => c.id),
    incumbent,
    similarityMeasured,
    test.config,
  ]);
  let hit = cached.evaluations.get(replicates);
  if (hit?.key !== key) {
    hit = {
      key,
      evaluation: evaluateVotes(records, {
        conditions,
        config: configOf(test),
        incumbent,
        similarityMeasured,
        replicates,
      }),
    };
    cached.evaluations.set(replicates, hit);
  }
  const flagged = raterRows.filter((r) => r.flaggedAt);
  return {
    test,
    conditions,
    raters: {
      total: raterRows.length,
      completed: raterRows.filter((r) => r.completedAt).length,
      flagged: flagged.length,
    },
    votes: records.length,
    flaggedVotes: records.filter((r) => r.raterFlagged).length,
    ...hit.evaluation,
    incumbent,
    records,
    flaggedRaters: flagged.map((r) => ({ raterId: r.id, reason: r.flagReason ?? 'flagged' })),
  };
}
