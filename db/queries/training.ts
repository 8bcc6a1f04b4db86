import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { trainingMetrics, trainingRuns } from '../schema/training.ts';
import { cancelledJob, completeJob, enqueueJob, type Lease } from './jobs.ts';

export type TrainingRun = typeof trainingRuns.$inferSelect;
export type TrainingMetric = typeof trainingMetrics.$inferSelect;
export type NewTrainingMetric = Omit<typeof trainingMetrics.$inferInsert, 'runId'>;

export const TRAINING_RUN_JOB = 'training.run';

/** Creates a run and queues it, in one transaction. */
export async function createRunWithJob(
  db: Db,
  values: Omit<typeof trainingRuns.$inferInsert, 'status' | 'jobId'>,
): Promise<TrainingRun> {
  return db.transaction(async (tx) => {
    const [run] = await tx
      .insert(trainingRuns)
      .values({ ...values, status: 'queued' })
      .returning();
    if (!run) throw new Error('insert into training_runs returned no row');
    // A training run survives a lost worker by resuming from its checkpoint; a few more tries than a build.
    const job = await enqueueJob(tx as Db, { kind: TRAINING_RUN_JOB, payload: { runId: run.id }, maxAttempts: 5 });
    const [withJob] = await tx
      .update(trainingRuns)
      .set({ jobId: job.id })
      .where(eq(trainingRuns.id, run.id))
      .returning();
    return withJob ?? run;
  });
}

export async function getRun(db: Db, id: string): Promise<TrainingRun | undefined> {
  const [row] = await db.select().from(trainingRuns).where(eq(trainingRuns.id, id)).limit(1);
  return row;
}

export async function listRuns(db: Db, filter: { datasetId?: string; voiceId?: string } = {}): Promise<TrainingRun[]> {
  return db
    .select()
    .from(trainingRuns)
    .where(
      and(
        filter.datasetId ? eq(trainingRuns.datasetId, filter.datasetId) : undefined,
        filter.voiceId ? eq(trainingRuns.voiceId, filter.voiceId) : undefined,
      ),
    )
    .orderBy(desc(trainingRuns.createdAt));
}

export async function updateRun(
  db: Db,
  id: string,
  values: Partial<Pick<TrainingRun, 'status' | 'progress' | 'listeningTestId' | 'errorCode' | 'error'>> & {
    started?: boolean;
  },
): Promise<void> {
  const { started, ...rest } = values;
  await db
    .update(trainingRuns)
    .set({ ...rest, ...(started ? { startedAt: sql`coalesce(${trainingRuns.startedAt}, now())` } : {}) })
    .where(eq(trainingRuns.id, id));
}

export async function addMetrics(db: Db, runId: string, rows: NewTrainingMetric[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insert(trainingMetrics).values(rows.map((r) => ({ ...r, runId })));
}

/**
 * Drops a run's loss-curve rows past `step` (all of them for -1): a resumed trainer runs those
 * steps again, so the rows a killed attempt logged for them would otherwise be there twice.
 */
export async function deleteMetricsAfter(db: Db, runId: string, step: number): Promise<number> {
  const gone = await db
    .delete(trainingMetrics)
    .where(and(eq(trainingMetrics.runId, runId), gt(trainingMetrics.step, step)))
    .returning({ id: trainingMetrics.id });
  return gone.length;
}

export async function listMetrics(db: Db, runId: string): Promise<TrainingMetric[]> {
  return db
    .select()
    .from(trainingMetrics)
    .where(eq(trainingMetrics.runId, runId))
    .orderBy(asc(trainingMetrics.kind), asc(trainingMetrics.step), asc(trainingMetrics.id));
}

/** Ends a run with its job, in one transaction that commits only while the worker holds the lease. */
export async function finishRun(
  db: Db,
  lease: Lease,
  id: string,
  outcome: 'succeeded' | 'cancelled',
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const ok = outcome === 'succeeded' ? await completeJob(tx as Db, lease) : await cancelledJob(tx as Db, lease);
    if (!ok) return false;
    await tx.update(trainingRuns).set({ status: outcome, finishedAt: sql`now()` }).where(eq(trainingRuns.id, id));
    return true;
  });
}
