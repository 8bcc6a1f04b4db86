/**
 * The job queue: dataset builds and training runs, claimed by workers with
 * `FOR UPDATE SKIP LOCKED` on the embedded database and on a Postgres server alike.
 *
 * Why not a queue library: pg-boss and graphile-worker each bring their own schema manager
 * and driver (node-postgres) and cannot run on PGlite's single in-process connection; neither
 * can enqueue inside the drizzle transaction that creates the dataset or run, which is what
 * makes "a dataset row exists" and "its build is queued" one fact. The whole queue is the
 * five statements below.
 *
 * A claim writes a fresh fencing token into `locked_by`. Every later write of the worker
 * (heartbeat, progress, completion, failure) names that token, so a worker whose lease ran
 * out (it hung, or was killed and its job re-claimed) can no longer touch the job: a job
 * never completes twice and never disappears.
 */
import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { jobs } from '../schema/training.ts';

export type Job = typeof jobs.$inferSelect;

/** What a worker holds while it runs a job. */
export type Lease = { jobId: number; token: string; attempt: number };

export async function enqueueJob(
  db: Db,
  values: { kind: string; payload: Record<string, unknown>; maxAttempts?: number; runAt?: Date },
): Promise<Job> {
  const [row] = await db
    .insert(jobs)
    .values({
      kind: values.kind,
      payload: values.payload,
      maxAttempts: values.maxAttempts ?? 3,
      ...(values.runAt ? { runAt: values.runAt } : {}),
    })
    .returning();
  if (!row) throw new Error('insert into jobs returned no row');
  return row;
}

export async function getJob(db: Db, id: number): Promise<Job | undefined> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, id)).limit(1);
  return row;
}

async function jobsById(db: Db, ids: number[]): Promise<Job[]> {
  return ids.length ? db.select().from(jobs).where(inArray(jobs.id, ids)) : [];
}

/**
 * Claims the oldest runnable job of the given kinds: a queued one whose time has come, or a
 * running one whose lease expired (its worker died). Jobs that already used every attempt
 * are failed first, so a job that kills its workers does not loop forever; they are returned
 * as `expired`, for the caller to mark what they were building as failed.
 */
export async function claimJob(
  db: Db,
  opts: { workerId: string; kinds: readonly string[]; leaseMs: number },
): Promise<{ job: Job; lease: Lease; expired: Job[] } | { job?: undefined; expired: Job[] }> {
  const kinds = sql.join(
    opts.kinds.map((k) => sql`${k}`),
    sql`, `,
  );
  const expired = await db.execute(sql`
    update jobs set status = 'failed', locked_by = null, finished_at = now(), updated_at = now(),
      last_error = coalesce(last_error, '') || 'the worker stopped answering on every attempt (' || attempts || ')'
    where status = 'running' and lease_until < now() and attempts >= max_attempts and kind in (${kinds})
    returning id`);
  const expiredJobs = await jobsById(
    db,
    rowsOf(expired).map((r) => Number(r.id)),
  );
  const token = `${opts.workerId}/${randomUUID()}`;
  const leaseSeconds = opts.leaseMs / 1000;
  const claimed = await db.execute(sql`
    update jobs set status = 'running', locked_by = ${token}, attempts = attempts + 1,
      lease_until = now() + make_interval(secs => ${leaseSeconds}), updated_at = now()
    where id = (
      select id from jobs
      where kind in (${kinds}) and not cancel_requested
        and ((status = 'queued' and run_at <= now()) or (status = 'running' and lease_until < now()))
      order by run_at, id
      for update skip locked
      limit 1)
    returning id`);
  const id = rowsOf(claimed)[0]?.id;
  const job = id === undefined ? undefined : await getJob(db, Number(id));
  if (!job) return { expired: expiredJobs };
  return { job, lease: { jobId: job.id, token, attempt: job.attempts }, expired: expiredJobs };
}

/**
 * Extends the lease and stores progress. Returns 'ok', 'cancel' (an owner asked to cancel:
 * the worker should stop and call `cancelledJob`), or 'lost' (another worker holds the job
 * now, or it ended: stop at once and write nothing more).
 */
export async function heartbeatJob(
  db: Db,
  lease: Lease,
  leaseMs: number,
  progress?: Record<string, unknown>,
): Promise<'ok' | 'cancel' | 'lost'> {
  const [row] = await db
    .update(jobs)
    .set({
      leaseUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})`,
      updatedAt: sql`now()`,
      ...(progress ? { progress } : {}),
    })
    .where(and(eq(jobs.id, lease.jobId), eq(jobs.lockedBy, lease.token), eq(jobs.status, 'running')))
    .returning({ cancel: jobs.cancelRequested });
  if (!row) return 'lost';
  return row.cancel ? 'cancel' : 'ok';
}

/**
 * Marks the job done, only while this lease holds it. Call it inside the transaction that
 * writes the job's results, and roll back when it returns false: the results of a worker
 * that lost its lease are never written.
 */
export async function completeJob(db: Db, lease: Lease): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({ status: 'done', lockedBy: null, leaseUntil: null, finishedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(jobs.id, lease.jobId), eq(jobs.lockedBy, lease.token), eq(jobs.status, 'running')))
    .returning({ id: jobs.id });
  return rows.length === 1;
}

/**
 * Records a failure. `retry` puts the job back in the queue (after `retryInMs`) while it has
 * attempts left; otherwise, or for errors that another try cannot fix, it fails for good.
 * `refundAttempt` requeues it without using up an attempt: the job did nothing wrong (the
 * database went away under it), so an outage never exhausts a job's attempts.
 * Returns the status the job ended in, or undefined when the lease was lost.
 */
export async function failJob(
  db: Db,
  lease: Lease,
  error: string,
  opts: { retry: boolean; retryInMs?: number; refundAttempt?: boolean },
): Promise<'queued' | 'failed' | undefined> {
  const refund = opts.retry && opts.refundAttempt === true;
  const [row] = await db
    .update(jobs)
    .set({
      status: refund
        ? 'queued'
        : opts.retry
          ? sql`case when attempts < max_attempts then 'queued' else 'failed' end`
          : 'failed',
      ...(refund ? { attempts: sql`greatest(${jobs.attempts} - 1, 0)` } : {}),
      runAt: sql`now() + make_interval(secs => ${(opts.retryInMs ?? 5000) / 1000})`,
      finishedAt: refund
        ? null
        : opts.retry
          ? sql`case when attempts < max_attempts then null else now() end`
          : sql`now()`,
      lockedBy: null,
      leaseUntil: null,
      lastError: error,
      updatedAt: sql`now()`,
    })
    .where(and(eq(jobs.id, lease.jobId), eq(jobs.lockedBy, lease.token), eq(jobs.status, 'running')))
    .returning({ status: jobs.status });
  return row?.status as 'queued' | 'failed' | undefined;
}

/** The worker stopped a job an owner cancelled. Inside the transaction that records it, like completeJob. */
export async function cancelledJob(db: Db, lease: Lease): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({ status: 'cancelled', lockedBy: null, leaseUntil: null, finishedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(jobs.id, lease.jobId), eq(jobs.lockedBy, lease.token), eq(jobs.status, 'running')))
    .returning({ id: jobs.id });
  return rows.length === 1;
}

/**
 * An owner cancels a job: a queued one ends at once ('cancelled'); a running one is asked to
 * stop ('requested') and ends when its worker next reports; a finished one is left ('ended').
 */
export async function requestCancel(db: Db, id: number): Promise<'cancelled' | 'requested' | 'ended' | 'missing'> {
  const [queued] = await db
    .update(jobs)
    .set({ status: 'cancelled', cancelRequested: true, finishedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(jobs.id, id), eq(jobs.status, 'queued')))
    .returning({ id: jobs.id });
  if (queued) return 'cancelled';
  const [running] = await db
    .update(jobs)
    .set({ cancelRequested: true, updatedAt: sql`now()` })
    .where(and(eq(jobs.id, id), eq(jobs.status, 'running')))
    .returning({ id: jobs.id });
  if (running) return 'requested';
  return (await getJob(db, id)) ? 'ended' : 'missing';
}

/** Puts a cancelled or failed job back in the queue (resume): its worker continues from what it left. */
export async function requeueJob(db: Db, id: number): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({
      status: 'queued',
      cancelRequested: false,
      attempts: 0,
      runAt: sql`now()`,
      finishedAt: null,
      lastError: null,
      updatedAt: sql`now()`,
    })
    .where(and(eq(jobs.id, id), sql`${jobs.status} in ('cancelled', 'failed')`))
    .returning({ id: jobs.id });
  return rows.length === 1;
}

// drizzle's execute gives postgres.js's row list itself, and PGlite's result object with `.rows`.
function rowsOf(result: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(result)) return result as Array<Record<string, unknown>>;
  return ((result as { rows?: unknown[] }).rows ?? []) as Array<Record<string, unknown>>;
}
