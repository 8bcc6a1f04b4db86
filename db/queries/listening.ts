import { and, asc, count, eq, gte, inArray, isNull, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Db } from '../client.ts';
import { conditions, listeningTests, raters, stimuli, type testStatuses, trials, votes } from '../schema/listening.ts';

export type ListeningTest = typeof listeningTests.$inferSelect;
export type TestStatus = (typeof testStatuses)[number];
export type Condition = typeof conditions.$inferSelect;
export type Stimulus = typeof stimuli.$inferSelect;
export type Rater = typeof raters.$inferSelect;
export type TrialRow = typeof trials.$inferSelect;
export type NewTrial = typeof trials.$inferInsert;
export type VoteRow = typeof votes.$inferSelect;

/** Creates a test with its conditions in one transaction. */
export async function insertListeningTest(
  db: Db,
  test: typeof listeningTests.$inferInsert,
  conditionRows: Omit<typeof conditions.$inferInsert, 'testId'>[],
): Promise<{ test: ListeningTest; conditions: Condition[] }> {
  return db.transaction(async (tx) => {
    const [row] = await tx.insert(listeningTests).values(test).returning();
    if (!row) throw new Error('insert into listening_tests returned no row');
    const conds = await tx
      .insert(conditions)
      .values(conditionRows.map((c) => ({ ...c, testId: row.id })))
      .returning();
    return { test: row, conditions: conds };
  });
}

export async function getListeningTest(db: Db, id: string): Promise<ListeningTest | undefined> {
  const [row] = await db.select().from(listeningTests).where(eq(listeningTests.id, id)).limit(1);
  return row;
}

/** The test an invitation link names (its code lives in the test's config). */
export async function findTestByInviteCode(db: Db, code: string): Promise<ListeningTest | undefined> {
  const [row] = await db
    .select()
    .from(listeningTests)
    .where(sql`${listeningTests.config}->>'invite_code' = ${code}`)
    .limit(1);
  return row;
}

export async function listListeningTests(db: Db, filter: { voiceId?: string } = {}): Promise<ListeningTest[]> {
  return db
    .select()
    .from(listeningTests)
    .where(filter.voiceId ? eq(listeningTests.voiceId, filter.voiceId) : undefined)
    .orderBy(asc(listeningTests.createdAt));
}

/** Moves a test to `to` only from one of `from`: two admins racing cannot both open or close it. */
export async function transitionTest(
  db: Db,
  id: string,
  from: readonly TestStatus[],
  to: TestStatus,
): Promise<ListeningTest | undefined> {
  const [row] = await db
    .update(listeningTests)
    .set({ status: to, ...(to === 'closed' ? { closedAt: new Date() } : {}) })
    .where(and(eq(listeningTests.id, id), inArray(listeningTests.status, [...from])))
    .returning();
  return row;
}

export async function listConditions(db: Db, testId: string): Promise<Condition[]> {
  return db.select().from(conditions).where(eq(conditions.testId, testId)).orderBy(asc(conditions.label));
}

export async function listStimuli(db: Db, testId: string): Promise<Stimulus[]> {
  return db
    .select()
    .from(stimuli)
    .where(eq(stimuli.testId, testId))
    .orderBy(asc(stimuli.conditionId), asc(stimuli.sentenceIndex));
}

export async function getStimulus(db: Db, id: string): Promise<Stimulus | undefined> {
  const [row] = await db.select().from(stimuli).where(eq(stimuli.id, id)).limit(1);
  return row;
}

/**
 * Stores a rendered clip; a second render of the same (condition, sentence) replaces it, so an
 * uploaded recording can be corrected before the test opens.
 */
export async function putStimulus(db: Db, values: typeof stimuli.$inferInsert): Promise<Stimulus> {
  const [row] = await db
    .insert(stimuli)
    .values(values)
    .onConflictDoUpdate({
      target: [stimuli.conditionId, stimuli.sentenceIndex],
      set: {
        text: values.text,
        seed: values.seed,
        audioPath: values.audioPath,
        sha256: values.sha256,
        durationS: values.durationS,
      },
    })
    .returning();
  if (!row) throw new Error('upsert into stimuli returned no row');
  return row;
}

export async function insertRater(db: Db, values: typeof raters.$inferInsert): Promise<Rater> {
  const [row] = await db.insert(raters).values(values).returning();
  if (!row) throw new Error('insert into raters returned no row');
  return row;
}

export async function findRaterByTokenHash(db: Db, tokenHash: string): Promise<Rater | undefined> {
  const [row] = await db.select().from(raters).where(eq(raters.tokenHash, tokenHash)).limit(1);
  return row;
}

export async function findRaterByWorker(db: Db, testId: string, workerId: string): Promise<Rater | undefined> {
  const [row] = await db
    .select()
    .from(raters)
    .where(and(eq(raters.testId, testId), eq(raters.workerId, workerId)))
    .orderBy(asc(raters.createdAt))
    .limit(1);
  return row;
}

export async function getRater(db: Db, id: string): Promise<Rater | undefined> {
  const [row] = await db.select().from(raters).where(eq(raters.id, id)).limit(1);
  return row;
}

export async function listRaters(db: Db, testId: string): Promise<Rater[]> {
  return db.select().from(raters).where(eq(raters.testId, testId)).orderBy(asc(raters.createdAt));
}

export async function updateRater(
  db: Db,
  id: string,
  patch: Partial<
    Pick<Rater, 'tokenHash' | 'consentedAt' | 'headphoneCheckPassedAt' | 'completedAt' | 'completionCode'>
  >,
): Promise<Rater | undefined> {
  const [row] = await db.update(raters).set(patch).where(eq(raters.id, id)).returning();
  return row;
}

/** Flags a rater once: the first reason stays, and the votes stay stored. */
export async function flagRater(db: Db, id: string, reason: string): Promise<void> {
  await db
    .update(raters)
    .set({ flaggedAt: new Date(), flagReason: reason })
    .where(and(eq(raters.id, id), isNull(raters.flaggedAt)));
}

/** Completes a session once; a second call returns the code the first one stored. */
export async function completeRater(db: Db, id: string, code: string): Promise<Rater | undefined> {
  await db
    .update(raters)
    .set({ completedAt: new Date(), completionCode: code })
    .where(and(eq(raters.id, id), isNull(raters.completedAt)));
  return getRater(db, id);
}

/**
 * Redeems a completion code of a test, once: the first call for a (code, worker) marks it and
 * returns the rater; a code already redeemed is 'used'; an unknown code, or a worker id other
 * than the rater's, is 'unknown' (the same answer, so it reveals nothing).
 */
export async function redeemCompletion(
  db: Db,
  testId: string,
  code: string,
  workerId: string | undefined,
): Promise<{ rater: Rater; outcome: 'redeemed' } | { outcome: 'used' | 'unknown' }> {
  const match = and(
    eq(raters.testId, testId),
    eq(raters.completionCode, code),
    workerId === undefined ? undefined : eq(raters.workerId, workerId),
  );
  const [row] = await db
    .update(raters)
    .set({ completionRedeemedAt: new Date() })
    .where(and(match, isNull(raters.completionRedeemedAt)))
    .returning();
  if (row) return { rater: row, outcome: 'redeemed' };
  const [seen] = await db.select({ id: raters.id }).from(raters).where(match).limit(1);
  return { outcome: seen ? 'used' : 'unknown' };
}

export async function insertTrials(db: Db, rows: NewTrial[]): Promise<TrialRow[]> {
  if (rows.length === 0) return [];
  return db.insert(trials).values(rows).returning();
}

export async function getTrial(db: Db, id: string): Promise<TrialRow | undefined> {
  const [row] = await db.select().from(trials).where(eq(trials.id, id)).limit(1);
  return row;
}

/** Trials answered and assigned, for the progress bar. */
export async function raterProgress(db: Db, raterId: string): Promise<{ answered: number; total: number }> {
  const [row] = await db
    .select({ total: count(trials.id), answered: count(votes.id) })
    .from(trials)
    .leftJoin(votes, eq(votes.trialId, trials.id))
    .where(eq(trials.raterId, raterId));
  return { answered: Number(row?.answered ?? 0), total: Number(row?.total ?? 0) };
}

/** The rater's first unanswered trial, marked as shown the first time it is handed out. */
export async function nextTrial(db: Db, raterId: string, now = new Date()): Promise<TrialRow | undefined> {
  const [row] = await db
    .select({ trial: trials })
    .from(trials)
    .leftJoin(votes, eq(votes.trialId, trials.id))
    .where(and(eq(trials.raterId, raterId), isNull(votes.id)))
    .orderBy(asc(trials.position))
    .limit(1);
  if (!row) return undefined;
  if (row.trial.servedAt) return row.trial;
  const [served] = await db
    .update(trials)
    .set({ servedAt: sql`coalesce(${trials.servedAt}, ${now.toISOString()}::timestamptz)` })
    .where(eq(trials.id, row.trial.id))
    .returning();
  return served ?? row.trial;
}

/**
 * Stores a vote unless the trial has one. `created` says whether this call stored it; when
 * it did not, `vote` is the one stored first, which a retry is compared against.
 */
export async function insertVote(
  db: Db,
  values: typeof votes.$inferInsert,
): Promise<{ vote: VoteRow; created: boolean }> {
  const [row] = await db.insert(votes).values(values).onConflictDoNothing({ target: votes.trialId }).returning();
  if (row) return { vote: row, created: true };
  const [existing] = await db.select().from(votes).where(eq(votes.trialId, values.trialId)).limit(1);
  if (!existing) throw new Error('vote neither inserted nor found');
  return { vote: existing, created: false };
}

export async function countVotes(db: Db, testId: string): Promise<number> {
  const [row] = await db
    .select({ n: count(votes.id) })
    .from(votes)
    .innerJoin(trials, eq(trials.id, votes.trialId))
    .where(eq(trials.testId, testId));
  return Number(row?.n ?? 0);
}

const stimA = alias(stimuli, 'stim_a');
const stimB = alias(stimuli, 'stim_b');
const stimRef = alias(stimuli, 'stim_ref');

/** A vote with everything the statistics need: its trial, the conditions heard, the audio lengths. */
export type VoteRecord = {
  voteId: string;
  raterId: string;
  raterFlagged: boolean;
  /** When the rater finished their session; null while it is still going. */
  raterCompletedAt: Date | null;
  trialId: string;
  kind: TrialRow['kind'];
  role: TrialRow['role'];
  expected: string | null;
  answer: string;
  playedMs: number | null;
  elapsedMs: number | null;
  sentenceIndex: number;
  conditionA: string;
  conditionB: string | null;
  audioMs: number;
  createdAt: Date;
};

/**
 * Every vote of a test (or of one rater, or stored at or after `since`), flagged raters'
 * included: callers decide what counts.
 */
export async function listVoteRecords(
  db: Db,
  filter: { testId: string; raterId?: string; since?: Date },
): Promise<VoteRecord[]> {
  const rows = await db
    .select({
      voteId: votes.id,
      raterId: votes.raterId,
      flaggedAt: raters.flaggedAt,
      raterCompletedAt: raters.completedAt,
      trialId: trials.id,
      kind: trials.kind,
      role: trials.role,
      expected: trials.expected,
      answer: votes.answer,
      playedMs: votes.playedMs,
      elapsedMs: votes.elapsedMs,
      sentenceIndex: stimA.sentenceIndex,
      conditionA: stimA.conditionId,
      conditionB: stimB.conditionId,
      durA: stimA.durationS,
      durB: stimB.durationS,
      durRef: stimRef.durationS,
      createdAt: votes.createdAt,
    })
    .from(votes)
    .innerJoin(trials, eq(trials.id, votes.trialId))
    .innerJoin(raters, eq(raters.id, votes.raterId))
    .innerJoin(stimA, eq(stimA.id, trials.stimulusA))
    .leftJoin(stimB, eq(stimB.id, trials.stimulusB))
    .leftJoin(stimRef, eq(stimRef.id, trials.referenceStimulus))
    .where(
      and(
        eq(trials.testId, filter.testId),
        filter.raterId ? eq(votes.raterId, filter.raterId) : undefined,
        filter.since ? gte(votes.createdAt, filter.since) : undefined,
      ),
    )
    .orderBy(asc(votes.createdAt), asc(votes.id));
  return rows.map(({ flaggedAt, durA, durB, durRef, ...r }) => ({
    ...r,
    raterFlagged: flaggedAt !== null,
    audioMs: Math.round(1000 * (durA + (durB ?? 0) + (durRef ?? 0))),
  }));
}

/** Raters who finished, for the admin's overview. */
export async function countRaters(
  db: Db,
  testId: string,
): Promise<{ total: number; completed: number; flagged: number }> {
  const [row] = await db
    .select({
      total: count(raters.id),
      completed: count(raters.completedAt),
      flagged: count(raters.flaggedAt),
    })
    .from(raters)
    .where(eq(raters.testId, testId));
  return { total: Number(row?.total ?? 0), completed: Number(row?.completed ?? 0), flagged: Number(row?.flagged ?? 0) };
}
