import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { conditions, listeningTests } from '../schema/listening.ts';
import { jobs } from '../schema/training.ts';

/** The job that renders, pre-screens and opens a run's listening test (api/prescreen.ts). */
export const PRESCREEN_JOB = 'prescreen.run';

/** The newest pre-screen job of a test (its progress is the test's preparation), if any. */
export async function latestPrescreenJob(db: Db, testId: string) {
  const [row] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.kind, PRESCREEN_JOB), sql`${jobs.payload}->>'testId' = ${testId}`))
    .orderBy(desc(jobs.id))
    .limit(1);
  return row;
}

/** A training run's pre-screen jobs (one per listening test made for it), oldest first. */
export async function listRunPrescreenJobs(db: Db, runId: string) {
  return db
    .select()
    .from(jobs)
    .where(and(eq(jobs.kind, PRESCREEN_JOB), sql`${jobs.payload}->>'runId' = ${runId}`))
    .orderBy(asc(jobs.id));
}

/**
 * Leaves conditions out of a test that no rater has seen yet (draft or rendering): their rendered
 * stimuli go with them (cascade); the pre-screen record on the test keeps why. Returns how many
 * were removed; none when the test has opened meanwhile.
 */
export async function dropDraftConditions(db: Db, testId: string, conditionIds: string[]): Promise<number> {
  if (conditionIds.length === 0) return 0;
  return db.transaction(async (tx) => {
    const [test] = await tx
      .select({ status: listeningTests.status })
      .from(listeningTests)
      .where(eq(listeningTests.id, testId))
      .for('update');
    if (!test || (test.status !== 'draft' && test.status !== 'rendering')) return 0;
    const rows = await tx
      .delete(conditions)
      .where(and(eq(conditions.testId, testId), inArray(conditions.id, conditionIds)))
      .returning({ id: conditions.id });
    return rows.length;
  });
}

/** Stores the pre-screen's scores and verdicts in the test's config (key `prescreen`). */
export async function setTestPrescreen(db: Db, testId: string, record: Record<string, unknown>): Promise<void> {
  await db
    .update(listeningTests)
    .set({ config: sql`${listeningTests.config} || jsonb_build_object('prescreen', ${JSON.stringify(record)}::jsonb)` })
    .where(eq(listeningTests.id, testId));
}
